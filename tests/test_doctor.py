"""`rig doctor`: every check passing against real parts on loopback (the firmware's logic behind
a pty, a simulated camera answering SADP on 127.0.0.1, mock pins), then each failing on its own
with its exact line, the JSON output and the exit codes through `rig.cli.main`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory, MockPin

import rig.doctor as doctor
from rig.cli import main
from rig.config import BoardConfig, NetworkConfig, load_config
from rig.doctor import (
    Check,
    ClockState,
    DiskUsage,
    Status,
    check_board,
    check_clock,
    check_interface,
    check_records,
    check_rests,
    check_sadp,
    clock_state,
    port_users,
    run_checks,
    station_holder,
)
from rig.job import Plan, ProcedureName, Step, StepName
from rig.records.lock import DataDirLock
from rig.records.store import RecordStore
from rig.sim.bench import board_bay, gpio_bay, rig_toml
from rig.sim.board import SimBoard, load_firmware_module
from rig.sim.camera import CameraSpec, SimCamera
from rig.sim.network import SimNetwork

NOW = 1_750_000_000.0  # 2025-06-15 15:06:40 UTC
FREE = DiskUsage(total=64 * 10**9, used=10**9, free=12_300_000_000)
FW = load_firmware_module("rigboard").FW_VERSION
CAMERA = CameraSpec.sample(1)
NO_FLEET = "fleet: not configured (no [fleet]): records stay in this rig's SQLite file"


def synced() -> ClockState:
    return ClockState(True, "timedatectl")


def edges(**changes: Any) -> dict[str, Any]:
    """Every edge doctor touches, fixed: the disk's free space, the clock, its sync state."""
    values: dict[str, Any] = {
        "clock_probe": synced,
        "now": lambda: NOW,
        "disk_usage": lambda path: FREE,
        "sadp_window_s": 1.0,
    }
    return {**values, **changes}


def lines(checks: list[Check]) -> list[str]:
    return [c.line() for c in checks]


@pytest.fixture
def board() -> Iterator[SimBoard]:
    with SimBoard(channels=4) as sim:
        yield sim


@pytest.fixture
def network() -> Iterator[SimNetwork]:
    with SimCamera(CAMERA).start() as camera, SimNetwork([camera]) as net:
        yield net


@pytest.fixture
def empty_network() -> Iterator[SimNetwork]:
    with SimNetwork() as net:
        yield net


class Bench:
    """A config on disk: bay A on the Pi's GPIOs, bay B on channel 1 of board b1."""

    def __init__(self, tmp_path: Path, target: str, board_port: str) -> None:
        self.tmp_path = tmp_path
        self.target = target
        self.board_port = board_port
        self.path = tmp_path / "rig.toml"
        self.data_dir = tmp_path / "records"
        self.write()

    def write(
        self,
        *,
        bays: list[dict[str, Any]] | None = None,
        network: dict[str, Any] | None = None,
        board_port: str | None = None,
    ) -> Path:
        self.path.write_text(
            rig_toml(
                target=self.target,
                bays=bays
                if bays is not None
                else [
                    gpio_bay("A", relay=17, solenoid=27),
                    board_bay("B", board="b1", channel=1),
                ],
                network=network,
                boards={"b1": board_port or self.board_port},
                data_dir=str(self.data_dir),
            )
        )
        return self.path

    def run(self, **changes: Any) -> list[Check]:
        return run_checks(self.path, None, **edges(**changes))


@pytest.fixture
def bench(tmp_path: Path, board: SimBoard, network: SimNetwork) -> Bench:
    return Bench(tmp_path, network.target, board.port)


def record_press(data_dir: Path, bay: str, *, released_wall: float, pressed_s: float) -> None:
    """A job of `bay` whose hold step ended at `released_wall` after `pressed_s`."""
    with RecordStore(data_dir) as store:
        plan = Plan(ProcedureName.POWER_CYCLE_HOLD, 5.0, pressed_s, 180.0, None)
        job = store.start_job(
            station="t", bay=bay, profile="hikvision-generic", plan=plan, wall=released_wall
        )
        step = Step(
            StepName.HOLD.value,
            started_mono=100.0,
            started_wall=released_wall - pressed_s,
            ended_mono=100.0 + pressed_s,
            details={"pressed_s": pressed_s},
        )
        store.add_step(job, step)


