"""`rig run` with a switch bay whose units start themselves: plugged into the port, the
unit is powered by the switch, answers SADP, and its reset starts with no scan."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from rig.clock import SystemClock
from rig.config import load_config
from rig.progress import BayStatus
from rig.sim.camera import CameraSpec
from rig.sim.network import SimNetwork
from rig.station import Station
from tests.fakes import ScriptedOperator
from tests.switchbench import COMMUNITY, PORT, SwitchBench, switch_bench
from tests.test_station import Scans

MAC = CameraSpec.sample(1).mac


@pytest.fixture
def bench(
    tmp_path: Path, lab: tuple[MockFactory, SimNetwork], monkeypatch: pytest.MonkeyPatch
) -> Iterator[SwitchBench]:
    monkeypatch.setenv("RIG_SW1_COMMUNITY", COMMUNITY)
    factory, network = lab
    with switch_bench(tmp_path, factory, network) as b:
        yield b


def wait_for(predicate: Callable[[], bool], what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_a_unit_plugged_into_a_switch_bay_starts_its_own_reset(bench: SwitchBench) -> None:
    pse = bench.switch({PORT: [MAC]}, unplugged=[PORT])
    camera = bench.camera(1)
    path = bench.config()
    text = path.read_text().replace(
        'name = "switch-bench"', 'name = "switch-bench"\nautostart = true'
    )
    path.write_text(text)
    config = load_config(path)
    assert config.station.autostart
    scans = Scans()
    station = Station(
        config,
        clock=SystemClock(),
        data_dir=bench.tmp_path / "records",
        operator=ScriptedOperator(),
        scans=scans,
        pin_factory=bench.factory,
        autostart_poll_s=0.1,
    )
    changes: list[BayStatus] = []
    station.progress.listen(changes.append)
    code: list[int] = []
    runner = threading.Thread(target=lambda: code.append(station.run()), daemon=True)
    runner.start()
    try:
        stages = lambda: [c.stage for c in changes if c.name == "B"]  # noqa: E731
        wait_for(lambda: "waiting for a unit" in stages(), "the bay to wait for a unit")
        # The watcher has seen the port empty while the bay was idle: the next unit counts.
        wait_for(lambda: station.autostart is not None and station.autostart.armed("B"), "armed")
        assert station.units == [] and camera.power_cycles == 0  # nothing plugged in yet
        pse.plug(PORT)  # the technician plugs the unit into the bay's cable
        wait_for(lambda: len(station.units) == 1, "the unit's reset", timeout_s=60)
        time.sleep(1.0)  # still plugged in and powered after its job: no second start
        assert len(station.units) == 1
    finally:
        scans.close()
        runner.join(timeout=60)
    assert code == [0]
    [report] = station.units[0]
    assert report.result.outcome.value == "reset_verified", report.result.reason
    assert report.result.unit.mac == camera.spec.mac
    identify = next(s for s in report.result.steps if s.name == "identify")
    assert identify.details["scanned_serial"] is None  # nobody scanned it
    assert identify.details["known_by"] == "switch port"
    seen = stages()
    assert seen.index("waiting for a unit") < seen.index("unit detected") < seen.index("holding")
    assert camera.in_factory_state and camera.resets == 1
    assert bench.admin() == 1


def test_a_unit_already_powered_at_the_start_waits_for_its_scan(bench: SwitchBench) -> None:
    bench.switch({PORT: [MAC]})  # plugged in and powered before the station starts
    camera = bench.camera(1)
    path = bench.config()
    text = path.read_text().replace(
        'name = "switch-bench"', 'name = "switch-bench"\nautostart = true'
    )
    path.write_text(text)
    scans = Scans()
    station = Station(
        load_config(path),
        clock=SystemClock(),
        data_dir=bench.tmp_path / "records",
        operator=ScriptedOperator(),
        scans=scans,
        pin_factory=bench.factory,
        autostart_poll_s=0.1,
    )
    code: list[int] = []
    runner = threading.Thread(target=lambda: code.append(station.run()), daemon=True)
    runner.start()
    try:
        wait_for(lambda: camera.online, "the unit to be up")
        wait_for(lambda: station.autostart is not None, "the watcher")
        time.sleep(1.0)  # ten polls of a port that was never seen empty: nothing starts
        assert station.units == [] and camera.power_cycles == 0
        scans.scan(camera.spec.device_sn[-13:])  # a scan still works, and must agree
        wait_for(lambda: len(station.units) == 1, "the scanned unit's reset", timeout_s=60)
    finally:
        scans.close()
        runner.join(timeout=60)
    assert code == [0]
    [report] = station.units[0]
    assert report.result.outcome.value == "reset_verified", report.result.reason
    identify = next(s for s in report.result.steps if s.name == "identify")
    assert identify.details["known_by"] == "switch port"
    assert identify.details["scanned_serial"] == camera.spec.device_sn[-13:]
    # The station read the switch's table at its start: the scanned unit, answering SADP, is
    # looked up on the port by its own entry (one GET), not by a walk of the whole table.
    assert identify.details["fdb"].startswith(f"Q-BRIDGE-MIB entry of {camera.spec.mac}")
