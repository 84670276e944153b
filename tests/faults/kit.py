"""The fault suite's tools: rig as a real process, a bay whose actuators a test can watch, the
records a run left, and the three checks every fault test makes.

A bay here is bay "A" of a one-bay station, on one of two backends:

- `gpio`: a relay on GPIO17 (active-low module) and a solenoid on GPIO27. In the test's own
  process they are gpiozero mock pins; when rig runs as a process of its own they are the mock
  pins of that process, logged line by line by `rig_with_pin_log.py` (see `LoggedPinBay`).
- `board`: channel 1 of the simulated firmware board (`rig.sim.board.SimBoard`), which runs in
  the test's process behind a pty, so rig reaches it from any process like a USB board.

Every fault test asserts three things: the bay ended safe (solenoid up, relay de-energised),
the record says what happened (outcome, reason, steps), and rig told the operator in one line,
never with a traceback.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPWMPin

from rig.records.store import RecordStore
from rig.sim.bench import relay_feeds_power
from rig.sim.board import Received, SimBoard
from rig.sim.camera import CameraSpec, SimCamera
from rig.sim.network import SimNetwork
from tests.fakes import wait_until

HARNESS = Path(__file__).with_name("rig_with_pin_log.py")
RELAY_GPIO, SOLENOID_GPIO = 17, 27
LABEL = "AAWRJ12345678"  # a scanned label for the manual verifier, which checks nothing

# The budgets: from a signal to the solenoid up, and from SIGKILL to the board's own
# release (its heartbeat gives up after 2000 ms of silence).
SIGNAL_SAFE_S = 0.100
HEARTBEAT_SAFE_S = 2.5

# Short timings so the whole suite runs in a couple of minutes.
OFF_S = 0.5
HOLD_S = 1.0
BOOT_S = 0.3
RESET_HOLD_S = 0.8  # the simulated bootloader resets on a hold this long from power-up
POLL_S = 0.1
SETTLE_S = 0.3
BOOT_TIMEOUT_S = 5.0  # the config's minimum


# -- the bays --------------------------------------------------------------------------------


class Bay(Protocol):
    """What a fault test sees of bay A's actuators, whatever drives them."""

    backend: str

    def power_is_on(self) -> bool:
        """Does the camera have power (relay de-energised, NC contact closed)?"""

    def pin_is_down(self) -> bool:
        """Is the solenoid holding the reset pin down?"""

    def ever_pressed(self) -> bool:
        """Did the solenoid ever go down since the bay was set up?"""

    def touched(self) -> bool:
        """Did rig drive either actuator at all (even to its safe level)?"""

    def released_by(self, after: float) -> float | None:
        """The first monotonic moment from `after` on that the solenoid was up (`after`
        itself if it was up then), or None if it has not been since."""

    def powered_by(self, after: float) -> float | None:
        """The same for the relay feeding the camera power (de-energised)."""

    def toml(self) -> str:
        """The bay's `power`/`presser` lines (and any `[boards]` table, first)."""


@dataclass
class _Change:
    at: float
    power_on: bool
    pin_down: bool


class BoardBay:
    """Channel 1 of a simulated board, each change noted at the moment the board makes it."""

    backend = "board"

    def __init__(self, board: SimBoard) -> None:
        self.board = board
        self._lock = threading.Lock()
        self._changes = [_Change(time.monotonic(), board.power_is_on(1), board.pin_is_down(1))]
        board.add_listener(self._changed)

    def _changed(self, channel: int) -> None:  # on the board's thread, at the change
        if channel != 1:
            return
        change = _Change(time.monotonic(), self.power_is_on(), self.pin_is_down())
        with self._lock:
            last = self._changes[-1]
            if (last.power_on, last.pin_down) != (change.power_on, change.pin_down):
                self._changes.append(change)

    def history(self) -> list[_Change]:
        with self._lock:
            return list(self._changes)

    def power_is_on(self) -> bool:
        return self.board.power_is_on(1)

    def pin_is_down(self) -> bool:
        return self.board.pin_is_down(1)

    def ever_pressed(self) -> bool:
        return any(c.pin_down for c in self.history())

    def touched(self) -> bool:
        return len(self.history()) > 1  # more than the state the bay was found in

    def _first(self, after: float, holds: Callable[[_Change], bool]) -> float | None:
        history = self.history()
        before = [c for c in history if c.at <= after]
        if before and holds(before[-1]):
            return after
        return next((c.at for c in history if c.at > after and holds(c)), None)

    def released_by(self, after: float) -> float | None:
        return self._first(after, lambda c: not c.pin_down)

    def powered_by(self, after: float) -> float | None:
        return self._first(after, lambda c: c.power_on)

    def toml(self) -> str:
        return (
            f'[boards.b1]\nport = "{self.board.port}"\n\n'
            "[[bays]]\n"
            'name = "A"\n'
            'power = { board = "b1", channel = 1 }\n'
            'presser = { board = "b1", channel = 1 }\n'
        )