# -- all passing -----------------------------------------------------------------------------


def test_every_check_passes_on_a_working_bench(
    bench: Bench, board: SimBoard, network: SimNetwork, pins: MockFactory
) -> None:
    record_press(bench.data_dir, "A", released_wall=NOW - 7.7, pressed_s=20.0)
    checks = bench.run()
    assert lines(checks) == [
        f"PASS config {bench.path}: station sim, 2 bay(s), 1 board(s)",
        "PASS pins: mock pin factory, PWM available (bays on GPIO: A)",
        f"PASS board b1 ({board.port}): protocol 1, firmware {FW}, 4 channel(s)",
        f"PASS SADP to {network.target}: 1 unit(s) answered ({CAMERA.model} 44-19-b6-00-00-01)",
        f"PASS records {bench.data_dir}: writable, 12.3 GB free",
        "PASS clock: synchronised (timedatectl), 2025-06-15 15:06:40 UTC",
        "PASS bay A: solenoid resting 12.3 s more (from the last press)",
        "PASS bay B: solenoid rested",
        f"SKIP {NO_FLEET}",
    ]
    sadp = next(c for c in checks if c.check == "sadp")
    assert sadp.details["units"] == [
        {"mac": "44-19-b6-00-00-01", "serial": CAMERA.device_sn, "model": CAMERA.model,
         "ip": "127.0.0.1"}
    ]  # fmt: skip
    assert board.power_is_on(1) and not board.pin_is_down(1)  # nothing moved


def test_no_gpio_bay_no_pins_line_and_no_bays_is_a_warning(bench: Bench) -> None:
    bench.write(bays=[])
    checks = bench.run()
    assert [c.check for c in checks] == ["config", "board", "sadp", "records", "clock", "fleet"]
    assert checks[0].line() == (
        f"WARN config {bench.path}: station sim, 0 bay(s), 1 board(s): no [[bays]] yet, add one"
        " to reset units (`rig init` has examples)"
    )


def test_records_without_a_database_are_not_created(bench: Bench, pins: MockFactory) -> None:
    bench.run()
    assert bench.data_dir.is_dir()
    assert list(bench.data_dir.iterdir()) == []  # the probe file is gone, no rig.sqlite3 made


# -- each failing on its own -------------------------------------------------------------------


def test_bad_config_key_fails_and_skips_what_needs_it(tmp_path: Path) -> None:
    path = tmp_path / "rig.toml"
    path.write_text('[station]\nnmae = "bench-1"\n')
    checks = run_checks(path, tmp_path / "records", **edges())
    assert lines(checks) == [
        f"FAIL config {path}: station.nmae: unknown key (check the spelling; see `rig init`)",
        "SKIP pins, boards, camera NIC, SADP, solenoid rests: not checked until the config loads",
        f"PASS records {tmp_path / 'records'}: writable, 12.3 GB free, no records yet",
        "PASS clock: synchronised (timedatectl), 2025-06-15 15:06:40 UTC",
    ]


def test_bad_config_without_a_data_dir_skips_the_records_too(tmp_path: Path) -> None:
    checks = run_checks(tmp_path / "missing.toml", None, **edges())
    assert lines(checks)[:2] == [
        f"FAIL config {tmp_path / 'missing.toml'}: no such file (run `rig init` to write an"
        " example)",
        "SKIP pins, boards, camera NIC, SADP, solenoid rests, records: not checked until the"
        " config loads",
    ]
    assert [c.check for c in checks] == ["config", "skipped", "clock"]


