"""rig's board backend against the firmware's own logic behind a pty (the simulated board):
the bytes on the wire, answers matched to requests, events, the heartbeat, a board that
vanishes or reboots mid-job, and one that comes back. No Pico needed."""

from __future__ import annotations

import io
import json
import os
import queue
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
from rich.console import Console

from rig.cli import main
from rig.clock import Alarm, StoppableClock, SystemClock
from rig.config import parse_config
from rig.errors import Aborted, CooldownError, HardwareFault, SafetyLimitError
from rig.hardware.base import Release
from rig.hardware.board import (
    BoardError,
    BoardKeeper,
    BoardLink,
    BoardPowerSwitch,
    BoardPresser,
)
from rig.progress import Progress
from rig.sim.bench import board_bay, rig_toml, wire_to_board
from rig.sim.board import SimBoard
from rig.sim.camera import CameraSpec, SimCamera
from rig.sim.network import SimNetwork
from rig.station import Station
from tests.fakes import ScriptedOperator, wait_until


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


def test_a_second_link_to_the_same_board_is_refused(board: SimBoard) -> None:
    # Two rigs sharing one board would interleave their commands and steal each other's
    # replies: the port is opened exclusive (an flock), so the second open fails clearly.
    with BoardLink("b1", board.port) as first:
        with pytest.raises(HardwareFault, match=r"board b1: cannot open"):
            BoardLink("b1", board.port).open()
        assert first.request("PING") is not None


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


# -- boards that come back -------------------------------------------------------------------


def lose(board: SimBoard, failure: str) -> None:
    if failure == "unplugged":
        board.unplug()
    else:
        board.reboot("watchdog")


@pytest.fixture
def aliased(tmp_path: Path) -> Iterator[SimBoard]:
    """A board the host knows by a stable name (a udev symlink), which survives a replug."""
    with SimBoard(channels=4, alias=tmp_path / "rig-board-b1") as sim:
        yield sim


@pytest.mark.parametrize("failure", ["unplugged", "rebooted"])
def test_a_wait_that_watches_the_link_ends_when_the_board_is_lost(
    aliased: SimBoard, failure: str
) -> None:
    """A bay's clock at the station watches its board: a 30 s hold ends at the fault."""
    with BoardLink("b1", aliased.port) as link:
        clock = StoppableClock(SystemClock(), Alarm(), lambda: "stopping", tripwires=[link])
        ended: list[BaseException] = []

        def hold() -> None:
            try:
                clock.sleep(30)
            except BaseException as exc:
                ended.append(exc)

        thread = threading.Thread(target=hold, daemon=True)
        thread.start()
        time.sleep(0.2)
        lose(aliased, failure)
        thread.join(timeout=10)  # far short of the 30 s hold; no tighter bound is claimed
        assert not thread.is_alive()
        assert len(ended) == 1 and isinstance(ended[0], HardwareFault)
        assert str(ended[0]).startswith(
            "board b1: vanished" if failure == "unplugged" else "board b1: rebooted mid-job"
        )
        with pytest.raises(HardwareFault):  # and every later wait, until it is reconnected
            clock.sleep(0)


def test_the_station_stopping_still_ends_a_wait_that_watches_a_board(link: BoardLink) -> None:
    stop = Alarm()
    clock = StoppableClock(SystemClock(), stop, lambda: "stopped by SIGTERM", tripwires=[link])
    threading.Timer(0.2, stop.set).start()
    with pytest.raises(Aborted, match="stopped by SIGTERM"):
        clock.sleep(30)


