"""The simulated board, as a host sees it: pyserial over the pty, the firmware's own logic on a
real clock. Timings here are real but short (the long ones are tested on the fake clock in
tests/firmware)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
import serial

from rig.sim.board import SimBoard, load_firmware_module, ticks_diff
from tests.fakes import wait_until


@pytest.fixture
def board() -> Iterator[SimBoard]:
    with SimBoard(channels=4) as sim:
        yield sim


@pytest.fixture
def host(board: SimBoard) -> Iterator[serial.Serial]:
    port = serial.Serial(board.port, timeout=3)
    assert read(port) == "EVT BOOT proto=1 fw=1.0.0 cause=power"
    yield port
    port.close()


def read(port: serial.Serial) -> str:
    line = port.readline()
    assert line.endswith(b"\n"), f"no complete line from the board: {line!r}"
    return line.decode().rstrip("\n")


def ask(port: serial.Serial, request: str) -> str:
    port.write(request.encode() + b"\n")
    return read(port)


def test_hello_and_status(host: serial.Serial) -> None:
    assert ask(host, "1 HELLO") == "OK 1 proto=1 fw=1.0.0 channels=4"
    status = ask(host, "2 STATUS")
    assert status.startswith("OK 2 ch1=on,up ch2=on,up ch3=on,up ch4=on,up uptime_ms=")
    assert ask(host, "3 FLY") == "ERR 3 BADCMD"


def test_power_follows_the_relay(board: SimBoard, host: serial.Serial) -> None:
    assert board.power_is_on(2)
    assert ask(host, "1 POWER 2 OFF") == "OK 1"
    assert not board.power_is_on(2)
    assert board.power_is_on(1)
    assert ask(host, "2 POWER 2 ON") == "OK 2"
    assert board.power_is_on(2)


def test_press_auto_releases_with_an_event(board: SimBoard, host: serial.Serial) -> None:
    changes: list[tuple[int, bool]] = []
    board.add_listener(lambda ch: changes.append((ch, board.pin_is_down(ch))))
    assert ask(host, "1 PRESS 3 300") == "OK 1"
    assert board.pin_is_down(3)
    assert board.duty_u16(3) == 65535
    event = read(host)
    assert event.startswith("EVT RELEASED ch=3 held_ms=")
    assert event.endswith(" reason=timeout")
    held_ms = int(event.split("held_ms=")[1].split()[0])
    assert 300 <= held_ms <= 320
    assert not board.pin_is_down(3)
    assert changes == [(3, True), (3, False)]
    assert ask(host, "2 PRESS 3 100").startswith("ERR 2 COOLDOWN ms=")


def test_hit_then_hold_duty(board: SimBoard, host: serial.Serial) -> None:
    rigboard = load_firmware_module("rigboard")
    assert ask(host, "1 PRESS 1 1000") == "OK 1"
    assert wait_until(lambda: board.duty_u16(1) == rigboard.HOLD_DUTY, 1.0) is not None
    assert ask(host, "2 RELEASE 1").startswith("OK 2 held_ms=")
    assert board.duty_u16(1) == 0


def test_heartbeat_loss_makes_everything_safe(board: SimBoard, host: serial.Serial) -> None:
    assert ask(host, "1 POWER 1 OFF") == "OK 1"
    assert ask(host, "2 PRESS 2 20000") == "OK 2"
    start = time.monotonic()
    host.timeout = 2.5
    assert read(host) == "EVT SAFE reason=heartbeat"
    elapsed = time.monotonic() - start
    assert 1.9 <= elapsed <= 2.5
    assert board.power_is_on(1)
    assert not board.pin_is_down(2)


def test_unplug_is_an_io_error_for_the_host(board: SimBoard, host: serial.Serial) -> None:
    assert ask(host, "1 POWER 1 OFF") == "OK 1"
    board.unplug()
    assert not board.running
    # An unpowered board: the relay drops out (NC: the camera is powered), the pin is up.
    assert board.power_is_on(1)
    with pytest.raises(serial.SerialException):
        host.write(b"2 PING\n")
        host.read(1)


def test_reboot_comes_back_safe_and_says_so(board: SimBoard, host: serial.Serial) -> None:
    assert ask(host, "1 POWER 4 OFF") == "OK 1"
    assert ask(host, "2 PRESS 4 5000") == "OK 2"
    board.reboot(cause="watchdog")
    assert read(host) == "EVT BOOT proto=1 fw=1.0.0 cause=watchdog"
    assert board.power_is_on(4)
    assert not board.pin_is_down(4)
    assert ask(host, "3 STATUS").startswith("OK 3 ch1=on,up ch2=on,up ch3=on,up ch4=on,up")


def test_reboot_refuses_an_unknown_cause(board: SimBoard) -> None:
    with pytest.raises(ValueError, match="cause"):
        board.reboot(cause="brownout")


def test_channels_are_checked() -> None:
    sim = SimBoard(channels=2)
    assert sim.power_is_on(2)
    with pytest.raises(ValueError, match="no channel 3"):
        sim.pin_is_down(3)
    with pytest.raises(RuntimeError):
        _ = sim.port
    sim.stop()  # never started: nothing to do, no error


def test_no_leaked_threads_or_fds() -> None:
    threads = threading.active_count()
    fds = len(os.listdir("/proc/self/fd"))
    for _ in range(3):
        with SimBoard(channels=1) as sim, serial.Serial(sim.port, timeout=1) as port:
            port.readline()
            assert ask(port, "1 PING") == "OK 1"
        assert not sim.running
    assert threading.active_count() == threads
    assert len(os.listdir("/proc/self/fd")) == fds


def test_ticks_wrap_like_micropython() -> None:
    period = 1 << 30
    assert ticks_diff(5, period - 5) == 10
    assert ticks_diff(period - 5, 5) == -10


HOST_HOLDING_A_PRESS = """
import sys, time, serial
port = serial.Serial(sys.argv[1], timeout=2)
port.write(b"1 PRESS 1 30000\\n")
while True:
    line = port.readline().decode().strip()
    if line.startswith("OK 1"):
        break
print("pressed", flush=True)
n = 2
while True:  # the host keeps the heartbeat going, as a real one does during a hold
    port.write(b"%d PING\\n" % n)
    n += 1
    time.sleep(0.3)
"""


def test_killed_host_mid_hold_releases_within_the_heartbeat(board: SimBoard) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOST_HOLDING_A_PRESS, board.port],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "pressed"
        assert board.pin_is_down(1)
        time.sleep(0.8)  # the host's PINGs keep the press going
        assert board.pin_is_down(1)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=5)
        # The board's heartbeat timeout is 2 s: released well within 2.5 s of the silence.
        assert wait_until(lambda: not board.pin_is_down(1), 2.5) is not None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