def test_pwm_solenoid_on_pins_without_pwm(bench: Bench, clock: Any) -> None:
    factory = MockFactory(pin_class=MockPin)
    try:
        checks = bench.run(pin_factory=factory)
    finally:
        factory.reset()
    assert checks[1].line() == (
        "FAIL pins: the mock pin factory has no PWM, which bay A solenoid (GPIO27) needs for"
        " pwm = true: install lgpio (`pip install lgpio` on 64-bit Raspberry Pi OS; on 32-bit,"
        " Debian's python3-lgpio in a venv made with --system-site-packages) or set pwm = false"
    )
    assert [c.status for c in checks].count(Status.FAIL) == 1


def test_plain_solenoid_needs_no_pwm(bench: Bench, clock: Any) -> None:
    bench.write(bays=[gpio_bay("A", relay=17, solenoid=27, presser={"gpio": 27, "pwm": False})])
    factory = MockFactory(pin_class=MockPin)
    try:
        checks = bench.run(pin_factory=factory)
    finally:
        factory.reset()
    assert checks[1].line() == (
        "PASS pins: mock pin factory, no PWM, and no solenoid needs it (bays on GPIO: A)"
    )


def test_board_port_that_does_not_exist(bench: Bench, tmp_path: Path, pins: MockFactory) -> None:
    port = str(tmp_path / "ttyACM9")
    bench.write(board_port=port)
    checks = bench.run()
    board = next(c for c in checks if c.check == "board")
    assert board.line() == (
        f"FAIL board b1 ({port}): no such device: is the board plugged in, and is [boards.b1]"
        " port right? (ls /dev/serial/by-id/)"
    )
    assert [c.status for c in checks].count(Status.FAIL) == 1


@pytest.fixture
def pty_board() -> Iterator[tuple[str, list[str]]]:
    """A pty with a fake board behind it that answers each request with the line it is given
    (`answer[0]`, `{id}` for the request's id); no answer while that is empty."""
    master, slave = os.openpty()
    answer: list[str] = []
    stop = threading.Event()

    def fake_board() -> None:
        buffer = b""
        while not stop.is_set():
            try:
                buffer += os.read(master, 256)
            except OSError:
                return
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if answer and line.strip():
                    request_id = line.split()[0].decode()
                    os.write(master, answer[0].format(id=request_id).encode() + b"\n")

    thread = threading.Thread(target=fake_board, daemon=True)
    thread.start()
    try:
        yield os.ttyname(slave), answer
    finally:
        stop.set()
        os.close(master)
        os.close(slave)


def test_board_speaking_another_protocol(pty_board: tuple[str, list[str]]) -> None:
    port, answer = pty_board
    answer.append("OK {id} proto=2 fw=9.9 channels=4")
    check = check_board(BoardConfig("b1", port))
    assert check.line() == (
        f"FAIL board b1 ({port}): speaks protocol '2' (firmware 9.9), rig needs 1: flash the"
        " firmware in firmware/ (firmware/README.md)"
    )


def test_board_that_does_not_answer(pty_board: tuple[str, list[str]]) -> None:
    port, _ = pty_board  # nobody answers
    check = check_board(BoardConfig("b1", port), answer_timeout_s=0.2)
    assert check.line() == (
        f"FAIL board b1 ({port}): no answer to HELLO within 0.2 s: is the firmware flashed?"
        " (firmware/README.md)"
    )


def test_board_with_fewer_channels_than_the_bays_use(tmp_path: Path) -> None:
    with SimBoard(channels=2) as small:
        check = check_board(BoardConfig("b1", small.port), {1: ["A"], 3: ["C", "D"]})
    assert check.line() == (
        f"FAIL board b1 ({small.port}): firmware {FW} has 2 channel(s), but bay C, D uses"
        " channel 3: is [boards.b1] port the right board? else fix the bay's channel"
    )
    assert check.details["channels"] == 2


def test_board_channels_come_from_the_bays(bench: Bench, pins: MockFactory) -> None:
    bench.write(bays=[board_bay("B", board="b1", channel=4), board_bay("C", board="b1", channel=5)])
    board = next(c for c in bench.run() if c.check == "board")
    assert board.status is Status.FAIL
    assert "but bay C uses channel 5" in board.message