def test_reopen_after_an_unplug_says_hello_and_safe_first(aliased: SimBoard) -> None:
    with BoardLink("b1", aliased.port) as link:
        presser = BoardPresser(link, 2, SystemClock())
        presser.press(5)
        aliased.unplug()
        assert wait_until(lambda: link.fault is not None, 5) is not None
        with pytest.raises(HardwareFault, match=r"board b1: cannot open .*rig-board-b1"):
            link.reopen()  # not back yet: the link stays faulted
        assert link.fault is not None
        with pytest.raises(HardwareFault):
            presser.press(1)  # nothing goes to a board in doubt
        presser.make_safe()  # what the runner's safe step does after the lost job
        assert not presser.is_pressed()
        assert presser.rest_remaining_s() > 0  # it rests as long as it may have been down
        aliased.start()  # plugged back in: another pty, the same name
        link.reopen()
        assert link.fault is None
        assert [r.verb for r in aliased.received_since_boot()] == ["HELLO", "SAFE", "STATUS"]
        time.sleep(presser.rest_remaining_s())
        presser.press(0.3)  # usable again
        assert aliased.pin_is_down(2)
        time.sleep(0.05)
        assert presser.release().held_s is not None  # by the new board's clock
    assert [r.verb for r in aliased.received_since_boot()][-1] == "SAFE"  # closed safe


def test_reopen_after_a_reboot_on_the_same_port(board: SimBoard, link: BoardLink) -> None:
    BoardPowerSwitch(link, 1).off()
    board.reboot("soft")
    assert wait_until(lambda: link.fault is not None, 5) is not None
    assert link.fault == "rebooted mid-job (EVT BOOT cause=soft)"
    link.reopen()
    assert link.fault is None
    verbs = [r.verb for r in board.received_since_boot()]
    hello = verbs.index("HELLO")
    assert set(verbs[:hello]) <= {"PING"} and verbs[hello:] == ["HELLO", "SAFE", "STATUS"]
    board.reboot("watchdog")  # a link that came back faults again like a new one
    assert wait_until(lambda: link.fault is not None, 5) is not None


def test_the_keeper_waits_for_the_jobs_then_retries_until_the_board_is_back(
    aliased: SimBoard, caplog: pytest.LogCaptureFixture
) -> None:
    free = threading.Event()  # "no bay on the board is in a job"
    states: list[str] = []
    with BoardLink("b1", aliased.port) as link:
        keeper = BoardKeeper(
            link,
            may_reconnect=free.is_set,
            on_change=lambda k: states.append(k.state),
            backoff_s=(0.05, 0.1),
        )
        with keeper:
            aliased.reboot("watchdog")
            assert wait_until(lambda: states == ["lost"], 5) is not None
            time.sleep(0.3)  # a job still runs on the board: nothing is sent to it
            assert "HELLO" not in [r.verb for r in aliased.received_since_boot()]
            free.set()
            keeper.poke()  # the job ended
            assert wait_until(lambda: states == ["lost", "up"], 5) is not None
            assert link.fault is None

            aliased.unplug()
            assert wait_until(lambda: states[2:] == ["lost", "absent"], 5) is not None
            aliased.start()
            # The backoff tried again until the board was there.
            assert wait_until(lambda: states[4:] == ["up"], 5) is not None
            assert states == ["lost", "up", "lost", "absent", "up"] and link.fault is None
    lines = [r.getMessage() for r in caplog.records if r.name == "rig.hardware.board"]
    port = aliased.port
    assert f"board b1 at {port}: back (fw 1.0.0), safe" in lines
    assert len([m for m in lines if "not back yet" in m]) == 1  # once, not once per attempt


class _Stages(Progress):
    """The station's progress, kept: every stage each bay showed, in order."""

    def __init__(self) -> None:
        super().__init__(SystemClock(), Console(file=io.StringIO()))
        self.shown: list[tuple[str, str]] = []

    def stage(self, bay: str, name: str, deadline: float | None = None) -> None:
        self.shown.append((bay, name))

    def last(self, bay: str) -> str:
        return next((name for b, name in reversed(self.shown) if b == bay), "")


