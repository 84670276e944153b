"""`rig run`, the station: four bays at once against simulated cameras, staggered power cuts,
escalation to a longer hold, and recovery after the station was killed mid-hold."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gpiozero.pins.mock import MockFactory

from rig.clock import SystemClock
from rig.config import parse_config
from rig.progress import BayStatus
from rig.records.store import RecordStore
from rig.sim.bench import gpio_bay, relay_feeds_power, rig_toml, wire_to_pins
from rig.sim.camera import CameraSpec, SimCamera
from rig.sim.network import SimNetwork
from rig.station import Station
from tests.fakes import ScriptedOperator

PINS = {"A": (17, 27), "B": (22, 23), "C": (5, 6), "D": (12, 13)}


def config_text(target: str, bays: str, *, hold_s: float = 1.5, verify: str = "network") -> str:
    timing = {"off_s": 0.6, "hold_s": hold_s, "escalation_holds_s": [hold_s, 2.6]}
    return rig_toml(
        target=target,
        station="lab-1",
        network={"sadp_poll_s": 0.1, "settle_s": 0.4},
        bays=[
            gpio_bay(
                b,
                relay=PINS[b][0],
                solenoid=PINS[b][1],
                profile="DS-2CD2143G2-I",
                boot_timeout_s=6,
                verify=verify,
                **timing,
            )
            for b in bays
        ],
    )


class Scans:
    """What the operator scans, fed one line at a time; ends when closed."""

    def __init__(self) -> None:
        self._lines: queue.SimpleQueue[str | None] = queue.SimpleQueue()

    def __iter__(self) -> Iterator[str]:
        while (line := self._lines.get()) is not None:
            yield line

    def scan(self, *lines: str) -> None:
        for line in lines:
            self._lines.put(line)

    def close(self) -> None:
        self._lines.put(None)


def wire(factory: MockFactory, network: SimNetwork, bay: str, n: int, **spec: Any) -> SimCamera:
    camera = SimCamera(CameraSpec.sample(n, **{"boot_s": 0.3, "reset_hold_s": 1.2, **spec}))
    camera.start()
    network.add(camera)
    return wire_to_pins(camera, factory, relay=PINS[bay][0], solenoid=PINS[bay][1])


def label(camera: SimCamera) -> str:
    return camera.spec.device_sn[-13:]


def test_four_bays_at_once_with_staggered_cuts(
    lab: tuple[MockFactory, SimNetwork], tmp_path: Path
) -> None:
    factory, network = lab
    cameras = [wire(factory, network, bay, n) for n, bay in enumerate("ABCD", start=1)]
    config = parse_config(config_text(network.target, "ABCD"))
    scans = Scans()
    scans.scan(*(label(c) for c in cameras))
    scans.close()
    station = Station(
        config,
        clock=SystemClock(),
        data_dir=tmp_path,
        operator=ScriptedOperator(),
        scans=scans,
        pin_factory=factory,
    )
    # The live views' feed (web page, MQTT): every row change, and every unit done.
    changes: list[BayStatus] = []
    station.progress.listen(changes.append)
    done: list[tuple[str, str]] = []
    station.unit_listeners.append(
        lambda bay, reports: done.append((bay, reports[-1].result.outcome.value))
    )
    started = time.monotonic()
    assert station.run() == 0
    elapsed = time.monotonic() - started
    assert sorted(done) == [(bay, "reset_verified") for bay in "ABCD"]
    for bay in "ABCD":
        stages = [c.stage for c in changes if c.name == bay]
        assert stages.index("power off") < stages.index("holding") < stages.index("done")
    final = {s.name: s for s in station.progress.snapshot()}
    assert {b: final[b].outcome.split()[0] for b in "ABCD"} == dict.fromkeys(
        "ABCD", "reset_verified"
    )
    assert all(final[b].reason and final[b].unit for b in "ABCD")
    assert [unit[-1].result.outcome.value for unit in station.units] == ["reset_verified"] * 4
    assert all(camera.in_factory_state for camera in cameras)
    # Each unit verified in its own bay, by its own MAC.
    by_bay = {unit[-1].bay: unit[-1].result.unit.mac for unit in station.units}
    assert by_bay == {bay: cam.spec.mac for bay, cam in zip("ABCD", cameras, strict=True)}
    # Every unit was cut once, and the bays overlapped (far less than 4 units' time). Scanned
    # units answering before the cut are known by MAC: their cuts take no power-cut slot
    # (the slots of units named by their vanishing: tests/test_fast_detection.py).
    with RecordStore(tmp_path) as store:
        jobs = store.jobs()
    cuts = [s for j in jobs for s in j["steps"] if s["name"] == "power_off"]
    assert len(cuts) == 4
    assert "waiting for a power-cut slot" not in {c.stage for c in changes}
    one_unit_s = 0.6 + 1.8 + 0.3 + 0.4
    assert elapsed < 4 * one_unit_s
    assert station.tally.done == 4 and station.tally.verified == 4
    for relay, solenoid in PINS.values():
        assert factory.pin(solenoid).state == 0 and relay_feeds_power(factory.pin(relay))


def test_not_reset_escalates_to_the_longer_hold(
    lab: tuple[MockFactory, SimNetwork], tmp_path: Path
) -> None:
    factory, network = lab
    camera = wire(factory, network, "A", 1, reset_hold_s=2.0)  # 1.5 s is not enough here
    config = parse_config(config_text(network.target, "A"))
    scans = Scans()
    scans.scan(label(camera))
    scans.close()
    station = Station(
        config,
        clock=SystemClock(),
        data_dir=tmp_path,
        operator=ScriptedOperator(),
        scans=scans,
        pin_factory=factory,
    )
    assert station.run() == 0
    [attempts] = station.units
    assert [a.result.outcome.value for a in attempts] == ["not_reset", "reset_verified"]
    assert [round(a.result.hold_s or 0, 1) for a in attempts] == [1.5, 2.6]
    with RecordStore(tmp_path) as store:
        jobs = store.jobs()
    assert [(j["attempt"], j["first_job_id"]) for j in jobs] == [(1, None), (2, jobs[0]["job_id"])]
    # The solenoid rested at least as long as it had worked before the second press.
    first_end = next(s for s in jobs[0]["steps"] if s["name"] == "hold")["ended_mono"]
    second_press = next(s for s in jobs[1]["steps"] if s["name"] == "press")["started_mono"]
    first_pressed = next(s for s in jobs[0]["steps"] if s["name"] == "hold")["details"]["pressed_s"]
    assert second_press - first_end >= first_pressed - 0.01
    assert camera.in_factory_state


STATION_CONFIG = """
[station]
name = "lab-1"
data_dir = "{data_dir}"

