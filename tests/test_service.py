"""`rig run` as a systemd service: sd_notify on a socket of the test's own, the watchdog that
pings only while every party of the station is alive (and stops when one hangs), the unit and
the udev rule `rig install-service` writes, and progress lines fit for the journal.

No timing is asserted: the tests wait for messages (with generous timeouts) and count pings
only loosely, over real holds whose length the config fixes."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
import uuid
from collections.abc import Callable, Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from rig.cli import _parser, main
from rig.clock import FakeClock, SystemClock
from rig.config import EXAMPLE_CONFIG, parse_config
from rig.notify import Liveness, Notifier, Watchdog
from rig.progress import Progress
from rig.sim.network import SimNetwork
from rig.station import Station, liveness_grace_s
from rig.systemd import RULES_NAME, UNIT_NAME
from tests.fakes import ScriptedOperator
from tests.test_station import Scans, config_text, label, wire

ROOT = Path(__file__).resolve().parent.parent
ANSI = re.compile(r"\x1b")

# -- a notification socket of our own ---------------------------------------------------------


class NotifySocket:
    """The service manager's end: a datagram socket; each message a dict of its KEY=VALUE."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.seen: list[dict[str, str]] = []

    def env(self, **extra: str) -> dict[str, str]:
        shown = "@" + self.address[1:] if self.address.startswith("\0") else self.address
        return {"NOTIFY_SOCKET": shown, **extra}

    def recv(self, timeout_s: float) -> dict[str, str] | None:
        self.sock.settimeout(max(timeout_s, 0.001))
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return None
        message = dict(line.split("=", 1) for line in data.decode().split("\n"))
        self.seen.append(message)
        return message

    def until(self, predicate: Callable[[dict[str, str]], bool], timeout_s: float = 30) -> list:
        """Every message up to and including the first that `predicate` accepts."""
        got = []
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            message = self.recv(left)
            if message is None:
                break
            got.append(message)
            if predicate(message):
                return got
        raise AssertionError(f"no such message within {timeout_s} s; got {got}")

    def during(self, seconds: float) -> list[dict[str, str]]:
        got = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if (message := self.recv(left)) is not None:
                got.append(message)
        return got

    def close(self) -> None:
        self.sock.close()


def pings(messages: list[dict[str, str]]) -> int:
    return sum(m.get("WATCHDOG") == "1" for m in messages)


def is_stalled(bay: str) -> Callable[[dict[str, str]], bool]:
    return lambda m: m.get("STATUS", "").startswith("stalled") and f"bay {bay}" in m["STATUS"]


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[NotifySocket]:
    path = tmp_path / "notify"
    if len(str(path)) > 100:  # sun_path is 108 bytes
        path = Path("/tmp") / f"rig-notify-{uuid.uuid4().hex[:12]}"
    sock = NotifySocket(str(path))
    yield sock
    sock.close()
    path.unlink(missing_ok=True)


class Now:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


# -- sd_notify ----------------------------------------------------------------------------


def test_without_notify_socket_everything_is_a_no_op() -> None:
    notifier = Notifier.from_env({"WATCHDOG_USEC": "200000"})
    assert not notifier.enabled and notifier.watchdog_s is None
    assert not notifier.ready("x") and not notifier.watchdog() and not notifier.stopping()
    watchdog = Watchdog(notifier, Liveness()).start()
    assert not watchdog.active  # systemd asked for none
    watchdog.stop()


def test_ready_status_and_stopping_reach_the_socket(notify: NotifySocket) -> None:
    notifier = Notifier.from_env(notify.env())
    assert notifier.ready("ready: 2 bay(s)")
    assert notifier.status("two\nlines")  # one message, one line each
    assert notifier.stopping("stopping")
    assert [notify.recv(5) for _ in range(3)] == [
        {"READY": "1", "STATUS": "ready: 2 bay(s)"},
        {"STATUS": "two lines"},
        {"STOPPING": "1", "STATUS": "stopping"},
    ]
    notifier.close()


def test_an_abstract_socket_is_named_with_an_at_sign() -> None:
    sock = NotifySocket(f"\0rig-test-{uuid.uuid4().hex}")
    try:
        notifier = Notifier.from_env(sock.env())
        assert notifier.address is not None and notifier.address.startswith("\0")
        assert notifier.ready()
        assert sock.recv(5) == {"READY": "1"}
    finally:
        sock.close()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"WATCHDOG_USEC": "200000"}, 0.2),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "{pid}"}, 30.0),
        ({"WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"}, None),  # another process's
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "2e5"}, None),
        ({}, None),
    ],
)
def test_the_watchdog_interval_comes_from_the_environment(
    notify: NotifySocket, env: dict[str, str], expected: float | None
) -> None:
    env = {k: v.format(pid=os.getpid()) for k, v in env.items()}
    assert Notifier.from_env(notify.env(**env)).watchdog_s == expected


