"""Loads the board firmware under CPython: its modules from firmware/ under private names, and
a fake `machine` (firmware/tests-mp/fake_machine.py, shared with the MicroPython run) standing
in for the Pico.

Nothing is left in sys.modules under the firmware's bare names (`main`, `machine`, `pinmap`...):
they are put there only while main.py is being imported, so no other test can pick them up.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

REPO = Path(__file__).resolve().parents[2]
FIRMWARE = REPO / "firmware"
TESTS_MP = FIRMWARE / "tests-mp"


def load(path: Path, name: str) -> ModuleType:
    """Execute one firmware file as a fresh module called `name` (not put in sys.modules)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class MicropythonStub(ModuleType):
    """`micropython` as main.py uses it: kbd_intr() calls land in the fake machine's log."""

    def __init__(self, machine: ModuleType) -> None:
        super().__init__("micropython")
        self._machine = machine

    def kbd_intr(self, char: int) -> None:
        self._machine.log.append((self._machine.clock.now, "kbd_intr", 0, char))


def load_firmware() -> SimpleNamespace:
    """rigboard, linebuf, pinmap, the fake machine and main.py wired to them."""
    rigboard = load(FIRMWARE / "rigboard.py", "_fw_rigboard")
    linebuf = load(FIRMWARE / "linebuf.py", "_fw_linebuf")
    pinmap = load(FIRMWARE / "pinmap.py", "_fw_pinmap")
    machine = load(TESTS_MP / "fake_machine.py", "_fw_fake_machine")
    micropython = MicropythonStub(machine)
    bare = {
        "rigboard": rigboard,
        "linebuf": linebuf,
        "pinmap": pinmap,
        "machine": machine,
        "micropython": micropython,
    }
    saved = {name: sys.modules.get(name) for name in bare}
    sys.modules.update(bare)
    try:
        main = load(FIRMWARE / "main.py", "_fw_main")
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    return SimpleNamespace(
        rigboard=rigboard,
        linebuf=linebuf,
        pinmap=pinmap,
        machine=machine,
        micropython=micropython,
        main=main,
    )


CONFORMANCE = load(TESTS_MP / "conformance.py", "_fw_conformance")


def _all_check_names() -> list[str]:
    fw = load_firmware()
    env = CONFORMANCE.Env(fw.rigboard, fw.linebuf, fw.machine, fw.main, "/nonexistent")
    return [name for name, _ in CONFORMANCE.checks(env)]


CHECK_NAMES = _all_check_names()
