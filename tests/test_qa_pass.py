"""The QA pass (rig.procedures.qa) against simulated cameras on 127.0.0.1, in real time.

A unit comes to the pass as a proven reset leaves it: inactive. Every test ends with the
camera's own word on its state (`SimCamera.in_factory_state`), and counts the logins the
camera saw: one per request, none after a refusal.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rig.cli import main
from rig.clock import SystemClock
from rig.config import NetworkConfig, parse_config
from rig.job import JobReport, Unit
from rig.network.isapi import IsapiClient
from rig.operator import TerminalOperator
from rig.procedures.qa import QaOptions, QaPass
from rig.qa.firmware import FirmwarePolicy
from rig.qa.settings import QaConfig
from rig.qa.setup import QaRequest
from rig.records.export import to_csv, to_json
from rig.records.report import render_html
from rig.records.store import RecordStore
from rig.reset import reset_bays
from rig.runner import JobRunner
from rig.sim.bench import gpio_bay, rig_toml, wire_to_pins
from rig.sim.camera import CameraSpec, SimCamera
from rig.sim.network import SimNetwork
from rig.software.targets import Password
from rig.verify.network import NetworkWatch
from rig.verify.software import SoftwareVerifier

BENCH = "Qa-Bench-7731x"  # unique enough to grep for
NETWORK = NetworkConfig(sadp_poll_s=0.1, settle_s=0.3, http_timeout_s=2.0)
# A reboot must outlast the SADP polls that see the unit gone (two misses at 0.1 s, and one
# in flight): 0.6 s leaves twice that.
FAST: dict[str, Any] = {"boot_s": 0.6, "activated": False, "upgrade_s": 0.3}
OPTIONS = QaOptions(
    firmware=FirmwarePolicy(min_firmware="V5.7.0"),
    snapshot_gap_s=0.1,
    boot_timeout_s=20.0,
    upgrade_poll_s=0.1,
)


@dataclass
class QaBench:
    network: SimNetwork
    watch: NetworkWatch
    store: RecordStore
    data_dir: Path

    def camera(self, n: int = 1, **spec: Any) -> SimCamera:
        camera = SimCamera(CameraSpec.sample(n, **{**FAST, **spec})).start()
        self.network.add(camera)
        return camera

    def run(
        self,
        camera: SimCamera,
        *,
        options: QaOptions = OPTIONS,
        password: str = BENCH,
        unit: Unit | None = None,
    ) -> tuple[JobReport, QaPass]:
        spec = camera.spec
        unit = unit or Unit(serial=spec.device_sn, mac=spec.mac, model=spec.model)

        def isapi(host: str, port: int) -> IsapiClient:
            return IsapiClient(host, port, timeout_s=NETWORK.http_timeout_s)

        verifier = SoftwareVerifier(
            self.watch.poller, settle_s=NETWORK.settle_s, isapi=isapi, http_timeout_s=2.0
        )
        procedure = QaPass(unit, Password(password), options, verifier=verifier, isapi=isapi)
        runner = JobRunner(self.store, SystemClock(), station="qa")
        report = runner.run(procedure, bay="A", profile=spec.model)
        return report, procedure

    def steps(self, report: JobReport) -> dict[str, dict[str, Any]]:
        return {s["name"]: s["details"] for s in self.store.job(report.job_id)["steps"]}


@pytest.fixture
def bench(tmp_path: Path) -> Iterator[QaBench]:
    with SimNetwork() as network:
        host, _, port = network.target.rpartition(":")
        config = NetworkConfig(
            sadp_target=(host, int(port)),
            sadp_poll_s=NETWORK.sadp_poll_s,
            settle_s=NETWORK.settle_s,
            http_timeout_s=NETWORK.http_timeout_s,
        )
        with NetworkWatch(config) as watch, RecordStore(tmp_path / "records") as store:
            yield QaBench(network, watch, store, tmp_path / "records")
        for camera in network.cameras:
            camera.stop()


def logins(camera: SimCamera) -> tuple[int, int]:
    """(accepted, refused) logins the camera saw."""
    seen = camera.logins
    return sum(ok for _, ok in seen), sum(not ok for _, ok in seen)


def test_a_good_unit_passes_and_leaves_inactive(bench: QaBench) -> None:
    camera = bench.camera()
    report, _ = bench.run(camera)
    result = report.result
    assert (result.outcome.value, result.qa, result.qa_check) == ("reset_verified", "passed", None)
    assert "QA passed; restored: inactive" in result.reason
    assert camera.in_factory_state and camera.last_reset == "full"
    steps = bench.steps(report)
    for name in ("qa_activate", "qa_identity", "qa_firmware", "qa_picture", "qa_storage"):
        assert steps[name]["passed"] is True, name
        assert all(m["passed"] for m in steps[name]["measurements"])
    picture = {m["name"]: m for m in steps["qa_picture"]["measurements"]}
    assert picture["laplacian_variance"]["value"] > 100
    assert picture["laplacian_variance"]["limits"] == ">= 100"
    assert steps["qa_picture"]["thumbnail_jpeg_b64"].startswith("/9j/")  # a JPEG
    assert steps["verify"]["isapi_activated"] is False
    # One login per request: identity 1, picture 2, storage 1, factoryReset 1, reboot 1.
    assert logins(camera) == (6, 0)
    json.dumps(report.as_json())  # the --json object
    assert report.as_json()["qa"] == "passed"


@pytest.mark.parametrize(
    ("spec", "check", "measurement"),
    [
        # A covered lens is dark, flat and has no edges: three measurements say so.
        ({"picture": "black"}, "picture", "luminance_mean,luminance_spread,laplacian_variance"),
        ({"picture": "blurred"}, "picture", "laplacian_variance"),
        ({"picture": "frozen"}, "picture", "frame_difference"),
        ({"card_mb": None}, "storage", "cards_detected"),
        ({"firmware": "V5.5.0build 200101"}, "firmware", "firmware_version"),
    ],
    ids=["black", "blurred", "frozen", "no-card", "old-firmware"],
)
def test_each_fault_fails_its_check_alone_and_the_unit_is_restored(
    bench: QaBench, spec: dict[str, Any], check: str, measurement: str
) -> None:
    camera = bench.camera(**spec)
    report, _ = bench.run(camera)
    result = report.result
    assert (result.outcome.value, result.qa, result.qa_check) == ("reset_verified", "failed", check)
    assert f"QA failed: {check}: {measurement.split(',')[0]}" in result.reason
    assert camera.in_factory_state  # restored whatever was found
    record = bench.store.job(report.job_id)
    assert (record["qa"], record["qa_check"]) == ("failed", check)
    steps = bench.steps(report)
    failing = f"qa_{check}"
    for name in ("qa_activate", "qa_identity", "qa_firmware", "qa_picture", "qa_storage"):
        assert steps[name]["passed"] is (name != failing), name
    bad = [m["name"] for m in steps[failing]["measurements"] if not m["passed"]]
    assert bad == measurement.split(",")
    assert logins(camera)[1] == 0


def test_a_weak_password_is_refused_as_the_camera_does(bench: QaBench) -> None:
    camera = bench.camera()
    report, procedure = bench.run(camera, password="abcdefgh")
    result = report.result
    assert (result.outcome.value, result.qa, result.qa_check) == (
        "reset_verified",
        "failed",
        "activate",
    )
    assert "Risk password" in result.reason
    assert not camera.activated and camera.in_factory_state
    assert not procedure.left_activated
    assert logins(camera) == (0, 0)  # nothing to log in to: no check was tried
    assert "qa_identity" not in bench.steps(report)


def test_an_identity_mismatch_fails_identity(bench: QaBench) -> None:
    camera = bench.camera()
    other = Unit(serial="DS-2CD2143G2-I20230815AAWRJ99999999", mac=camera.spec.mac, model="X")
    report, _ = bench.run(camera, unit=other)
    assert (report.result.qa, report.result.qa_check) == ("failed", "identity")
    bad = [m["name"] for m in bench.steps(report)["qa_identity"]["measurements"] if not m["passed"]]
    assert bad == ["serial", "model"]
    assert camera.in_factory_state


def _image(tmp_path: Path) -> Path:
    image = tmp_path / "digicap.dav"
    image.write_bytes(b"\x00digicap" * 512)
    return image


def test_old_firmware_is_upgraded_from_the_local_image(bench: QaBench, tmp_path: Path) -> None:
    camera = bench.camera(firmware="V5.5.0build 200101")
    options = QaOptions(
        firmware=FirmwarePolicy("V5.7.0", _image(tmp_path)),
        snapshot_gap_s=0.1,
        boot_timeout_s=20.0,
        upgrade_poll_s=0.1,
    )
    report, _ = bench.run(camera, options=options)
    assert (report.result.qa, report.result.qa_check) == ("passed", None)
    assert camera.firmware.startswith("V5.7.18")
    upgrade = bench.steps(report)["qa_upgrade"]
    assert upgrade["rebooted"] is True and upgrade["firmware_before"] == "V5.5.0"
    assert [m["value"] for m in upgrade["measurements"]] == ["V5.7.18"]
    assert ("PUT", "/ISAPI/System/updateFirmware") in camera.requests_seen
    assert camera.in_factory_state


def test_an_upgrade_that_fails_fails_firmware(bench: QaBench, tmp_path: Path) -> None:
    camera = bench.camera(firmware="V5.5.0build 200101", upgrade_fails=True)
    options = QaOptions(
        firmware=FirmwarePolicy("V5.7.0", _image(tmp_path)),
        snapshot_gap_s=0.1,
        boot_timeout_s=20.0,
        upgrade_poll_s=0.1,
    )
    report, _ = bench.run(camera, options=options)
    assert (report.result.qa, report.result.qa_check) == ("failed", "firmware")
    assert "firmware_version V5.5.0 not >= V5.7.0" in report.result.reason
    assert camera.firmware.startswith("V5.5.0") and camera.in_factory_state


class TakesAnotherPassword(SimCamera):
    """Takes the activation, then answers logins for another password (as if someone else
    had set one): every login of the pass is refused."""

    def _activate_over_isapi(self, body: bytes) -> None:
        super()._activate_over_isapi(body)
        with self._lock:
            self._password = "Someone-Elses-9"


def test_a_refused_login_ends_every_login_and_leaves_the_unit_to_the_bay(
    bench: QaBench,
) -> None:
    camera = TakesAnotherPassword(CameraSpec.sample(3, **FAST)).start()
    bench.network.add(camera)
    report, procedure = bench.run(camera)
    result = report.result
    assert (result.qa, result.qa_check) == ("failed", "identity")
    assert result.outcome.value == "not_reset" and "no restore" in result.reason
    assert procedure.left_activated  # run_unit follows with the bay's hard reset
    assert logins(camera) == (0, 1)  # one refusal, and no login after it
    assert "qa_picture" not in bench.steps(report)


def test_the_password_is_in_no_record_wal_or_export(
    bench: QaBench, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    camera = bench.camera(picture="blurred")  # a failing pass: its reason is the longest
    report, _ = bench.run(camera)
    assert report.result.qa == "failed"
    jobs = bench.store.jobs()
    wal = bench.data_dir / "rig.sqlite3-wal"
    assert wal.exists()  # the records are still open: the WAL holds the latest pages
    texts = [p.read_bytes() for p in bench.data_dir.iterdir() if p.is_file()]
    texts += [s.encode() for s in (to_csv(jobs), to_json(jobs), render_html(jobs))]
    texts += [json.dumps(report.as_json()).encode(), report.line().encode()]
    texts += [caplog.text.encode(), "".join(capsys.readouterr()).encode()]
    for text in texts:
        assert BENCH.encode() not in text
        assert BENCH.encode("utf-16-le") not in text
    assert camera.password is None  # and the unit forgot it with its restore


def test_reset_then_qa_through_the_bay_exit_code_and_certificate(
    lab: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`rig reset --qa` as reset_bays runs it: the hard reset on mock pins, then the pass."""
    factory, network = lab
    spec = CameraSpec.sample(4, boot_s=0.6, reset_hold_s=1.0, picture="frozen")
    camera = SimCamera(spec).start()
    network.add(camera)
    wire_to_pins(camera, factory, relay=17, solenoid=27)
    bay = gpio_bay(
        "A", relay=17, solenoid=27, profile=spec.model, off_s=0.6, hold_s=1.3, boot_timeout_s=20
    )
    config = parse_config(
        rig_toml(target=network.target, network={"sadp_poll_s": 0.1, "settle_s": 0.3}, bays=[bay])
    )
    from dataclasses import replace

    config = replace(config, qa=QaConfig(snapshot_gap_s=0.1))
    data_dir = tmp_path / "records"
    capsys.readouterr()
    code = reset_bays(
        config,
        config.bays,
        clock=SystemClock(),
        data_dir=data_dir,
        scanned_serial=spec.device_sn[-13:],
        as_json=True,
        operator=TerminalOperator(),
        pin_factory=factory,
        qa=QaRequest(Password(BENCH), config, every_unit=True),
    )
    camera.unwatch()
    out = capsys.readouterr()
    reset, qa = (json.loads(line) for line in out.out.splitlines())
    assert BENCH not in out.out + out.err
    assert all(BENCH.encode() not in p.read_bytes() for p in data_dir.iterdir() if p.is_file())
    assert code == 1  # reset proven, QA failed: not a unit to sell
    assert (reset["outcome"], reset["qa"]) == ("reset_verified", None)
    assert (qa["outcome"], qa["qa"], qa["qa_check"]) == ("reset_verified", "failed", "picture")
    assert camera.in_factory_state
    with RecordStore(data_dir) as store:
        jobs = store.jobs()
    assert jobs[1]["first_job_id"] == jobs[0]["job_id"] and jobs[1]["procedure"] == "qa"
    page = render_html(jobs)
    assert "QA pass (job 2)" in page and "frame_difference" in page
    assert "data:image/jpeg;base64,/9j/" in page
    assert "QA failures by check" in page and "<th scope='row'>picture</th><td>1</td>" in page
    [row] = json.loads(to_json(jobs))
    assert (row["qa"], row["qa_check"], len(row["attempts"])) == ("failed", "picture", 1)