GPIO_TOML = (
    "[[bays]]\n"
    'name = "A"\n'
    f"power = {{ gpio = {RELAY_GPIO}, active_high = false }}\n"
    f"presser = {{ gpio = {SOLENOID_GPIO} }}\n"
)


class MockPinBay:
    """The gpio bay in the test's own process: gpiozero mock pins with their own history."""

    backend = "gpio"

    def __init__(self, factory: MockFactory) -> None:
        self.relay = factory.pin(RELAY_GPIO)
        self.solenoid = factory.pin(SOLENOID_GPIO)

    def power_is_on(self) -> bool:
        return relay_feeds_power(self.relay)

    def pin_is_down(self) -> bool:
        return bool(self.solenoid.state)

    def ever_pressed(self) -> bool:
        return any(s.state for s in self.solenoid.states)

    def touched(self) -> bool:
        # Each pin's history starts with the level it was found at.
        return len(self.relay.states) > 1 or len(self.solenoid.states) > 1

    def released_by(self, after: float) -> float | None:
        raise NotImplementedError("timed from the pin log of a rig process (LoggedPinBay)")

    def powered_by(self, after: float) -> float | None:
        raise NotImplementedError("timed from the pin log of a rig process (LoggedPinBay)")

    def toml(self) -> str:
        return GPIO_TOML


@dataclass(frozen=True)
class PinChange:
    at: float
    gpio: int
    function: str
    state: float


class LoggedPinBay:
    """The gpio bay of a rig process, read from the pin log it writes (`rig_with_pin_log.py`)."""

    backend = "gpio"

    def __init__(self, path: Path) -> None:
        self.path = path
        path.touch()

    def changes(self, gpio: int | None = None) -> list[PinChange]:
        out = []
        for line in self.path.read_text(encoding="ascii").splitlines():
            at, name, function, state = line.split()
            change = PinChange(float(at), int(name.removeprefix("GPIO")), function, float(state))
            if gpio is None or change.gpio == gpio:
                out.append(change)
        return out

    @staticmethod
    def _feeds_power(change: PinChange) -> bool:
        return change.function != "output" or change.state > 0  # active-low module

    def power_is_on(self) -> bool:
        relay = self.changes(RELAY_GPIO)
        return not relay or self._feeds_power(relay[-1])

    def pin_is_down(self) -> bool:
        solenoid = self.changes(SOLENOID_GPIO)
        return bool(solenoid) and solenoid[-1].state > 0

    def ever_pressed(self) -> bool:
        return any(c.state > 0 for c in self.changes(SOLENOID_GPIO))

    def touched(self) -> bool:
        return bool(self.changes())

    def _first(self, gpio: int, after: float, holds: Callable[[PinChange], bool]) -> float | None:
        changes = self.changes(gpio)
        before = [c for c in changes if c.at <= after]
        if not before or holds(before[-1]):  # a pin nobody set up is safe: input, coil off
            return after
        return next((c.at for c in changes if c.at > after and holds(c)), None)

    def released_by(self, after: float) -> float | None:
        return self._first(SOLENOID_GPIO, after, lambda c: c.state == 0)

    def powered_by(self, after: float) -> float | None:
        return self._first(RELAY_GPIO, after, self._feeds_power)

    def toml(self) -> str:
        return GPIO_TOML


def assert_safe(bay: Bay) -> None:
    assert not bay.pin_is_down(), f"{bay.backend}: the solenoid is still down"
    assert bay.power_is_on(), f"{bay.backend}: the relay still cuts the camera's power"


@contextmanager
def mock_pins() -> Iterator[MockFactory]:
    """gpiozero's mock pins (PWM-capable, as the solenoid needs) as the default pin factory."""
    factory = MockFactory(pin_class=MockPWMPin)
    previous, Device.pin_factory = Device.pin_factory, factory
    try:
        yield factory
    finally:
        Device.pin_factory = previous
        factory.reset()


# -- the config --------------------------------------------------------------------------------