def test_board_held_by_a_running_station_is_left_alone(
    bench: Bench, board: SimBoard, pins: MockFactory
) -> None:
    with DataDirLock(bench.data_dir):
        assert station_holder(bench.data_dir) == os.getpid()
        checks = bench.run()
    line = next(c for c in checks if c.check == "board").line()
    assert line == (
        f"SKIP board b1 ({board.port}): not opened: a running station (pid {os.getpid()}) holds"
        f" the records in {bench.data_dir} and may be driving it; stop the station to check the"
        " board"
    )
    assert not doctor.failed(checks)
    assert station_holder(bench.data_dir) is None


def test_station_holder_reads_the_kernel_lock_table(tmp_path: Path) -> None:
    assert station_holder(tmp_path) is None  # no lock file
    (tmp_path / "station.lock").write_text("1\n")
    st = (tmp_path / "station.lock").stat()
    dev = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}"
    table = tmp_path / "locks"
    table.write_text(
        f"1: POSIX  ADVISORY  WRITE 11 {dev}:{st.st_ino} 0 EOF\n"
        f"2: FLOCK  ADVISORY  WRITE 4242 {dev}:{st.st_ino + 1} 0 EOF\n"
        f"2: -> FLOCK  ADVISORY  WRITE 77 {dev}:{st.st_ino} 0 EOF\n"
    )
    assert station_holder(tmp_path, table) is None
    table.write_text(f"3: FLOCK  ADVISORY  WRITE 4242 {dev}:{st.st_ino} 0 EOF\n")
    assert station_holder(tmp_path, table) == 4242


def test_station_holder_takes_the_inode_when_the_device_differs(tmp_path: Path) -> None:
    (tmp_path / "station.lock").write_text("1\n")
    st = (tmp_path / "station.lock").stat()
    table = tmp_path / "locks"
    table.write_text(f"1: FLOCK  ADVISORY  WRITE 4242 00:99:{st.st_ino} 0 EOF\n")
    assert station_holder(tmp_path, table) == 4242  # a wrong "station" only skips the board


def test_board_port_open_in_another_process_is_left_alone(board: SimBoard) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; f = open(sys.argv[1], 'rb'); print('open', flush=True);"
         " sys.stdin.read()", board.port],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert child.stdout is not None and child.stdout.readline() == "open\n"
        users = port_users(board.port)
        assert users == [(child.pid, Path(f"/proc/{child.pid}/comm").read_text().strip())]
        check = check_board(BoardConfig("b1", board.port), users=users)
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait()
    assert check.line() == (
        f"SKIP board b1 ({board.port}): not opened: in use by pid {child.pid} ({users[0][1]})"
        " (a running station?); stop it to check the board"
    )
    assert port_users(board.port) == []  # this process's own descriptors do not count
    assert port_users("socket://127.0.0.1:7") == []