[[bays]]
name = "A"
power = {{ gpio = 17, active_high = false }}
presser = {{ gpio = 27 }}
off_s = 0.5
hold_s = 20
verify = "manual"
"""


def test_station_killed_mid_hold_is_recovered_at_the_next_start(
    tmp_path: Path, pins: MockFactory
) -> None:
    path = tmp_path / "rig.toml"
    path.write_text(STATION_CONFIG.format(data_dir=tmp_path / "records"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "rig", "run", "--config", str(path)],
        env={**os.environ, "GPIOZERO_PIN_FACTORY": "mock"},
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdin is not None and proc.stderr is not None
    proc.stdin.write("AAWRJ12345678\n")
    proc.stdin.flush()
    seen = ""
    deadline = time.monotonic() + 30
    while "holding" not in seen and time.monotonic() < deadline:
        seen += proc.stderr.readline()
    assert "holding" in seen
    proc.send_signal(signal.SIGKILL)  # power loss, kill -9: no handler runs
    proc.wait(timeout=10)

    with RecordStore(tmp_path / "records") as store:
        [job] = store.jobs()
    assert job["outcome"] is None  # left open by the dead station
    assert [s["name"] for s in job["steps"]][-1] == "power_on"  # what finished is all there

    operator = ScriptedOperator()
    station = Station(
        parse_config(STATION_CONFIG.format(data_dir=tmp_path / "records")),
        clock=SystemClock(),
        data_dir=tmp_path / "records",
        operator=operator,
        scans=[],
    )
    assert station.run() == 0
    assert station.interrupted == [job["job_id"]]
    assert f"job {job['job_id']} was interrupted by a crash: marked aborted" in operator.told
    with RecordStore(tmp_path / "records") as store:
        recovered = store.job(job["job_id"])
    assert (recovered["outcome"], recovered["reason"]) == ("aborted", "interrupted")
    # The bay started safe and ended released: solenoid off, relay not cutting the power.
    assert not pins.pin(27).state and relay_feeds_power(pins.pin(17))
    assert 1.0 in [s.state for s in pins.pin(17).states]  # driven to de-energised at start


def test_a_short_scan_is_refused_and_starts_nothing(
    lab: tuple[MockFactory, SimNetwork], tmp_path: Path
) -> None:
    factory, network = lab
    camera = wire(factory, network, "A", 1)
    operator = ScriptedOperator()
    scans = Scans()
    scans.scan("ab", "A xy", label(camera))
    scans.close()
    station = Station(
        parse_config(config_text(network.target, "A")),
        clock=SystemClock(),
        data_dir=tmp_path,
        operator=operator,
        scans=scans,
        pin_factory=factory,
    )
    assert station.run() == 0
    # The same one-line refusal `rig reset --serial ab` gives, naming the scan.
    assert "scan: 'ab' is too short to identify a unit" in operator.told
    assert "scan 'A xy': 'xy' is too short to identify a unit" in operator.told
    with RecordStore(tmp_path) as store:
        jobs = store.jobs()
    assert [(j["scanned_serial"], j["outcome"]) for j in jobs] == [
        (label(camera), "reset_verified")
    ]