def test_a_failed_send_is_logged_once_and_never_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = Notifier.from_env({"NOTIFY_SOCKET": str(tmp_path / "nobody-listens")})
    assert not notifier.ready() and not notifier.watchdog()
    assert len([r for r in caplog.records if "systemd notify failed" in r.getMessage()]) == 1
    assert Notifier.from_env({"NOTIFY_SOCKET": "relative/path"}).enabled is False


# -- the liveness rule --------------------------------------------------------------------


def test_a_working_party_is_alive_for_the_grace_after_each_beat() -> None:
    now = Now()
    liveness = Liveness(grace_s=10, monotonic=now)
    party = liveness.party("bay A")
    party.beat("identifying the unit")
    now.t += 9
    assert liveness.problems() == []
    now.t += 2
    assert liveness.problems() == ["bay A: stuck for 11 s (identifying the unit)"]
    party.beat("checking factory state")
    assert liveness.problems() == []


def test_a_known_long_wait_is_alive_until_its_end_plus_the_grace() -> None:
    now = Now()
    liveness = Liveness(grace_s=10, monotonic=now)
    party = liveness.party("bay A")
    party.wait_until(now.t + 180, "waiting for the unit to boot")  # longer than any grace
    now.t += 189
    assert liveness.problems() == []
    now.t += 2
    assert liveness.problems() == ["bay A: stuck for 191 s (waiting for the unit to boot)"]
    party.wait_until(None, "checking factory state")  # no deadline: a beat
    now.t += 11
    assert liveness.problems() == ["bay A: stuck for 11 s (checking factory state)"]


def test_an_idle_party_is_alive_however_long_it_waits_for_work() -> None:
    now = Now()
    liveness = Liveness(grace_s=10, monotonic=now)
    liveness.party("station").idle("waiting for a scan")
    liveness.party("bay A").idle("ready: waiting for a unit")
    now.t += 8 * 3600  # a night without a scan
    assert liveness.problems() == []


def test_a_party_whose_thread_ended_unclosed_is_dead_and_a_closed_one_is_gone() -> None:
    liveness = Liveness(grace_s=10, monotonic=Now())
    crashed = threading.Thread(target=lambda: None)
    crashed.start()
    crashed.join()
    party = liveness.party("bay A", crashed)
    party.idle("ready: waiting for a unit")
    assert liveness.problems() == ["bay A: its thread ended (ready: waiting for a unit)"]
    party.close()
    assert liveness.problems() == []
    assert liveness.party("bay B") is not liveness.party("bay B")  # registered again: replaced
    assert [p.name for p in liveness.parties()] == ["bay B"]


def test_the_station_grace_covers_its_slowest_step_without_a_deadline() -> None:
    quick = parse_config(config_text("127.0.0.1:1", "A"))
    assert liveness_grace_s(quick) == 60
    slow = config_text("127.0.0.1:1", "A").replace("[network]", "[network]\nhttp_timeout_s = 30")
    assert liveness_grace_s(parse_config(slow)) >= 4 * 30


# -- the watchdog -------------------------------------------------------------------------


def test_the_watchdog_pings_only_while_every_party_is_alive(
    notify: NotifySocket, caplog: pytest.LogCaptureFixture
) -> None:
    now = Now()
    liveness = Liveness(grace_s=10, monotonic=now)
    main_party = liveness.party("station")
    main_party.idle("waiting for a scan")
    stuck = threading.Event()
    bay = threading.Thread(target=stuck.wait, name="bay-A", daemon=True)
    bay.start()
    party = liveness.party("bay A", bay)
    party.beat("holding")
    notifier = Notifier.from_env(notify.env(WATCHDOG_USEC="200000"))
    with Watchdog(notifier, liveness) as watchdog:
        assert watchdog.active and watchdog.interval_s == 0.2
        # Healthy: a ping every half interval (counted loosely).
        assert pings(notify.until(lambda _: pings(notify.seen) >= 3)) >= 3
        # The bay stops showing signs of life (its thread sits in a wait nobody ends).
        now.t += 11
        notify.until(is_stalled("A"))
        assert pings(notify.during(1.0)) == 0  # five periods, not one ping
        logged = [r.getMessage() for r in caplog.records if "thread bay-A" in r.getMessage()]
        assert logged and "in wait" in logged[0]  # the stuck thread's stack, once
        # It shows a sign of life again: the pings resume.
        party.beat("checking factory state")
        notify.until(lambda m: m.get("WATCHDOG") == "1")
    stuck.set()