def test_port_users_from_a_fake_proc(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    (proc / "812" / "fd").mkdir(parents=True)
    (proc / "812" / "comm").write_text("ModemManager\n")
    (proc / "812" / "fd" / "7").symlink_to("/dev/ttyACM0")
    (proc / "900" / "fd").mkdir(parents=True)
    (proc / "900" / "fd" / "1").symlink_to("/dev/null")
    (proc / "self").mkdir()
    assert port_users("/dev/ttyACM0", proc) == [(812, "ModemManager")]


def sysfs(tmp_path: Path, **states: str) -> Path:
    root = tmp_path / "sys-class-net"
    for name, state in states.items():
        (root / name).mkdir(parents=True)
        (root / name / "operstate").write_text(state + "\n")
    return root


def test_camera_nic_down_fails_and_the_probe_is_skipped(
    bench: Bench, tmp_path: Path, pins: MockFactory
) -> None:
    bench.write(network={"sadp_interface": "eth1"})
    checks = bench.run(sysfs_net=sysfs(tmp_path, eth0="up", eth1="down", lo="unknown"))
    assert [c.line() for c in checks if c.check in ("nic", "sadp")] == [
        "FAIL camera NIC eth1: down: plug in the bench cable and power the PoE switch, or bring"
        " it up (`sudo ip link set eth1 up`)",
        "SKIP SADP: not probed: the camera NIC eth1 is not up",
    ]


def test_camera_nic_missing_or_up(tmp_path: Path) -> None:
    root = sysfs(tmp_path, eth0="up", lo="unknown")
    assert check_interface("eth1", root).line() == (
        "FAIL camera NIC eth1: no such interface (interfaces: eth0, lo): fix sadp_interface in"
        " [network]"
    )
    assert check_interface("eth0", root).line() == "PASS camera NIC eth0: up"
    assert check_interface("lo", root).status is Status.WARN


def test_sadp_with_nobody_answering_is_a_warning(empty_network: SimNetwork) -> None:
    host, port = empty_network.address
    check = check_sadp(NetworkConfig(sadp_target=(host, port)), 0.3)
    assert check.line() == (
        f"WARN SADP to {host}:{port}: no unit answered within 0.3 s: fine on an empty bench;"
        " else check the camera's cable, its PoE power and the camera NIC"
    )


def test_sadp_probe_that_cannot_be_sent(empty_network: SimNetwork) -> None:
    host, port = empty_network.address
    # 192.0.2.10 (TEST-NET-1) is no address of this machine: the socket cannot bind to it.
    network = NetworkConfig(sadp_target=(host, port), sadp_source="192.0.2.10")
    check = check_sadp(network, 0.3)
    assert check.line() == (
        f"FAIL SADP to {host}:{port} from 192.0.2.10: the probe cannot be sent (cannot bind the"
        " SADP socket to 192.0.2.10: Cannot assign requested address): check [network] in the"
        " config"
    )


def test_records_directory_unwritable(bench: Bench, pins: MockFactory) -> None:
    bench.data_dir.write_text("not a directory")
    checks = bench.run()
    assert lines(checks)[-4:] == [
        f"FAIL records {bench.data_dir}: not a directory (a file is in the way): move it, or"
        " set [station] data_dir or --data-dir to a writable directory",
        "PASS clock: synchronised (timedatectl), 2025-06-15 15:06:40 UTC",
        "SKIP solenoid rests: not read: the records are not usable",
        f"SKIP {NO_FLEET}",
    ]


def test_records_directory_inside_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    check = check_records(tmp_path / "file" / "records")
    assert check.line() == (
        f"FAIL records {tmp_path / 'file' / 'records'}: cannot write (Not a directory): set"
        " [station] data_dir or --data-dir to a writable directory"
    )


def test_records_disk_nearly_full(tmp_path: Path) -> None:
    check = check_records(tmp_path, disk_usage=lambda path: DiskUsage(10**9, 10**9, 42_000_000))
    assert check.line() == (
        f"FAIL records {tmp_path}: only 42.0 MB free, rig wants at least 100.0 MB: free some"
        " space on that disk"
    )
    assert check.details["free_bytes"] == 42_000_000


def test_clock_not_synchronised(bench: Bench, pins: MockFactory) -> None:
    checks = bench.run(clock_probe=lambda: ClockState(False, "timedatectl"))
    clock = next(c for c in checks if c.check == "clock")
    assert clock.line() == (
        "FAIL clock: not synchronised (timedatectl), reads 2025-06-15 15:06:40 UTC: certificates"
        " and records would carry a wrong time: give the Pi a network with NTP (`timedatectl"
        " status`)"
    )
    assert [c.status for c in checks].count(Status.FAIL) == 1


def test_clock_that_cannot_be_told_is_a_warning() -> None:
    check = check_clock(lambda: ClockState(None, "no timedatectl answer"), lambda: NOW)
    assert check.status is Status.WARN
    assert check.message.startswith("clock: cannot tell whether it is synchronised")


class _Done:
    def __init__(self, stdout: str, returncode: int = 0) -> None:
        self.stdout, self.returncode = stdout, returncode


def test_clock_state_asks_timedatectl_then_timesyncd(tmp_path: Path) -> None:
    flag = tmp_path / "timesync" / "synchronized"
    asked: list[list[str]] = []

    def run(argv: list[str], **kwargs: Any) -> Any:
        asked.append(argv)
        return _Done("no\n")

    def which(name: str) -> str:
        return "/usr/bin/" + name

    def nothing(name: str) -> None:
        return None

    assert clock_state(run, which, flag) == ClockState(False, "timedatectl")
    assert asked == [["/usr/bin/timedatectl", "show", "-p", "NTPSynchronized", "--value"]]
    assert clock_state(lambda *a, **k: _Done("yes\n"), which, flag).synchronised is True
    # No systemd answering timedatectl (a container): the timesyncd flag, else cannot tell.
    failing = clock_state(lambda *a, **k: _Done("", 1), which, flag)
    assert failing == ClockState(None, "no timedatectl answer, no systemd-timesyncd")
    flag.parent.mkdir()
    assert clock_state(run, nothing, flag) == ClockState(False, str(flag))
    flag.touch()
    assert clock_state(run, nothing, flag) == ClockState(True, str(flag))


def test_rests_from_the_records(tmp_path: Path) -> None:
    path = tmp_path / "rig.toml"
    path.write_text(rig_toml(target="127.0.0.1:9", bays=[gpio_bay("A", relay=17, solenoid=27)]))
    config = load_config(path)
    assert lines(check_rests(config, tmp_path, lambda: NOW)) == ["PASS bay A: solenoid rested"]
    record_press(tmp_path, "A", released_wall=NOW - 5.0, pressed_s=18.0)
    assert lines(check_rests(config, tmp_path, lambda: NOW)) == [
        "PASS bay A: solenoid resting 13.0 s more (from the last press)"
    ]
    assert lines(check_rests(config, tmp_path, lambda: NOW + 60)) == ["PASS bay A: solenoid rested"]


# -- through the command line ----------------------------------------------------------------


@pytest.fixture
def cli_edges(monkeypatch: pytest.MonkeyPatch) -> None:
    """What `rig doctor` reads of this machine, fixed: the clock's sync state, the disk."""
    monkeypatch.setattr(doctor, "clock_state", synced)
    monkeypatch.setattr(doctor.shutil, "disk_usage", lambda path: FREE)


def test_cli_json_one_object_per_check(
    bench: Bench, pins: MockFactory, cli_edges: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["doctor", "--json", "--config", str(bench.path)])
    out = capsys.readouterr().out.splitlines()
    objects = [json.loads(line) for line in out]
    assert code == 0
    assert [o["check"] for o in objects] == [
        "config", "pins", "board", "sadp", "records", "clock", "rest", "rest", "fleet"
    ]  # fmt: skip
    assert {o["status"] for o in objects[:-1]} == {"PASS"} and objects[-1]["status"] == "SKIP"
    assert all({"check", "status", "message"} <= o.keys() for o in objects)
    board = objects[2]
    assert board["details"] == {
        "board": "b1",
        "port": bench.board_port,
        "protocol": "1",
        "firmware": FW,
        "channels": 4,
    }


def test_cli_plain_lines_and_exit_codes(
    bench: Bench,
    tmp_path: Path,
    pins: MockFactory,
    cli_edges: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["doctor", "--config", str(bench.path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out  # not a terminal: no control codes
    assert [line.split()[0] for line in out.splitlines()] == ["PASS"] * 8 + ["SKIP"]

    bench.write(board_port=str(tmp_path / "ttyACM9"))
    assert main(["doctor", "--config", str(bench.path)]) == 1
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines()].count("FAIL") == 1

    bench.path.write_text("[[bays]]\nname = 3\n")
    assert main(["doctor", "--config", str(bench.path), "--data-dir", str(bench.data_dir)]) == 2
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith(f"FAIL config {bench.path}: bays[0].name")