def test_rig_demo_qa_ends_restored_with_a_certificate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["demo", "--qa", "--json", "--data-dir", str(tmp_path), "--off-s", "0.6"]
    # A boot of 2 s: the demo polls SADP every 0.25 s, and the restore's reboot must be seen.
    assert main([*argv, "--hold-s", "1.5", "--boot-s", "2"]) == 0
    reset, qa = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert reset["outcome"] == "reset_verified" and reset["qa"] is None
    assert (qa["outcome"], qa["qa"]) == ("reset_verified", "passed")
    assert [s["name"] for s in qa["steps"]][-1] == "verify"
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Reset certificate" in page and "QA pass (job 2)" in page
    assert "laplacian_variance" in page and "data:image/jpeg;base64,/9j/" in page


def test_a_pass_stopped_midway_says_the_unit_is_left_activated(
    bench: QaBench, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rig.errors import Aborted

    def stopped(self: QaPass, job: Any, client: Any) -> None:
        raise Aborted("stopped by SIGTERM")

    monkeypatch.setattr(QaPass, "_picture", stopped)
    camera = bench.camera()
    report, procedure = bench.run(camera)
    result = report.result
    assert result.outcome.value == "aborted"
    assert "left ACTIVATED: reset it again" in result.reason
    assert (result.qa, result.qa_check) == ("failed", "restore")
    assert procedure.left_activated and camera.activated  # the record says what is true


def test_the_station_runs_the_pass_and_hard_resets_a_unit_it_could_not_restore(
    lab: Any, tmp_path: Path
) -> None:
    """`rig run` with `[station] qa = true`: bay A's unit passes; bay B's takes the
    activation but then refuses the bench password, so the pass cannot restore it and the
    bay hard-resets it again: both leave in factory state, B with `qa: failed`."""
    from dataclasses import replace

    from rig.sim.bench import relay_feeds_power
    from rig.station import Station
    from tests.fakes import ScriptedOperator

    factory, network = lab
    pins = {"A": (17, 27), "B": (22, 23)}
    cameras = {}
    for n, (name, cls) in enumerate((("A", SimCamera), ("B", TakesAnotherPassword)), start=5):
        camera = cls(CameraSpec.sample(n, boot_s=0.6, reset_hold_s=1.0)).start()
        network.add(camera)
        cameras[name] = wire_to_pins(camera, factory, relay=pins[name][0], solenoid=pins[name][1])
    bays = [
        gpio_bay(b, relay=r, solenoid=s, off_s=0.6, hold_s=1.3, boot_timeout_s=20)
        for b, (r, s) in pins.items()
    ]
    config = parse_config(
        rig_toml(target=network.target, network={"sadp_poll_s": 0.1, "settle_s": 0.3}, bays=bays)
    )
    config = replace(
        config, station=replace(config.station, qa=True), qa=QaConfig(snapshot_gap_s=0.1)
    )
    station = Station(
        config,
        clock=SystemClock(),
        data_dir=tmp_path,
        operator=ScriptedOperator(),
        scans=iter(f"{b} {c.spec.device_sn[-13:]}" for b, c in cameras.items()),
        pin_factory=factory,
        retry=False,
        qa=QaRequest(Password(BENCH), config),
    )
    assert station.run() == 1  # B failed its QA
    units = {u[0].bay: u for u in station.units}
    a = [(r.result.outcome.value, r.result.qa) for r in units["A"]]
    b = [(r.result.outcome.value, r.result.qa, r.result.qa_check) for r in units["B"]]
    assert a == [("reset_verified", None), ("reset_verified", "passed")]
    assert b == [
        ("reset_verified", None, None),
        ("not_reset", "failed", "identity"),
        ("reset_verified", None, None),  # the bay's hard reset after the pass
    ]
    assert all(c.in_factory_state for c in cameras.values())
    for relay, solenoid in pins.values():
        assert factory.pin(solenoid).state == 0 and relay_feeds_power(factory.pin(relay))
    with RecordStore(tmp_path) as store:
        jobs = store.jobs()
    [unit_b] = [u for u in json.loads(to_json(jobs)) if u["bay"] == "B"]
    assert (unit_b["outcome"], unit_b["qa"], unit_b["qa_check"]) == (
        "reset_verified",
        "failed",
        "identity",
    )
    assert len(unit_b["attempts"]) == 2  # the two hard resets; the QA job is not an attempt
