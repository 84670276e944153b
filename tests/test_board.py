"""rig's board backend against the firmware's own logic behind a pty (the simulated board):
the bytes on the wire, answers matched to requests, events, the heartbeat, and a board that
vanishes or reboots mid-job. No Pico needed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import serial

from rig.cli import main
from rig.clock import SystemClock
from rig.errors import CooldownError, HardwareFault, SafetyLimitError
from rig.hardware.base import Release
from rig.hardware.board import BoardError, BoardLink, BoardPowerSwitch, BoardPresser
from rig.sim.bench import wire_to_board
from rig.sim.board import SimBoard
from rig.sim.camera import CameraSpec, SimCamera
from rig.sim.network import SimNetwork
from tests.fakes import wait_until


@pytest.fixture
def board() -> Iterator[SimBoard]:
    with SimBoard(channels=4) as sim:
        yield sim


@pytest.fixture
def link(board: SimBoard) -> Iterator[BoardLink]:
    with BoardLink("b1", board.port) as opened:
        yield opened


# -- the driver on its own -------------------------------------------------------------------


def test_hello_at_open(link: BoardLink) -> None:
    assert link.channels == 4
    assert link.firmware != ""
    assert link.fault is None


def test_wrong_protocol_version_is_a_clear_error() -> None:
    """A fake board on a pty that answers HELLO with proto=2."""
    master, slave = os.openpty()
    port = os.ttyname(slave)
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
                request_id = line.split()[0].decode()
                os.write(master, f"OK {request_id} proto=2 fw=9.9 channels=4\n".encode())

    thread = threading.Thread(target=fake_board, daemon=True)
    thread.start()
    try:
        with pytest.raises(HardwareFault, match=r"speaks protocol '2'; rig needs 1"):
            BoardLink("b1", port).open()
    finally:
        stop.set()
        os.close(master)
        os.close(slave)


def test_no_board_at_the_port_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(HardwareFault, match=r"board b1: cannot open .*nothing-here"):
        BoardLink("b1", str(tmp_path / "nothing-here")).open()


def test_exact_bytes_on_the_wire(board: SimBoard, mocker: Any) -> None:
    writes: list[bytes] = []
    real = serial.serial_for_url

    def spy(*args: Any, **kwargs: Any) -> Any:
        port = real(*args, **kwargs)
        original = port.write
        port.write = lambda data: (writes.append(bytes(data)), original(data))[1]
        return port

    with BoardLink("b1", board.port, serial_for_url=spy) as link:
        link.request("POWER", 2, "OFF")
        link.request("POWER", 2, "ON")
    assert writes[:3] == [b"1 HELLO\n", b"2 POWER 2 OFF\n", b"3 POWER 2 ON\n"]
    assert writes[-1] == b"4 SAFE\n"  # closing leaves the board safe


def test_answers_match_requests_across_threads(link: BoardLink) -> None:
    errors: list[BaseException] = []

    def hammer(channel: int) -> None:
        try:
            for _ in range(25):
                status = link.request("STATUS")
                assert status[f"ch{channel}"] in ("on,up", "off,up")
                link.request("PING")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(ch,)) for ch in (1, 2, 3, 4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_board_errors_become_rig_errors(link: BoardLink) -> None:
    clock = SystemClock()
    presser = BoardPresser(link, 1, clock)
    with pytest.raises(SafetyLimitError):
        presser.press(61)  # refused before it reaches the wire
    with pytest.raises(BoardError) as info:
        link.request("POWER", 9, "ON")
    assert info.value.code == "BADCH"
    presser.press(0.2)
    assert wait_until(lambda: not presser.is_pressed(), 1.0) is not None  # EVT RELEASED
    # The caller's release learns that the board let go first, and how long it held, by its
    # own clock (the event's held_ms).
    release = presser.release()
    assert release.early and release.timed_by == "board"
    assert release.held_s is not None and abs(release.held_s - 0.2) < 0.02
    assert presser.rest_remaining_s() > 0  # the host knows the rest the board will insist on
    with pytest.raises(CooldownError) as cooldown:
        BoardPresser(link, 1, clock).press(1)
    assert 0 < cooldown.value.remaining_s <= 0.2


def test_heartbeat_keeps_an_active_board_alive(board: SimBoard, link: BoardLink) -> None:
    power = BoardPowerSwitch(link, 1)
    power.off()
    time.sleep(3.0)  # the board gives up after 2 s of silence; the heartbeat prevents it
    assert not board.power_is_on(1)
    assert not [e for e in link.events if e.name == "SAFE"]
    power.on()
    assert board.power_is_on(1)


def test_released_hold_is_timed_by_the_board(board: SimBoard, link: BoardLink) -> None:
    presser = BoardPresser(link, 3, SystemClock())
    presser.press(5)
    assert board.pin_is_down(3)
    time.sleep(0.5)
    release = presser.release()
    assert release.timed_by == "board" and not release.early
    assert release.held_s is not None and abs(release.held_s - 0.5) < 0.02
    assert not board.pin_is_down(3)
    assert presser.release() == Release(held_s=None, timed_by="board")  # already up: held_ms=0


def test_a_press_ended_by_the_safe_state_is_reported_early(link: BoardLink) -> None:
    presser = BoardPresser(link, 2, SystemClock())
    presser.press(5)
    time.sleep(0.2)
    presser.make_safe()
    release = presser.release()
    assert release.early and release.timed_by == "board"
    assert release.held_s is not None and abs(release.held_s - 0.2) < 0.05


# -- whole resets through the board ---------------------------------------------------------

CONFIG = """
[station]
name = "board-e2e"
data_dir = "{data_dir}"