def test_the_watchdog_stops_pinging_for_a_worker_whose_thread_died(
    notify: NotifySocket,
) -> None:
    liveness = Liveness(grace_s=10, monotonic=Now())
    died = threading.Thread(target=lambda: None, name="bay-A")
    died.start()
    died.join()
    liveness.party("bay A", died).idle("ready: waiting for a unit")
    notifier = Notifier.from_env(notify.env(WATCHDOG_USEC="200000"))
    with Watchdog(notifier, liveness):
        got = notify.until(is_stalled("A"))
        assert pings(got) == 0 and "its thread ended" in got[-1]["STATUS"]


# -- a real station -----------------------------------------------------------------------


def start_station(station: Station) -> tuple[threading.Thread, list[int]]:
    code: list[int] = []
    thread = threading.Thread(target=lambda: code.append(station.run()), daemon=True)
    thread.start()
    return thread, code


def test_the_station_is_ready_pings_through_a_reset_and_says_stopping(
    lab: tuple[MockFactory, SimNetwork],
    tmp_path: Path,
    notify: NotifySocket,
    capsys: pytest.CaptureFixture[str],
) -> None:
    factory, network = lab
    camera = wire(factory, network, "A", 1)
    scans = Scans()
    station = Station(
        parse_config(config_text(network.target, "A")),
        clock=SystemClock(),
        data_dir=tmp_path,
        operator=ScriptedOperator(),
        scans=scans,
        pin_factory=factory,
        notifier=Notifier.from_env(notify.env(WATCHDOG_USEC="200000")),
    )
    thread, code = start_station(station)
    ready = notify.until(lambda m: "READY" in m)
    assert ready[-1] == {"READY": "1", "STATUS": "ready: 1 bay(s), waiting for scans"}
    scans.scan(label(camera))
    # The unit's off time, 1.5 s hold and boot pass with pings all along (loosely: >= 3).
    during = notify.until(lambda m: m.get("STATUS", "").startswith("units done 1"))
    assert pings(during) >= 3
    scans.close()
    thread.join(timeout=60)
    assert code == [0]
    assert station.units[0][-1].result.outcome.value == "reset_verified"
    rest = notify.during(0.3)
    assert rest and rest[-1]["STOPPING"] == "1" and "units done 1" in rest[-1]["STATUS"]
    assert not any(m.get("STATUS", "").startswith("stalled") for m in notify.seen)
    # What the journal would get: plain lines, each saying what it is about.
    err = capsys.readouterr().err
    assert not ANSI.search(err)
    assert "bay A: holding" in err and "bay A: reset_verified (1 attempt(s))" in err
    assert all(line.startswith(("bay A: ", "station: ")) for line in err.splitlines())