def config_text(
    bay: Bay,
    data_dir: Path,
    *,
    verify: str = "manual",
    target: str | None = None,
    off_s: float = OFF_S,
    hold_s: float = HOLD_S,
    boot_timeout_s: float = BOOT_TIMEOUT_S,
    settle_s: float = SETTLE_S,
    http_timeout_s: float = 1.0,
) -> str:
    network = ""
    if target is not None:
        network = (
            f'[network]\nsadp_target = "{target}"\nsadp_poll_s = {POLL_S}\n'
            f"settle_s = {settle_s}\nhttp_timeout_s = {http_timeout_s}\n\n"
        )
    return (
        f'[station]\nname = "faults"\ndata_dir = "{data_dir}"\n\n'
        + network
        + bay.toml()
        + 'profile = "DS-2CD2143G2-I"\n'
        f"off_s = {off_s}\nhold_s = {hold_s}\nboot_timeout_s = {boot_timeout_s}\n"
        # No escalation: a station would retry a not_reset unit with the profile's 18 and 30 s.
        f"escalation_holds_s = [{hold_s}]\n"
        f'verify = "{verify}"\n'
    )


class Cameras:
    """Simulated cameras on one simulated LAN segment, stopped at the end of the test."""

    def __init__(self, network: SimNetwork) -> None:
        self.network = network
        self.started: list[SimCamera] = []

    def add(self, n: int = 1, *, online: bool = True, **spec: object) -> SimCamera:
        camera = SimCamera(
            CameraSpec.sample(n, **{"boot_s": BOOT_S, "reset_hold_s": RESET_HOLD_S, **spec})
        )
        self.started.append(camera.start(online=online))
        self.network.add(camera)
        return camera


def wait_answering(cameras: Cameras, camera: SimCamera, timeout_s: float = 15) -> None:
    """Until `camera` is up and has answered two more SADP probes: the rig's poller, which
    probes the simulated LAN on its own, has seen it (counted in probes, not seconds)."""
    assert wait_until(lambda: camera.online, timeout_s) is not None, "the camera stayed down"
    seen = cameras.network.requests_seen
    assert wait_until(lambda: cameras.network.requests_seen >= seen + 2, timeout_s) is not None


def wire(camera: SimCamera, bay: Bay) -> SimCamera:
    """The camera's power follows the bay's relay, its reset button the bay's solenoid."""
    camera.watch(bay.power_is_on, bay.pin_is_down)
    return camera


# -- rig as a process of its own ---------------------------------------------------------------


@dataclass
class Finished:
    code: int
    out: list[str]
    err: list[str]


@dataclass
class RigProcess:
    """`rig ARGS` in a process of its own (on logged mock pins when `pin_log` is given).

    stdout and stderr are read as they come, by threads, so a chatty rig never blocks on a
    full pipe, and a test can wait for a line. Leaving the `with` kills it if still running.
    """

    args: Sequence[str]
    cwd: Path
    pin_log: Path | None = None
    launcher: Sequence[str] = ()  # e.g. setpriv, to run rig as another user
    out: list[str] = field(default_factory=list)
    err: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.pin_log is not None:
            command = [sys.executable, str(HARNESS), str(self.pin_log), *self.args]
        else:
            command = [sys.executable, "-m", "rig", *self.args]
        self.proc = subprocess.Popen(
            [*self.launcher, *command],
            cwd=self.cwd,
            env={**os.environ, "GPIOZERO_PIN_FACTORY": "mock"},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: Any, lines: list[str]) -> None:
        for line in stream:
            lines.append(line.rstrip("\n"))

    def __enter__(self) -> RigProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()  # this process, by its own handle: nothing else is touched
        self.proc.wait(timeout=10)

    def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def said(self, fragment: str, after: int = 0) -> bool:
        """Did a line of stderr (from line `after` on) contain `fragment`?"""
        return any(fragment in line for line in list(self.err)[after:])

    def line_of(self, fragment: str) -> int:
        """The index in stderr of the first line containing `fragment` (said already)."""
        return next(i for i, line in enumerate(list(self.err)) if fragment in line)

    def wait_said(self, fragment: str, timeout_s: float, *, after: int = 0) -> None:
        assert wait_until(lambda: self.said(fragment, after), timeout_s, 0.01) is not None, (
            f"rig did not say {fragment!r} within {timeout_s} s; stderr:\n" + "\n".join(self.err)
        )

    def signal(self, sig: signal.Signals) -> float:
        """Send `sig`; returns the monotonic moment it was sent."""
        sent_at = time.monotonic()
        self.proc.send_signal(sig)
        return sent_at

    def finish(self, timeout_s: float = 30) -> Finished:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError):  # it may have gone already
                self.proc.stdin.close()
        code = self.proc.wait(timeout=timeout_s)
        for reader in self._readers:
            reader.join(timeout=5)
        return Finished(code, list(self.out), list(self.err))


