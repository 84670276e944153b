"""`rig reset --software` end to end against simulated cameras on 127.0.0.1, in real time.

The parser is built the way rig.cli builds `rig reset` (--config, --data-dir, --bay, --serial,
--json, --retry) plus `rig.software.command.add_arguments`, and `run()` is called as the reset
command will. The config has no bays: a software reset needs none.
Every unit is found over the simulated SADP segment and reset over its simulated ISAPI; the
camera itself counts the logins and requests it saw.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rig.cli import main
from rig.errors import ConfigError
from rig.network.isapi import IsapiClient
from rig.records.export import to_csv, to_json
from rig.records.store import RecordStore
from rig.sim.camera import CameraSpec, SimCamera
from rig.sim.network import SimNetwork
from rig.software.command import add_arguments, check_software_flags, run
from rig.software.targets import Password, Target, read_targets_csv

PASSWORD = "Bench-Secret-1"  # the simulated cameras' default admin password
FAST = {"boot_s": 0.4}
HARD_RESET_KEYS = {
    "job_id",
    "bay",
    "outcome",
    "reason",
    "mac",
    "serial",
    "model",
    "firmware",
    "hold_s",
    "steps",
    "qa",  # the QA pass's verdict: null on every job that is not one
    "qa_check",
}
UUID = "8282F1DB-2FA6-4D4B-A07C-3B7D1C1B6E55"

CONFIG = """
[station]
name = "sw"
data_dir = "{data_dir}"

[network]
sadp_target = "{target}"
sadp_poll_s = 0.1
settle_s = 0.3
http_timeout_s = 2
"""


def reset_parser() -> argparse.ArgumentParser:
    """`rig reset`'s own flags, as rig.cli defines them, plus the software ones."""
    parser = argparse.ArgumentParser(prog="rig reset")
    parser.add_argument("--config", type=Path, default=Path("rig.toml"))
    parser.add_argument("--data-dir")
    parser.add_argument("--bay", action="append")
    parser.add_argument("--serial")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--retry", action="store_true")
    add_arguments(parser)
    return parser


class MisroutedCamera(SimCamera):
    """Answers SADP itself but names another unit's web port: two units on one IP address."""

    def __init__(self, spec: CameraSpec, web_of: SimCamera) -> None:
        super().__init__(spec)
        self.web_of = web_of

    @property
    def http_port(self) -> int:
        return self.web_of.http_port


class Lab:
    def __init__(self, tmp_path: Path, network: SimNetwork) -> None:
        self.tmp_path = tmp_path
        self.network = network
        self.cameras: list[SimCamera] = []
        self.data_dir = tmp_path / "records"
        self.config = tmp_path / "rig.toml"
        self.config.write_text(CONFIG.format(data_dir=self.data_dir, target=network.target))

    def camera(self, n: int, cls: Callable[..., SimCamera] = SimCamera, **spec: Any) -> SimCamera:
        web_of = spec.pop("web_of", None)
        made = CameraSpec.sample(n, **{**FAST, **spec})
        camera = (cls(made, web_of) if web_of is not None else cls(made)).start()
        self.cameras.append(camera)
        self.network.add(camera)
        return camera

    def args(self, *argv: str) -> argparse.Namespace:
        return reset_parser().parse_args(["--software", "--config", str(self.config), *argv])

    def reset(
        self, capsys: pytest.CaptureFixture[str], *argv: str
    ) -> tuple[int, list[dict[str, Any]]]:
        capsys.readouterr()
        # Through the real command line: `rig reset --software ...`.
        code = main(["reset", "--software", "--config", str(self.config), "--json", *argv])
        out = capsys.readouterr().out.splitlines()
        return code, [json.loads(line) for line in out]

    def record(self, job_id: int) -> dict[str, Any]:
        with RecordStore(self.data_dir) as store:
            return store.job(job_id)


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lab]:
    monkeypatch.setenv("RIG_PASSWORD", PASSWORD)
    network = SimNetwork().start()
    lab = Lab(tmp_path, network)
    try:
        yield lab
    finally:
        for camera in lab.cameras:
            camera.stop()
        network.stop()