def test_a_deadlocked_bay_stops_the_pings_and_they_resume_when_it_is_freed(
    lab: tuple[MockFactory, SimNetwork],
    tmp_path: Path,
    notify: NotifySocket,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    factory, network = lab
    held = threading.Lock()
    held.acquire()  # a lock nobody will give back: the worker blocks on it for good

    def deadlocked_run_unit(*args: Any, **kwargs: Any) -> None:
        with held:
            pass
        raise RuntimeError("freed by the test")

    monkeypatch.setattr("rig.station.run_unit", deadlocked_run_unit)
    scans = Scans()
    operator = ScriptedOperator()
    station = Station(
        parse_config(config_text(network.target, "A")),
        clock=SystemClock(),
        data_dir=tmp_path,
        operator=operator,
        scans=scans,
        pin_factory=factory,
        notifier=Notifier.from_env(notify.env(WATCHDOG_USEC="200000")),
        liveness=Liveness(grace_s=0.3),
    )
    thread, code = start_station(station)
    notify.until(lambda m: "READY" in m)
    notify.until(lambda m: m.get("WATCHDOG") == "1")  # idle bays are alive
    scans.scan("AAWRJ1234567")
    stalled = notify.until(is_stalled("A"))
    assert "bay A: stuck" in stalled[-1]["STATUS"]
    assert pings(notify.during(1.0)) == 0
    held.release()  # the worker gets on: the unit fails, the bay is ready again
    notify.until(lambda m: m.get("WATCHDOG") == "1")
    assert "bay A: failed: freed by the test" in operator.told
    scans.close()
    thread.join(timeout=60)
    assert code == [0] and notify.during(0.3)[-1]["STOPPING"] == "1"


MANUAL_STATION = """
[station]
name = "lab-1"
{scanner}

[[bays]]
name = "A"
power = {{ gpio = 17, active_high = false }}
presser = {{ gpio = 27 }}
verify = "manual"
"""


def test_rig_run_under_systemd_notifies_and_stops_safely_on_sigterm(
    tmp_path: Path, notify: NotifySocket
) -> None:
    """The service's way: --no-stdin, stdin /dev/null, scans from a scanner (unplugged here,
    so waited for); READY, pings, then SIGTERM: STOPPING and every bay safe."""
    config = tmp_path / "rig.toml"
    config.write_text(MANUAL_STATION.format(scanner='scanner = "/dev/input/by-id/no-such-kbd"'))
    records = str(tmp_path / "records")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rig",
            "run",
            "--no-stdin",
            "--config",
            str(config),
            "--data-dir",
            records,
        ],
        env={
            **os.environ,
            "GPIOZERO_PIN_FACTORY": "mock",
            **notify.env(WATCHDOG_USEC="200000"),
        },
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        notify.until(lambda m: "READY" in m)
        assert pings(notify.until(lambda _: pings(notify.seen) >= 3)) >= 3
        assert proc.poll() is None  # the end of /dev/null did not end the station
        proc.send_signal(signal.SIGTERM)
        notify.until(lambda m: m.get("STOPPING") == "1")
        assert proc.wait(timeout=30) == 1  # stopped by a signal
    finally:
        if proc.poll() is None:
            proc.kill()
    _, err = proc.communicate()
    assert "station ready" in err and not ANSI.search(err)


def test_no_stdin_without_a_scanner_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "rig.toml"
    config.write_text(MANUAL_STATION.format(scanner=""))
    assert main(["run", "--no-stdin", "--config", str(config)]) == 2
    assert capsys.readouterr().err == (
        f"rig: error: --no-stdin: no scan could come: set [station] scanner in {config}\n"
    )


# -- journal-friendly progress ------------------------------------------------------------


def test_progress_off_a_terminal_is_plain_unwrapped_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    clock = FakeClock()
    with (tmp_path / "stderr").open("w") as journal:
        monkeypatch.setattr(sys, "stderr", journal)  # a file, as the journal's stream is
        with Progress(clock) as progress:
            progress.stage("A", "holding", clock.monotonic() + 18)
            progress.stage("B", "waiting for the unit to boot [" + "x" * 150 + "]")
            progress.outcome("A", "reset_verified (1 attempt(s))")
            progress.summary("units done 1  verified 1  yield 100 %  [bold]3.0[/] units/hour")
    assert (tmp_path / "stderr").read_text().splitlines() == [
        "bay A: holding ( 18.0 s left)",
        "bay B: waiting for the unit to boot [" + "x" * 150 + "]",
        "bay A: reset_verified (1 attempt(s))",
        "station: units done 1  verified 1  yield 100 %  [bold]3.0[/] units/hour",
    ]


# -- install-service ----------------------------------------------------------------------


def exec_start(unit: str) -> list[str]:
    [line] = [line for line in unit.splitlines() if line.startswith("ExecStart=")]
    return shlex.split(line.removeprefix("ExecStart="))


def keys(unit: str) -> dict[str, str]:
    return dict(
        line.split("=", 1) for line in unit.splitlines() if "=" in line and line[0] not in "#;"
    )


