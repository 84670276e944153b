"""`rig reset --json` end to end against simulated cameras on 127.0.0.1, one scenario per
outcome (docs/architecture.md, "The job pipeline"), in real time with short durations.

The bay's camera is wired to the very mock pins the rig drives: its power follows the relay
pin, its reset button the solenoid pin. A second camera on the same network is the unit on the
next bench that must never be mistaken for the one in the bay.
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPWMPin

from rig.cli import main
from rig.records.store import RecordStore
from rig.sim.bench import gpio_bay, relay_feeds_power, rig_toml, wire_to_pins
from rig.sim.camera import CameraSpec, SimCamera
from rig.sim.network import SimNetwork

FAST = {"boot_s": 0.3, "reset_hold_s": 1.2}


class Bench:
    def __init__(self, tmp_path: Path, factory: MockFactory, network: SimNetwork) -> None:
        self.tmp_path = tmp_path
        self.factory = factory
        self.network = network
        self.cameras: list[SimCamera] = []

    def camera(self, n: int, *, in_bay: bool = True, **spec: Any) -> SimCamera:
        camera = SimCamera(CameraSpec.sample(n, **{**FAST, **spec})).start()
        self.cameras.append(camera)
        self.network.add(camera)
        if in_bay:
            wire_to_pins(camera, self.factory, relay=17, solenoid=27)
        return camera

    def reset(
        self,
        capsys: pytest.CaptureFixture[str],
        *args: str,
        hold_s: float = 1.5,
        boot_timeout_s: float = 6,
        settle_s: float = 0.4,
        procedure: str = "power-cycle-hold",
    ) -> tuple[int, dict[str, Any]]:
        path = self.tmp_path / "rig.toml"
        bay = gpio_bay(
            "A",
            relay=17,
            solenoid=27,
            profile="DS-2CD2143G2-I",
            procedure=procedure,
            off_s=0.6,
            hold_s=hold_s,
            boot_timeout_s=boot_timeout_s,
        )
        path.write_text(
            rig_toml(
                target=self.network.target,
                station="e2e",
                data_dir=str(self.tmp_path / "records"),
                network={"sadp_poll_s": 0.1, "settle_s": settle_s},
                bays=[bay],
            )
        )
        capsys.readouterr()
        code = main(["reset", "--json", "--config", str(path), *args])
        out = capsys.readouterr().out.splitlines()
        assert len(out) == 1, out
        return code, json.loads(out[0])


@pytest.fixture
def bench(tmp_path: Path) -> Iterator[Bench]:
    factory = MockFactory(pin_class=MockPWMPin)
    previous, Device.pin_factory = Device.pin_factory, factory
    network = SimNetwork().start()
    bench = Bench(tmp_path, factory, network)
    try:
        yield bench
    finally:
        for camera in bench.cameras:
            camera.stop()
        network.stop()
        Device.pin_factory = previous
        factory.reset()


def evidence(job: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in job["steps"] if s["name"] == name)["details"]


def test_reset_verified_by_scanned_serial(bench: Bench, capsys: pytest.CaptureFixture[str]) -> None:
    camera = bench.camera(1)
    neighbour = bench.camera(2, in_bay=False)  # the next bench's unit, up all along
    code, job = bench.reset(capsys, "--serial", camera.spec.device_sn[-13:])
    assert (code, job["outcome"]) == (0, "reset_verified"), job["reason"]
    assert job["mac"] == camera.spec.mac
    assert job["serial"] == camera.spec.device_sn
    assert job["firmware"] == camera.spec.firmware
    assert abs(job["hold_s"] - 1.5) < 0.02
    assert camera.in_factory_state and camera.resets == 1
    assert neighbour.activated and neighbour.resets == 0
    assert evidence(job, "power_off")["unit_gone"] is True
    assert evidence(job, "verify")["sadp_activated"] is False
    assert evidence(job, "verify")["isapi_activated"] is False


def test_identity_by_the_unit_that_vanished(
    bench: Bench, capsys: pytest.CaptureFixture[str]
) -> None:
    camera = bench.camera(1)
    bench.camera(2, in_bay=False)
    code, job = bench.reset(capsys)
    assert (code, job["outcome"]) == (0, "reset_verified"), job["reason"]
    assert job["mac"] == camera.spec.mac  # never the neighbour, which also answered
    assert evidence(job, "verify")["identity"] == "the unit that vanishes at the power cut"


def test_old_firmware_is_verified_by_the_factory_login(
    bench: Bench, capsys: pytest.CaptureFixture[str]
) -> None:
    sn = "DS-2CD2143G2-I20230815AAWRJ77777001"
    camera = bench.camera(1, firmware="V5.2.5build 141201", device_sn=sn)
    code, job = bench.reset(capsys, "--serial", camera.spec.device_sn[-13:])
    assert (code, job["outcome"]) == (0, "reset_verified"), job["reason"]
    assert job["reason"] == "the factory default login works (firmware < 5.3)"
    assert camera.logins == [("admin", True)]  # exactly one login
    # Not even the factory password is written down. As a word: the digits "12345" also turn
    # up inside timestamps and durations (1764512345.2), which says nothing about a password.
    factory_password = re.compile(r"(?<![0-9.])12345(?![0-9.])")
    assert not factory_password.search(json.dumps(job))
    with RecordStore(bench.tmp_path / "records") as store:
        record = store.job(job["job_id"])
    assert any(e["check"] == "factory_login" for e in record["evidence"])
    assert not factory_password.search(json.dumps(record))


def test_running_hold_without_a_scan_names_the_one_unit_answering_before_the_press(
    bench: Bench, capsys: pytest.CaptureFixture[str]
) -> None:
    camera = bench.camera(1, running_hold_s=1.2)
    code, job = bench.reset(capsys, procedure="running-hold", boot_timeout_s=8)
    assert (code, job["outcome"]) == (0, "reset_verified"), job["reason"]
    assert camera.in_factory_state and camera.last_reset == "running-hold"
    assert camera.power_cycles == 0  # no cut: the unit rebooted itself
    assert [s["name"] for s in job["steps"]][:3] == ["identify", "press", "hold"]
    assert evidence(job, "verify")["identity"] == "the one unit answering before the press"
    with RecordStore(bench.tmp_path / "records") as store:
        record = store.job(job["job_id"])
    assert (record["mac"], record["serial"]) == (camera.spec.mac, camera.spec.device_sn)


def test_running_hold_without_a_scan_names_the_unit_that_reboots(
    bench: Bench, capsys: pytest.CaptureFixture[str]
) -> None:
    camera = bench.camera(1, running_hold_s=1.2)
    neighbour = bench.camera(2, in_bay=False)  # the next bench's unit, up all along
    code, job = bench.reset(capsys, procedure="running-hold", boot_timeout_s=8)
    assert (code, job["outcome"]) == (0, "reset_verified"), job["reason"]
    assert job["mac"] == camera.spec.mac and job["serial"] == camera.spec.device_sn
    assert evidence(job, "verify")["identity"] == (
        "the unit that goes down after the press and comes back"
    )
    assert neighbour.activated and neighbour.resets == 0


def test_running_hold_that_resets_nothing_is_not_reset(
    bench: Bench, capsys: pytest.CaptureFixture[str]
) -> None:
    bench.camera(1, running_hold_s=3.0)  # needs a longer hold than the bay gives
    bench.camera(2, in_bay=False)
    code, job = bench.reset(capsys, procedure="running-hold", boot_timeout_s=5)
    assert (code, job["outcome"]) == (1, "not_reset")
    assert job["reason"] == "no unit went down within 5 s of the release: the hold reset nothing"
    assert job["mac"] is None


def test_old_firmware_that_reports_inactive_is_verified_without_a_login(
    bench: Bench, capsys: pytest.CaptureFixture[str]
) -> None:
    # Real units carry Activated on firmware numbered V5.2, V3.5, V1.5: what the unit says
    # counts, not its version number.
    camera = bench.camera(1, firmware="V5.2.3build 170725", has_activation=True)
    code, job = bench.reset(capsys, "--serial", camera.spec.device_sn[-13:])
    assert (code, job["outcome"]) == (0, "reset_verified"), job["reason"]
    assert evidence(job, "verify")["sadp_activated"] is False
    assert camera.logins == []  # no login attempt at all


def test_old_firmware_that_always_says_activated_is_judged_by_the_default_login(
    bench: Bench, capsys: pytest.CaptureFixture[str]
) -> None:
    camera = bench.camera(1, firmware="V5.2.5build 141201", sadp_legacy_activated="true")
    code, job = bench.reset(capsys, "--serial", camera.spec.device_sn[-13:])
    assert (code, job["outcome"]) == (0, "reset_verified"), job["reason"]
    assert job["reason"] == "the factory default login works (firmware < 5.3)"
    assert evidence(job, "verify")["sadp_activated"] is True
    assert camera.logins == [("admin", True)]  # exactly one login


def test_not_reset_when_the_hold_is_too_short(
    bench: Bench, capsys: pytest.CaptureFixture[str]
) -> None:
    camera = bench.camera(1, reset_hold_s=3.0)  # this unit needs a longer hold
    code, job = bench.reset(capsys, "--serial", camera.spec.device_sn[-13:])
    assert (code, job["outcome"]) == (1, "not_reset")
    assert job["reason"] == "still activated (SADP)"
    assert camera.activated


def test_not_reset_old_firmware_refuses_the_factory_login(
    bench: Bench, capsys: pytest.CaptureFixture[str]
) -> None:
    camera = bench.camera(1, firmware="V5.2.5build 141201", reset_hold_s=3.0)
    code, job = bench.reset(capsys)
    assert (code, job["outcome"]) == (1, "not_reset")
    assert job["reason"] == "the factory login was refused"
    assert camera.logins == [("admin", False)]


def test_no_response_from_a_dead_unit(bench: Bench, capsys: pytest.CaptureFixture[str]) -> None:
    bench.camera(1, dead=True)
    code, job = bench.reset(capsys, boot_timeout_s=5)
    assert (code, job["outcome"]) == (1, "no_response")
    assert job["reason"] == "did not come back within 5 s"


def test_reboot_loop(bench: Bench, capsys: pytest.CaptureFixture[str]) -> None:
    bench.camera(1, reboot_loop=True, up_s=0.5, down_s=0.6)
    code, job = bench.reset(capsys, settle_s=1.0, boot_timeout_s=8)
    assert (code, job["outcome"]) == (1, "reboot_loop")
    assert job["reason"].startswith("came back and went again 2 times")


def test_wrong_device_when_the_scan_names_another_unit(
    bench: Bench, capsys: pytest.CaptureFixture[str]
) -> None:
    camera = bench.camera(1)
    code, job = bench.reset(capsys, "--serial", "ZZZZZ99999999")  # the label of another unit
    assert (code, job["outcome"]) == (1, "wrong_device")
    assert camera.spec.mac in job["reason"] and "ZZZZZ99999999" in job["reason"]


def test_wrong_device_when_two_units_vanish_at_the_cut(
    bench: Bench, capsys: pytest.CaptureFixture[str]
) -> None:
    bench.camera(1)
    bench.camera(2)  # wired to the same relay: whose unit is it?
    code, job = bench.reset(capsys)
    assert (code, job["outcome"]) == (1, "wrong_device")
    assert job["reason"].startswith("identity ambiguous: 2 units vanished at the cut")


def test_hardware_fault_when_the_relay_does_not_cut(
    bench: Bench, capsys: pytest.CaptureFixture[str]
) -> None:
    camera = bench.camera(1, ignores_power_cut=True)
    code, job = bench.reset(capsys, "--serial", camera.spec.device_sn[-13:])
    assert (code, job["outcome"]) == (1, "hardware_fault")
    assert job["reason"] == "power did not cut: the unit kept answering"
    assert "press" not in [s["name"] for s in job["steps"]]  # nothing was pressed
    assert camera.resets == 0


def test_aborted_by_sigterm_mid_hold(bench: Bench, capsys: pytest.CaptureFixture[str]) -> None:
    camera = bench.camera(1)
    holding = threading.Event()

    def watch_for_hold() -> None:
        while not bench.factory.pin(27).state:
            if holding.wait(0.01):
                return
        holding.wait(0.5)  # well into the hold
        os.kill(os.getpid(), signal.SIGTERM)

    killer = threading.Thread(target=watch_for_hold, daemon=True)
    killer.start()
    try:
        code, job = bench.reset(capsys, "--serial", camera.spec.device_sn[-13:], hold_s=10)
    finally:
        holding.set()
        killer.join()
    assert (code, job["outcome"]) == (1, "aborted")
    assert job["reason"] == "stopped by SIGTERM"
    assert bench.factory.pin(27).state == 0 and relay_feeds_power(bench.factory.pin(17))
    assert camera.activated  # released early: no reset


def test_discover_lists_the_units(bench: Bench, capsys: pytest.CaptureFixture[str]) -> None:
    one = bench.camera(1, in_bay=False)
    old = bench.camera(2, in_bay=False, firmware="V5.2.5build 141201")
    path = bench.tmp_path / "rig.toml"
    # No [[bays]] yet: a technician looks at the cameras before configuring any bay.
    path.write_text(f'[network]\nsadp_target = "{bench.network.target}"\n')
    capsys.readouterr()
    assert main(["discover", "--json", "--config", str(path), "--window-s", "0.5"]) == 0
    units = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(u["mac"], u["serial"], u["activated"]) for u in units] == [
        (one.spec.mac, one.spec.device_sn, True),
        (old.spec.mac, old.spec.device_sn, None),  # old firmware does not say
    ]
    assert main(["discover", "--config", str(path), "--window-s", "0.5"]) == 0
    table = capsys.readouterr().out
    assert "2 unit(s) answered" in table and one.spec.mac in table


def test_a_too_short_serial_is_refused(bench: Bench, capsys: pytest.CaptureFixture[str]) -> None:
    path = bench.tmp_path / "rig.toml"
    path.write_text('[[bays]]\nname = "A"\nverify = "manual"\n')
    assert main(["reset", "--config", str(path), "--serial", "78"]) == 2
    assert "--serial: '78' is too short to identify a unit" in capsys.readouterr().err