def test_a_station_holds_back_the_bays_of_a_lost_board_and_takes_them_back(
    tmp_path: Path,
) -> None:
    """Bays A and B on board b1, C on b2. b1 is unplugged mid-hold on A: A's job ends at once,
    A and B are held back (C still takes units), one reconnect brings both back when b1 is
    plugged in again, and both reset their next unit without a restart."""
    hold_s = 3.0
    with (
        SimBoard(channels=2, alias=tmp_path / "rig-board-b1") as b1,
        SimBoard(channels=1) as b2,
        SimNetwork() as network,
    ):
        spec = {"boot_s": 0.3, "reset_hold_s": 0.8}
        cams = [SimCamera(CameraSpec.sample(n, **spec)).start() for n in (1, 2, 3)]
        for cam in cams:
            network.add(cam)
        for cam, (board, channel) in zip(cams, [(b1, 1), (b1, 2), (b2, 1)], strict=True):
            wire_to_board(cam, board, channel)
        timing = {"off_s": 0.5, "hold_s": hold_s, "boot_timeout_s": 6}
        config = parse_config(
            rig_toml(
                target=network.target,
                network={"sadp_poll_s": 0.1, "settle_s": 0.3},
                boards={"b1": b1.port, "b2": b2.port},
                bays=[
                    board_bay("A", board="b1", channel=1, **timing),
                    board_bay("B", board="b1", channel=2, **timing),
                    board_bay("C", board="b2", channel=1, **timing),
                ],
            )
        )
        scans: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        stages, operator = _Stages(), ScriptedOperator()
        station = Station(
            config,
            clock=SystemClock(),
            data_dir=tmp_path / "records",
            operator=operator,
            scans=iter(scans.get, None),
            progress=stages,
            retry=False,
        )
        codes: list[int] = []
        running = threading.Thread(target=lambda: codes.append(station.run()), daemon=True)
        running.start()
        try:
            label = [cam.spec.device_sn[-13:] for cam in cams]
            scans.put(f"A {label[0]}")
            assert wait_until(lambda: b1.pin_is_down(1), 15) is not None
            time.sleep(0.3)
            b1.unplug()
            assert wait_until(lambda: len(station.units) == 1, 15) is not None
            first = station.units[0][-1]
            assert (first.bay, first.result.outcome.value) == ("A", "hardware_fault")
            hold = next(s for s in first.result.steps if s.name == "hold")
            assert hold.duration_s is not None and hold.duration_s < hold_s / 2  # cut short

            held = "board b1 lost: reconnecting"
            assert wait_until(lambda: stages.last("A") == stages.last("B") == held, 5) is not None
            scans.put(label[2])  # any bay: A and B are held back, so it goes to C
            scans.put(f"B {label[1]}")  # B by name: refused while b1 is away
            assert wait_until(lambda: len(station.units) == 2, 20) is not None
            assert station.units[1][-1].bay == "C"
            assert station.units[1][-1].result.outcome.value == "reset_verified"
            refused = f"bay B: {held}: scan {label[1]} again when it is ready"
            assert wait_until(lambda: refused in operator.told, 5) is not None

            b1.start()  # plugged back in
            ready = "ready: load a unit and scan its label"
            assert wait_until(lambda: stages.last("A") == stages.last("B") == ready, 10) is not None
            # One reconnect for both bays: one HELLO, then SAFE, on the new connection.
            verbs = [r.verb for r in b1.received_since_boot()]
            assert verbs == ["HELLO", "SAFE", "STATUS"]
            assert wait_until(lambda: cams[0].online, 10) is not None
            seen = network.requests_seen
            assert wait_until(lambda: network.requests_seen >= seen + 2, 10) is not None
            scans.put(f"A {label[0]}")
            scans.put(f"B {label[1]}")
            assert wait_until(lambda: len(station.units) == 4, 30) is not None
        finally:
            scans.put(None)
            running.join(timeout=30)
            for cam in cams:
                cam.stop()
    assert codes == [1]  # one unit ended hardware_fault
    later = {u[-1].bay: u[-1].result.outcome.value for u in station.units[2:]}
    assert later == {"A": "reset_verified", "B": "reset_verified"}
    assert cams[0].resets == 1 and cams[1].resets == 1
    assert b1.power_is_on(1) and b1.power_is_on(2) and not b1.pin_is_down(1)