def test_install_service_stages_the_unit_the_rule_and_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["install-service", "--root", str(tmp_path), "--user", "rigsvc"]) == 0
    unit_path = tmp_path / "etc/systemd/system/rig.service"
    rules_path = tmp_path / "etc/udev/rules.d/99-rig-boards.rules"
    config_path = tmp_path / "etc/rig/rig.toml"
    unit = unit_path.read_text()
    k = keys(unit)
    assert k["Type"] == "notify" and k["WatchdogSec"] == "30" and k["User"] == "rigsvc"
    assert k["WatchdogSignal"] == "SIGTERM" and k["KillSignal"] == "SIGTERM"
    assert k["Restart"] == "always" and k["RestartPreventExitStatus"] == "2"
    assert k["SupplementaryGroups"].split() == ["gpio", "dialout", "input"]
    assert k["StateDirectory"] == "rig" and k["ConfigurationDirectory"] == "rig"
    assert k["StandardInput"] == "null" and k["Environment"] == "PYTHONUNBUFFERED=1"
    # ExecStart is a command line rig itself accepts.
    argv = exec_start(unit)
    assert argv[-2:] == ["--data-dir", "${STATE_DIRECTORY}"]
    args = _parser().parse_args(argv[argv.index("run") :])
    assert (args.command, args.no_stdin, str(args.config)) == ("run", True, "/etc/rig/rig.toml")
    assert Path(argv[0]).name in ("rig", Path(sys.executable).name)

    rules = rules_path.read_text()
    assert (
        'ATTRS{idVendor}=="2e8a", ATTRS{idProduct}=="0005", ENV{ID_MM_DEVICE_IGNORE}="1"\n' in rules
    )
    board = next(line for line in rules.splitlines() if "SYMLINK" in line)
    assert board == (
        'SUBSYSTEM=="tty", ATTRS{idVendor}=="2e8a", ATTRS{idProduct}=="0005", '
        'ATTRS{serial}=="<SERIAL>", SYMLINK+="rig-board-b1", ENV{ID_MM_DEVICE_IGNORE}="1", '
        'MODE="0660", GROUP="dialout"'
    )
    assert "udevadm info -a -n /dev/ttyACM0" in rules and "ls -l /dev/serial/by-id/" in rules
    assert config_path.read_text() == EXAMPLE_CONFIG
    out = capsys.readouterr().out
    for command in (
        "sudo systemctl daemon-reload && sudo systemctl enable --now rig",
        "sudo udevadm control --reload && sudo udevadm trigger",
        "journalctl -u rig -f",
    ):
        assert command in out
    assert f"wrote {unit_path}" in out


def test_install_service_again_keeps_the_edited_rule_and_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["install-service", "--root", str(tmp_path)]) == 0
    rules = tmp_path / "etc/udev/rules.d/99-rig-boards.rules"
    config = tmp_path / "etc/rig/rig.toml"
    rules.write_text("# edited: E6614103E7\n")
    config.write_text("# edited\n")
    assert main(["install-service", "--root", str(tmp_path), "--user", "bench"]) == 0
    assert rules.read_text() == "# edited: E6614103E7\n" and config.read_text() == "# edited\n"
    assert "User=bench\n" in (tmp_path / "etc/systemd/system/rig.service").read_text()
    assert f"kept {rules} (already there)" in capsys.readouterr().out


def test_install_service_with_another_prefix(tmp_path: Path) -> None:
    assert main(["install-service", "--root", str(tmp_path), "--prefix", "/usr/local/etc"]) == 0
    unit = (tmp_path / "usr/local/etc/systemd/system/rig.service").read_text()
    assert (tmp_path / "usr/local/etc/udev/rules.d/99-rig-boards.rules").is_file()
    assert (tmp_path / "usr/local/etc/rig/rig.toml").is_file()
    argv = exec_start(unit)
    assert argv[argv.index("--config") + 1] == "/usr/local/etc/rig/rig.toml"


def test_install_service_refuses_in_one_line_when_not_root(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("rig.systemd.os.geteuid", lambda: 1000)
    assert main(["install-service"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.splitlines()
    assert line.startswith("rig: error: install-service writes to /etc: run it as root (sudo ")
    assert line.endswith("or stage it with --root DIR")


@pytest.mark.parametrize("user", ["rig\nExecStartPre=/bin/sh", "Rig", ""])
def test_install_service_refuses_a_user_that_is_no_user_name(
    tmp_path: Path, user: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["install-service", "--root", str(tmp_path), "--user", user]) == 2
    assert "is not a user name" in capsys.readouterr().err
    assert not (tmp_path / "etc").exists()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_accepts_the_staged_unit(tmp_path: Path) -> None:
    assert main(["install-service", "--root", str(tmp_path)]) == 0
    unit = tmp_path / "etc/systemd/system/rig.service"
    proc = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    # Offline, verify may still grumble about this machine (no `rig` user, no network target
    # state); what it must not find is a setting it does not understand.
    problems = [
        line
        for line in (proc.stdout + proc.stderr).splitlines()
        if re.search(r"[Uu]nknown (key|section|lvalue)|[Ff]ailed to parse|[Ii]nvalid", line)
    ]
    assert problems == []


def test_the_unit_and_the_rule_are_package_data() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["rig.systemd"]
    assert sorted(patterns) == ["*.rules", "*.service"]
    here = files("rig.systemd")
    assert here.joinpath(UNIT_NAME).is_file() and here.joinpath(RULES_NAME).is_file()
    assert not (ROOT / "systemd").exists()  # one place: rig/systemd/