# -- the three checks -------------------------------------------------------------------------


def assert_no_traceback(lines: Sequence[str]) -> None:
    text = "\n".join(lines)
    assert "Traceback" not in text, f"rig printed a traceback:\n{text}"


def assert_one_line_error(finished: Finished, message: str) -> None:
    """rig stopped with `message` as the last line of stderr, whole, and nothing else broken."""
    assert_no_traceback(finished.err)
    assert finished.err, "rig said nothing on stderr"
    assert finished.err[-1] == message, "\n".join(finished.err)


def assert_job_line(out: Sequence[str], job_id: int, outcome: str, reason: str) -> None:
    """`rig reset` told the operator the job's end in one line on stdout."""
    assert len(out) == 1, out
    assert out[0].startswith(f"job {job_id} bay A: {outcome} ({reason});"), out[0]


def jobs(data_dir: Path) -> list[dict[str, Any]]:
    with RecordStore(data_dir) as store:
        return store.jobs()


def only_job(data_dir: Path) -> dict[str, Any]:
    found = jobs(data_dir)
    assert len(found) == 1, [(j["job_id"], j["outcome"], j["reason"]) for j in found]
    return found[0]


def step_names(job: dict[str, Any]) -> list[str]:
    return [s["name"] for s in job["steps"]]


def step(job: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in job["steps"] if s["name"] == name)


def assert_record(
    job: dict[str, Any],
    outcome: str,
    reason: str | re.Pattern[str],
    steps: Sequence[str],
    *,
    optional: Sequence[str] = (),
) -> None:
    """The job's record: its outcome and reason, every step in order (besides the `optional`
    ones, which may be there or not), ending with the safe step that found the bay safe."""
    assert job["outcome"] == outcome, (job["outcome"], job["reason"])
    if isinstance(reason, re.Pattern):
        assert reason.fullmatch(job["reason"]), job["reason"]
    else:
        assert job["reason"] == reason
    assert [s for s in step_names(job) if s not in optional] == [*steps, "safe"]
    assert job["steps"][-1]["details"]["safe"] is True
    assert job["ended_wall"] is not None


def assert_safe_before_press(received: Sequence[Received]) -> None:
    """The lines a board got on a new connection (its own record): nothing but a stale PING
    before HELLO, then SAFE, and only later anything that moves (a press)."""
    verbs = [r.verb for r in received]
    assert "HELLO" in verbs, verbs
    hello = verbs.index("HELLO")
    assert set(verbs[:hello]) <= {"PING"}, verbs
    assert verbs[hello : hello + 2] == ["HELLO", "SAFE"], verbs
    assert "PRESS" in verbs[hello + 2 :], verbs


# -- disks that fail -----------------------------------------------------------------------------


def can_mount() -> bool:
    """Root with the right to mount (CAP_SYS_ADMIN): a tmpfs makes a real full or read-only
    filesystem. Root ignores file modes, so chmod alone proves nothing as root."""
    if os.geteuid() != 0 or shutil.which("mount") is None or os.environ.get("RIG_FAULTS_NO_MOUNT"):
        return False
    probe = Path(f"/tmp/rig-faults-mount-probe-{os.getpid()}")
    probe.mkdir(exist_ok=True)
    try:
        ok = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(probe)], capture_output=True
        )
        if ok.returncode != 0:
            return False
        subprocess.run(["umount", str(probe)], check=True)
        return True
    finally:
        probe.rmdir()


def mount_tmpfs(where: Path, size_kb: int) -> None:
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k,mode=0755", "tmpfs", str(where)],
        check=True,
        capture_output=True,
    )


def remount_read_only(where: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True, capture_output=True)


def unmount(where: Path) -> None:
    subprocess.run(["umount", "-l", str(where)], check=False, capture_output=True)


def fill(where: Path) -> None:
    """Write until the filesystem has not one block left."""
    fd = os.open(where / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass  # ENOSPC: full
    finally:
        os.close(fd)
    assert shutil.disk_usage(where).free == 0
