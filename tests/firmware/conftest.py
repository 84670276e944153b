"""Fixtures of the firmware tests: the firmware modules (fw_loader.py) and the conformance Env;
every conformance check becomes one parametrized test."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from fw_loader import CHECK_NAMES, CONFORMANCE, load_firmware


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "check_name" in metafunc.fixturenames:
        metafunc.parametrize("check_name", CHECK_NAMES)


@pytest.fixture
def fw() -> SimpleNamespace:
    return load_firmware()


@pytest.fixture
def env(fw: SimpleNamespace, tmp_path: Path) -> object:
    """The conformance Env: the firmware modules under test, the fake machine, a tmp dir."""
    return CONFORMANCE.Env(fw.rigboard, fw.linebuf, fw.machine, fw.main, str(tmp_path))