[network]
sadp_target = "{target}"
sadp_poll_s = 0.1
settle_s = 0.4

[boards.b1]
port = "{port}"

[[bays]]
name = "A"
power = {{ board = "b1", channel = 1 }}
presser = {{ board = "b1", channel = 1 }}
profile = "DS-2CD2143G2-I"
off_s = 0.6
hold_s = {hold_s}
boot_timeout_s = 6
verify = "{verify}"
"""


@pytest.fixture
def bay(board: SimBoard, tmp_path: Path) -> Iterator[tuple[SimCamera, Path]]:
    camera = SimCamera(CameraSpec.sample(1, boot_s=0.3, reset_hold_s=1.2)).start()
    with SimNetwork([camera]) as network:
        wire_to_board(camera, board, 1)
        path = tmp_path / "rig.toml"
        path.write_text(
            CONFIG.format(
                data_dir=tmp_path / "records",
                target=network.target,
                port=board.port,
                hold_s="{hold_s}",
                verify="{verify}",
            )
        )
        yield camera, path
    camera.stop()


def reset(
    path: Path, capsys: pytest.CaptureFixture[str], *, hold_s: float = 1.5, verify: str = "network"
) -> tuple[int, dict[str, Any]]:
    config = path.with_name("run.toml")
    config.write_text(path.read_text().replace("{hold_s}", str(hold_s)).replace("{verify}", verify))
    capsys.readouterr()
    code = main(["reset", "--json", "--config", str(config)])
    return code, json.loads(capsys.readouterr().out)


def test_reset_through_the_board_end_to_end(
    board: SimBoard, bay: tuple[SimCamera, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    camera, path = bay
    code, job = reset(path, capsys)
    assert (code, job["outcome"]) == (0, "reset_verified"), job["reason"]
    assert camera.in_factory_state
    hold = next(s for s in job["steps"] if s["name"] == "hold")["details"]
    assert hold["timed_by"] == "board"
    assert abs(job["hold_s"] - 1.5) < 0.02  # the board's held_ms, less the wait before power-on
    assert board.power_is_on(1) and not board.pin_is_down(1)


def test_board_unplugged_mid_hold(
    board: SimBoard, bay: tuple[SimCamera, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    camera, path = bay
    threading.Thread(
        target=lambda: (
            wait_until(lambda: board.pin_is_down(1), 10) is not None
            and (time.sleep(0.3), board.unplug())
        ),
        daemon=True,
    ).start()
    code, job = reset(path, capsys, hold_s=3)
    assert (code, job["outcome"]) == (1, "hardware_fault")
    assert job["reason"].startswith("board b1: vanished")
    assert job["steps"][-1]["name"] == "safe"
    assert camera.resets == 0


def test_board_rebooting_mid_hold(
    board: SimBoard, bay: tuple[SimCamera, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    camera, path = bay
    threading.Thread(
        target=lambda: (
            wait_until(lambda: board.pin_is_down(1), 10) is not None
            and (time.sleep(0.3), board.reboot("watchdog"))
        ),
        daemon=True,
    ).start()
    code, job = reset(path, capsys, hold_s=3)
    assert (code, job["outcome"]) == (1, "hardware_fault")
    assert job["reason"] == "board b1: rebooted mid-job (EVT BOOT cause=watchdog)"
    assert board.power_is_on(1) and not board.pin_is_down(1)
    assert camera.resets == 0


def test_sigkill_of_rig_mid_hold_board_goes_safe(
    board: SimBoard, bay: tuple[SimCamera, Path]
) -> None:
    _, path = bay
    config = path.with_name("run.toml")
    config.write_text(path.read_text().replace("{hold_s}", "30").replace("{verify}", "network"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "rig", "reset", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_until(lambda: board.pin_is_down(1), 30) is not None
        time.sleep(0.5)
        proc.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        proc.wait(timeout=10)
        up_after = wait_until(lambda: not board.pin_is_down(1), 5)
        assert up_after is not None and time.monotonic() - killed_at <= 2.5
        assert wait_until(lambda: board.power_is_on(1), 1) is not None
    finally:
        proc.kill()
        proc.wait()


def test_board_check_command(board: SimBoard, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["board", "check", board.port]) == 0
    out = capsys.readouterr().out
    assert "4 channel(s)" in out
    assert "ch4: solenoid tap 200 ms" in out
    assert out.strip().endswith("board OK")
