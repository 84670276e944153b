"""Every check of firmware/tests-mp/conformance.py, under CPython (the same checks also run
under real MicroPython: test_fw_micropython.py)."""

from __future__ import annotations

from fw_loader import CONFORMANCE


def test_conformance(check_name: str, env: object) -> None:
    check = dict(CONFORMANCE.checks(env))[check_name]
    check(env)