def names(job: dict[str, Any]) -> list[str]:
    return [s["name"] for s in job["steps"]]


def step(job: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in job["steps"] if s["name"] == name)["details"]


def puts(camera: SimCamera) -> list[str]:
    return [target for method, target in camera.requests_seen if method == "PUT"]


# --- the resets -------------------------------------------------------------------------------


def test_full_reset_by_mac_ends_inactive(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    camera = lab.camera(1)
    neighbour = lab.camera(2)  # same password, same network: must never be touched
    code, [job] = lab.reset(capsys, "--mac", camera.spec.mac.replace("-", ":").upper())
    assert (code, job["outcome"]) == (0, "reset_verified"), job["reason"]
    assert job["reason"] == "inactive: factory state (SADP and activateStatus)"
    assert set(job) == HARD_RESET_KEYS and job["hold_s"] is None
    assert (job["mac"], job["serial"]) == (camera.spec.mac, camera.spec.device_sn)
    assert names(job) == [
        "find",
        "identify_login",
        "factory_reset",
        "reboot",
        "wait_down",
        "wait_back",
        "verify",
    ]
    assert camera.in_factory_state and camera.last_reset == "full" and camera.resets == 1
    assert camera.logins == [("admin", True)] * 3  # deviceInfo, factoryReset, reboot
    assert neighbour.activated and neighbour.requests_seen == []
    record = lab.record(job["job_id"])
    # No bay was used, so none is named (not in the records, not in --json).
    assert (record["procedure"], record["bay"], record["profile"]) == (
        "software-full",
        None,
        "hikvision-generic",
    )
    assert job["bay"] is None
    assert record["outcome"] == "reset_verified" and record["mac"] == camera.spec.mac
    assert names(record) == names(job)  # every step committed to the records
    login = step(record, "identify_login")
    assert login["status"] == 200 and camera.spec.device_sn in login["body"]


def test_reboot_required_then_reboot_in_order(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    camera = lab.camera(1)
    code, [job] = lab.reset(capsys, "--serial", camera.spec.device_sn[-13:])
    assert (code, job["outcome"]) == (0, "reset_verified"), job["reason"]
    # Each PUT is seen twice: the challenge leg, then the one request with credentials.
    assert (
        puts(camera) == ["/ISAPI/System/factoryReset?mode=full"] * 2 + ["/ISAPI/System/reboot"] * 2
    )
    assert step(job, "factory_reset")["status_code"] == 7  # "Reboot Required"
    assert step(job, "factory_reset")["status_string"] == "Reboot Required"
    assert step(job, "reboot")["status_code"] == 1
    assert step(job, "wait_down")["gone"] is True and step(job, "wait_back")["back"] is True


def test_basic_restore_keeps_the_network_settings(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    camera = lab.camera(1)
    code, [job] = lab.reset(capsys, "--mode", "basic", "--mac", camera.spec.mac)
    assert (code, job["outcome"]) == (0, "reset_verified"), job["reason"]
    assert job["reason"] == "restored (basic): network settings kept"
    assert camera.last_reset == "basic" and camera.activated and camera.dhcp
    assert puts(camera)[0] == "/ISAPI/System/factoryReset?mode=basic"
    verify = step(job, "verify")
    assert verify["network_before"] == verify["network_after"]
    assert verify["network_after"]["DHCP"] is True and verify["activated_after"] is True
    record = lab.record(job["job_id"])
    assert (record["procedure"], record["bay"]) == ("software-basic", None)


def test_old_firmware_full_reset_gets_the_factory_login_back(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    camera = lab.camera(1, firmware="V5.2.5build 141201")
    code, [job] = lab.reset(capsys, "--mac", camera.spec.mac)
    assert (code, job["outcome"]) == (0, "reset_verified"), job["reason"]
    assert job["reason"] == "the factory default login works (firmware < 5.3)"
    assert camera.password == "12345"
    assert camera.logins == [("admin", True)] * 4  # three with ours, one with admin/12345


def test_wrong_password_resets_nothing_with_one_login(
    lab: Lab, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    camera = lab.camera(1)
    monkeypatch.setenv("RIG_PASSWORD", "not-the-password")
    code, [job] = lab.reset(capsys, "--mac", camera.spec.mac)
    assert (code, job["outcome"]) == (1, "not_reset")
    assert job["reason"] == "wrong password (401): nothing was reset"
    assert camera.logins == [("admin", False)]  # exactly one failed login, no retry
    assert puts(camera) == [] and camera.activated and camera.resets == 0
    assert names(job) == ["find", "identify_login"]
    assert step(job, "identify_login")["login_attempts"] == 1


def test_locked_camera_reports_the_lock_and_logs_in_no_more(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    camera = lab.camera(1, lock_after_failures=1, lock_s=600)
    with IsapiClient(*camera.http_address, timeout_s=2) as client:
        client.device_info("admin", "a-typo")  # someone else's failed login locks it
    assert camera.logins == [("admin", False)]
    code, [job] = lab.reset(capsys, "--mac", camera.spec.mac)
    assert (code, job["outcome"]) == (1, "not_reset")
    match = re.fullmatch(
        r"the camera has locked this rig out \((\d+) s left\): no login attempted, "
        r"nothing was reset",
        job["reason"],
    )
    assert match and 590 <= int(match[1]) <= 600, job["reason"]
    assert camera.logins == [("admin", False)]  # not one login more
    assert step(job, "identify_login")["login_attempts"] == 0
    assert step(job, "identify_login")["lock"]["locked"] is True
    assert puts(camera) == [] and camera.resets == 0


def test_wrong_unit_at_the_address_is_never_reset(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    other = lab.camera(2)  # shares the address; answers the web requests
    named = lab.camera(1, cls=MisroutedCamera, web_of=other)
    code, [job] = lab.reset(capsys, "--mac", named.spec.mac)
    assert (code, job["outcome"]) == (1, "wrong_device")
    assert job["reason"] == (
        f"the web answer is from serial {other.spec.device_sn}, not {named.spec.device_sn}: "
        "nothing was reset"
    )
    assert puts(other) == [] and puts(named) == []  # factoryReset never requested
    assert other.resets == 0 and named.resets == 0 and other.activated and named.activated


def test_from_csv_two_units_one_prompt(
    lab: Lab, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = lab.camera(1)
    second = lab.camera(2, password="Own-Password-2")
    sheet = lab.tmp_path / "units.csv"
    sheet.write_text(
        f"Serial,MAC,password,notes\n"
        f"{first.spec.device_sn[-13:]},,,shelf 3\n"
        f",{second.spec.mac},Own-Password-2,box 7\n"
    )
    monkeypatch.delenv("RIG_PASSWORD")
    prompts: list[str] = []
    monkeypatch.setattr("rig.software.command._stdin_is_tty", lambda: True)
    monkeypatch.setattr("getpass.getpass", lambda prompt: prompts.append(prompt) or PASSWORD)
    code, jobs = lab.reset(capsys, "--from-csv", str(sheet))
    assert code == 0, [j["reason"] for j in jobs]
    assert [(j["mac"], j["outcome"]) for j in jobs] == [
        (first.spec.mac, "reset_verified"),
        (second.spec.mac, "reset_verified"),
    ]
    assert len(prompts) == 1  # one prompt for all the units without their own password
    assert first.in_factory_state and second.in_factory_state
    assert second.logins[0] == ("admin", True)  # its own password from the sheet


def test_password_never_leaks(
    lab: Lab,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shared, own = "Canary-Shared-7731x", "Canary-Sheet-4242y"
    by_web = lab.camera(1, password=shared)
    from_sheet = lab.camera(2, password=own)
    by_mac = lab.camera(3, password=shared)
    refused = lab.camera(4)  # gets the shared password, which is wrong for it: a 401 body
    sheet = lab.tmp_path / "units.csv"
    sheet.write_text(
        f"mac,password\n{by_web.spec.mac},\n{from_sheet.spec.mac},{own}\n{refused.spec.mac},\n"
    )
    monkeypatch.setenv("RIG_PASSWORD", shared)
    caplog.set_level(logging.DEBUG)
    # Hold a connection open so SQLite keeps its WAL file for us to read, too.
    with RecordStore(lab.data_dir) as store:
        capsys.readouterr()
        code_csv = run(lab.args("--json", "--from-csv", str(sheet)))
        code_mac = run(lab.args("--json", "--mac", by_mac.spec.mac))
        captured = capsys.readouterr()
        jobs = store.jobs()
        files = {p.name: p.read_bytes() for p in lab.data_dir.iterdir()}
    assert (code_csv, code_mac) == (1, 0)
    outcomes = [j["outcome"] for j in jobs]
    assert outcomes == ["reset_verified", "reset_verified", "not_reset", "reset_verified"]
    assert "rig.sqlite3-wal" in files and all(files.values())
    haystacks: dict[str, str | bytes] = {
        "stdout": captured.out,
        "stderr": captured.err,
        "logs": caplog.text + "".join(repr(r.args) for r in caplog.records),
        "report json": to_json(jobs),
        "report csv": to_csv(jobs),
        **{f"file {name}": data for name, data in files.items()},
    }
    assert len(captured.out.splitlines()) == 4
    for secret in (shared, own):
        for where, text in haystacks.items():
            needle: str | bytes = secret.encode() if isinstance(text, bytes) else secret
            assert needle not in text, f"the password is in the {where}"
            if isinstance(text, bytes):  # SQLite may store text as UTF-16 too
                assert secret.encode("utf-16-le") not in text, f"the password is in the {where}"


def test_missing_password_without_a_tty_is_a_usage_error(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    camera = lab.camera(1)
    monkeypatch.delenv("RIG_PASSWORD")
    monkeypatch.setattr("rig.software.command._stdin_is_tty", lambda: False)
    with pytest.raises(ConfigError) as caught:
        run(lab.args("--mac", camera.spec.mac))
    message = str(caught.value)
    assert message == (
        "no password: set RIG_PASSWORD or run on a terminal to be asked (never on the command line)"
    )
    assert "\n" not in message
    assert camera.requests_seen == [] and not lab.data_dir.exists()  # nothing sent or written


# --- usage and input errors (exit 2: ConfigError, one line) -----------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "--software needs the unit: --mac MAC, --serial SN or --from-csv FILE"),
        (["--mac", "44-19-b6"], "--mac: MAC '44-19-b6' is not a MAC address"),
        (["--serial", "1234"], "--serial: '1234' is too short to identify a unit"),
        (
            ["--mac", "44-19-b6-00-00-01", "--bay", "A"],
            "--bay: a software reset uses no bay (it finds the unit on the network)",
        ),
        (
            ["--mac", "44-19-b6-00-00-01", "--retry"],
            "--retry: a software reset has no longer hold to retry with",
        ),
        (
            ["--serial", "AB CD1234"],
            "'AB CD1234' is not a serial (it holds spaces or control codes)",
        ),
        (
            ["--from-csv", "units.csv", "--mac", "44-19-b6-00-00-01"],
            "--from-csv names the units: no --mac or --serial with it",
        ),
    ],
)
def test_usage_errors(lab: Lab, argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        run(lab.args(*argv))
    assert str(caught.value).endswith(message) and "\n" not in str(caught.value)


def test_software_flags_without_software_are_refused() -> None:
    args = reset_parser().parse_args(["--mac", "44-19-b6-00-00-01", "--mode", "basic"])
    with pytest.raises(ConfigError, match=r"^--mode, --mac: only with --software$"):
        check_software_flags(args)
    check_software_flags(reset_parser().parse_args(["--serial", "ABCDEF123"]))  # a hard reset


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "line 1: no header row (expected a mac or serial column)"),
        ("name,notes\nx,y\n", "line 1: no mac or serial column in the header"),
        ("mac,mac\n", "line 1, column mac: named twice in the header"),
        ("mac\n", "no units listed under the header"),
        (
            "mac,notes\n44-19-b6-00-00-01,ok\nzz-top,bad\n",
            "line 3, column mac: MAC 'zz-top' is not a MAC address",
        ),
        ("serial\nAB12\n", "line 2, column serial: 'AB12' is too short to identify a unit"),
        ("mac,serial\n,\n\n44-19-b6-00-00-01,\n ,  \n", None),  # blank rows are skipped
        ("mac,serial\n44-19-b6-00-00-01,x,y\n", "line 2: 3 fields, but the header has 2"),
        (
            "mac\n44-19-b6-00-00-01\n44:19:B6:00:00:01\n",
            "line 3, column mac: same unit as line 2",
        ),
        ("mac,password\n", "no units listed under the header"),
        ('mac,serial\n"44-19-b6-00-00-01,\n', None),  # an unclosed quote swallows the rest
    ],
)
def test_bad_csv_names_file_line_and_column(tmp_path: Path, text: str, message: str | None) -> None:
    sheet = tmp_path / "units.csv"
    sheet.write_text(text)
    if message is None:
        try:
            read_targets_csv(sheet)
        except ConfigError as exc:
            assert str(exc).startswith(f"{sheet}: line ") and "\n" not in str(exc)
        return
    with pytest.raises(ConfigError) as caught:
        read_targets_csv(sheet)
    assert str(caught.value) == f"{sheet}: {message}"


def test_csv_reads_passwords_without_showing_them(tmp_path: Path) -> None:
    sheet = tmp_path / "units.csv"
    sheet.write_bytes(
        "\ufeffMAC;Serial;Password\n44:19:B6:00:00:01;;S3cret-One\n;AAWRJ12345002;\n".encode()
    )
    first, second = read_targets_csv(sheet)
    assert (first.mac, first.serial, second.mac, second.serial) == (
        "44-19-b6-00-00-01",
        None,
        None,
        "AAWRJ12345002",
    )
    assert first.password is not None and first.password.reveal() == "S3cret-One"
    assert second.password is None
    assert "S3cret" not in repr(first) + str(first.password) + repr([first.password])
    assert first.source == "units.csv line 2"
    with pytest.raises(ConfigError, match=r"missing\.csv: no such file$"):
        read_targets_csv(tmp_path / "missing.csv")


def test_password_and_target_hide_the_secret() -> None:
    password = Password("Hunter-22")
    target = Target(mac="44-19-b6-00-00-01", serial=None, password=password)
    assert "Hunter" not in f"{password} {password!r} {target} {target!r}"
    with pytest.raises(ConfigError):
        Password("")


# --- one session with every other reset -----------------------------------------------------


def test_a_software_reset_beside_a_running_station_refuses(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    from rig.records.lock import DataDirLock

    camera = lab.camera(1)
    capsys.readouterr()
    with DataDirLock(lab.data_dir):  # what a running `rig run` holds
        code = main(["reset", "--software", "--config", str(lab.config), "--mac", camera.spec.mac])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    busy = f"another rig (pid {os.getpid()}) is using the records in {lab.data_dir}"
    assert err[-1] == f"rig: error: {busy}"
    assert camera.requests_seen == [] and camera.activated  # nothing was sent


def test_a_job_a_killed_rig_left_running_is_closed_by_the_next_software_reset(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    from rig.job import Plan, ProcedureName

    with RecordStore(lab.data_dir) as store:
        plan = Plan(ProcedureName.SOFTWARE_FULL, off_s=0, hold_s=0, boot_timeout_s=240)
        orphan = store.start_job(station="sw", bay=None, profile="p", plan=plan, wall=1.0)
    camera = lab.camera(1)
    code, [job] = lab.reset(capsys, "--mac", camera.spec.mac)
    assert (code, job["outcome"]) == (0, "reset_verified"), job["reason"]
    record = lab.record(orphan)
    assert (record["outcome"], record["reason"]) == ("aborted", "interrupted")
