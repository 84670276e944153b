"""scripts/soak.py works: a handful of units through the simulated station, and a watcher that
does see an unsafe moment when there is one. The full soak (100 units) is run by hand."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SOAK = Path(__file__).resolve().parents[2] / "scripts" / "soak.py"


def load_soak() -> ModuleType:
    spec = importlib.util.spec_from_file_location("soak", SOAK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["soak"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("backend", ["gpio", "board"])
def test_a_short_soak_loses_nothing_and_stays_safe(backend: str) -> None:
    # Seven units: every fault kind at least once; on boards the board reboot too, after
    # which the operator starts the station again (two station runs).
    args = ["--units", "7", "--seed", "5", "--quiet"] + (["--board"] if backend == "board" else [])
    done = subprocess.run(
        [sys.executable, str(SOAK), *args], capture_output=True, text=True, timeout=120
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "units:           7 (" in out
    assert "records lost:    0" in out
    assert "unsafe moments:  0 (" in out
    if backend == "board":
        assert "board reboot mid-hold 1" in out and "2 station runs" in out
    assert "Traceback" not in done.stderr


def test_the_fault_plan_is_seeded_and_has_every_kind() -> None:
    soak = load_soak()
    first = [u.fault for u in soak.plan_units(20, seed=9, board=True)]
    assert first == [u.fault for u in soak.plan_units(20, seed=9, board=True)]
    assert set(first) == set(soak.Fault)
    assert soak.Fault.BOARD_REBOOT not in {u.fault for u in soak.plan_units(20, 9, board=False)}


class FakeBench:
    """One bay whose solenoid and relay a test sets by hand."""

    def __init__(self) -> None:
        self.names = ["A"]
        self.down = False
        self.cut = False
        self.pin_is_down = {"A": lambda: self.down}
        self.power_is_on = {"A": lambda: not self.cut}


class FakeStages:
    def __init__(self, stage: str) -> None:
        self.stage = stage

    def now(self, bay: str) -> str:
        return self.stage


@pytest.fixture
def watched() -> Any:
    soak = load_soak()
    bench = FakeBench()
    watcher = soak.Watcher(bench, time.monotonic())
    watcher.start()
    yield soak, bench, watcher
    watcher.stop()


def test_the_watcher_sees_unsafe_moments_and_ignores_blips(watched: Any) -> None:
    soak, bench, watcher = watched
    watcher.stages = FakeStages("waiting for the unit to boot")
    bench.down = True  # a blip shorter than the tolerance: a stage announced late, not a fault
    time.sleep(soak.TOLERANCE_S / 5)
    bench.down = False
    time.sleep(0.05)
    assert watcher.moments == []
    bench.down = True  # held down with no press step running: unsafe
    time.sleep(soak.TOLERANCE_S * 3)
    bench.down = False
    watcher.stages = FakeStages("holding")
    bench.cut = True  # the relay cutting power while the pin is held: unsafe too
    time.sleep(soak.TOLERANCE_S * 3)
    watcher.stages = None  # the station stopped with the relay still energised
    time.sleep(soak.TOLERANCE_S * 3)
    bench.cut = False
    time.sleep(0.02)
    assert [m.what for m in watcher.moments] == [
        "solenoid down outside a press/hold step",
        "relay energised outside a power-off window",
        "relay energised after the station stopped",
    ]


def test_the_watcher_times_every_press_against_its_limit(watched: Any) -> None:
    soak, bench, watcher = watched
    watcher.stages = FakeStages("holding")
    bench.down = True
    time.sleep(0.3)
    assert watcher.moments == []  # a hold in its step is fine
    soak_limit = soak.PRESS_LIMIT_S
    watcher._down_since["A"] -= soak_limit  # as if it had been down that long already
    time.sleep(soak.TOLERANCE_S * 3)
    bench.down = False
    assert [m.what for m in watcher.moments] == ["solenoid down longer than its press limit"]
