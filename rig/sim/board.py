"""A simulated actuator board: the firmware's own logic behind a pseudo-terminal.

The logic is not re-implemented here: `firmware/rigboard.py` and `firmware/linebuf.py` (the very
files copied to the Pico) are loaded from the repository and run in a thread on a real
millisecond clock, with recording pins instead of machine.Pin / machine.PWM. The host talks to
it exactly as to a board, through a pty that pyserial opens like a USB serial device:

    with SimBoard(channels=4) as board:
        port = board.port                       # "/dev/pts/N"
        ...                                     # serial.Serial(port) / rig's board backend
        cam.watch(lambda: board.power_is_on(1), lambda: board.pin_is_down(1))

`unplug()` and `reboot()` play the board's two failures: it vanishes (the host gets an I/O
error) or it restarts (safe, and says EVT BOOT); `start()` again plugs it back in (on a new
pty, as a real board may come back as another ttyACM). Given an `alias`, the board keeps a
symlink there to its current pty while it is plugged in, as a udev rule keeps
/dev/rig-board-b1, and `port` is that name. `received` is the board's own record of every line
the host sent it, in order, each with the number of the boot it reached.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import select
import threading
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

import rig

#: MicroPython's ticks_ms on the RP2040 wraps every 2**30 ms; the simulated clock does the same.
TICKS_PERIOD = 1 << 30
_TICKS_MASK = TICKS_PERIOD - 1
_TICKS_HALF = TICKS_PERIOD // 2

#: How long the board's loop waits for input per pass: its timing resolution, as on the Pico.
_POLL_S = 0.001

#: Bytes read from the host per pass, so a flood cannot starve the board's deadlines.
_READ_CHUNK = 256


def firmware_dir() -> Path:
    """The repository's firmware/ directory (rig is installed editable, beside it)."""
    return Path(rig.__file__).resolve().parent.parent / "firmware"


@functools.cache
def load_firmware_module(name: str) -> ModuleType:
    """Load firmware/<name>.py under a private module name, so nothing of ours is shadowed."""
    path = firmware_dir() / f"{name}.py"
    if not path.is_file():
        raise FileNotFoundError(
            f"firmware module {path} not found: the simulated board runs the repository's "
            "firmware/ logic and needs rig installed from a checkout (pip install -e .)"
        )
    spec = importlib.util.spec_from_file_location(f"_rig_sim_firmware_{name}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ticks_ms() -> int:
    """time.ticks_ms: milliseconds on a monotonic clock, wrapping like MicroPython's."""
    return (time.monotonic_ns() // 1_000_000) & _TICKS_MASK


def ticks_diff(end: int, start: int) -> int:
    """time.ticks_diff: signed distance from start to end, right across the wraparound."""
    return ((end - start + _TICKS_HALF) & _TICKS_MASK) - _TICKS_HALF


class _Relay:
    """machine.Pin as the firmware drives a relay: `value(level)`."""

    def __init__(self, changed: Callable[[], None]) -> None:
        self.level = 0
        self._changed = changed

    def value(self, level: int | None = None) -> int | None:
        if level is None:
            return self.level
        level = 1 if level else 0
        if level != self.level:
            self.level = level
            self._changed()
        return None


class _Solenoid:
    """machine.PWM as the firmware drives a solenoid gate: `duty_u16(duty)`."""

    def __init__(self, changed: Callable[[], None]) -> None:
        self.duty = 0
        self._changed = changed

    def duty_u16(self, duty: int | None = None) -> int | None:
        if duty is None:
            return self.duty
        if duty != self.duty:
            was_down = self.duty > 0
            self.duty = duty
            if was_down != (duty > 0):
                self._changed()
        return None


@dataclass(frozen=True)
class Received:
    """One line the host sent, as the board's firmware got it."""

    at: float  # time.monotonic()
    boot: int  # 1 for the first start; each start() (plugged in) and reboot() adds one
    line: str

    @property
    def verb(self) -> str:
        words = self.line.split()
        return words[1].upper() if len(words) > 1 else ""


class SimBoard:
    """The actuator board, simulated: firmware logic, a pty for the host, pins to watch.

    Thread-safe: the board runs in its own thread; the query methods may be called from any.
    """

    def __init__(
        self,
        channels: int = 4,
        *,
        relay_active_high: bool = True,
        boot_cause: str = "power",
        alias: str | os.PathLike[str] | None = None,
    ) -> None:
        if channels < 1:
            raise ValueError(f"a board has at least one channel, not {channels}")
        self.channels = channels
        self.relay_active_high = relay_active_high
        self._boot_cause = boot_cause
        self._rigboard = load_firmware_module("rigboard")
        self._linebuf = load_firmware_module("linebuf")
        self._lock = threading.RLock()
        self._listeners: list[Callable[[int], None]] = []
        self._relays = {ch: _Relay(functools.partial(self._notify, ch)) for ch in self._numbers()}
        self._solenoids = {
            ch: _Solenoid(functools.partial(self._notify, ch)) for ch in self._numbers()
        }
        self._relays_safe()
        self._master: int | None = None
        self._slave: int | None = None
        self._port: str | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._out = bytearray()
        self._alias = Path(alias) if alias is not None else None
        self.boots = 0
        self.received: list[Received] = []
        # The firmware's own objects (untyped MicroPython code): rigboard.Board, LineBuffer.
        self._board: Any = None
        self._lines: Any = None

    # -- life cycle ------------------------------------------------------------------------------

    def start(self) -> str:
        """Plug the board in: open the pty, boot the firmware, run it. Returns `port`."""
        with self._lock:
            if self._thread is not None:
                raise RuntimeError("the simulated board is already running")
            master, slave = os.openpty()
            # Raw, no echo: a serial line, not a terminal, whoever opens it (pyserial sets the
            # same on open; a host that does not must not see its own bytes echoed back).
            tty.setraw(slave)
            os.set_blocking(master, False)
            self._master, self._slave = master, slave
            self._port = os.ttyname(slave)
            if self._alias is not None:  # udev's symlink: the name the host opens
                self._alias.unlink(missing_ok=True)
                self._alias.symlink_to(self._port)
            self._boot(self._boot_cause)
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name=f"rig.sim.board {self._port}", daemon=True
            )
            self._thread.start()
            return self.port

    def stop(self) -> None:
        """Stop the board and close its pty; idempotent. The outputs go safe (board unpowered)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        with self._lock:
            self._thread = None
            if self._alias is not None and self._alias.is_symlink():
                self._alias.unlink()  # unplugged: udev removes the name with the device
            for fd in (self._master, self._slave):
                if fd is not None:
                    os.close(fd)
            self._master = self._slave = None
            # An unpowered board: relay coils off (NC: cameras powered), gates pulled down.
            for solenoid in self._solenoids.values():
                solenoid.duty_u16(0)
            self._relays_safe()

    def unplug(self) -> None:
        """The board vanishes (USB pulled): the host's next read or write fails with EIO."""
        self.stop()

    def reboot(self, cause: str = "watchdog") -> None:
        """The board restarts (watchdog, power blip): all safe, state lost, EVT BOOT."""
        if cause not in ("power", "watchdog", "soft"):
            raise ValueError(f"cause must be power, watchdog or soft, not {cause!r}")
        with self._lock:
            if self._thread is None:
                raise RuntimeError("the simulated board is not running")
            self._boot(cause)
            self._flush()

    @property
    def port(self) -> str:
        """What the host opens: the alias if there is one (it stays while unplugged, as a
        config's port does), else the current pty."""
        if self._alias is not None:
            return str(self._alias)
        return self.pty

    @property
    def pty(self) -> str:
        """The pty the board is (or was last) plugged in as."""
        if self._port is None:
            raise RuntimeError("the simulated board has not been started")
        return self._port

    def received_since_boot(self, boot: int | None = None) -> list[Received]:
        """The lines the host sent since boot `boot` (the current one if None), in order."""
        with self._lock:
            boot = self.boots if boot is None else boot
            return [r for r in self.received if r.boot >= boot]

    @property
    def running(self) -> bool:
        return self._thread is not None

    def __enter__(self) -> SimBoard:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what a simulated camera watches --------------------------------------------------------

    def power_is_on(self, ch: int) -> bool:
        """Does the camera on `ch` have power? Relay de-energised = powered (NC wiring)."""
        energised_level = 1 if self.relay_active_high else 0
        return self._relays[self._check(ch)].level != energised_level

    def pin_is_down(self, ch: int) -> bool:
        """Is the solenoid on `ch` holding the camera's reset pin down (any duty)?"""
        return self._solenoids[self._check(ch)].duty > 0

    def duty_u16(self, ch: int) -> int:
        """The solenoid's PWM duty now: 65535 while hitting, lower while holding, 0 when up."""
        return self._solenoids[self._check(ch)].duty

    def add_listener(self, callback: Callable[[int], None]) -> None:
        """Call `callback(ch)` (from the board's thread) whenever power or pin of ch changes."""
        self._listeners.append(callback)

    # -- the board's thread ----------------------------------------------------------------------

    def _run(self) -> None:
        master = self._master
        assert master is not None
        while not self._stop.is_set():
            try:
                readable, _, _ = select.select([master], [], [], _POLL_S)
            except (OSError, ValueError):
                return  # the pty went away under us: stop() is closing it
            with self._lock:
                if self._stop.is_set():
                    return
                board = self._board
                board.tick()
                if readable:
                    try:
                        data = os.read(master, _READ_CHUNK)
                    except BlockingIOError:
                        data = b""
                    except OSError:
                        return
                    for raw in self._lines.feed(data):
                        text = raw.decode("ascii", "replace") if raw is not None else ""
                        self.received.append(Received(time.monotonic(), self.boots, text))
                        board.handle(raw)
                self._flush()

    def _boot(self, cause: str) -> None:
        board = self._rigboard.Board(
            {ch: (self._relays[ch], self._solenoids[ch]) for ch in self._numbers()},
            ticks_ms,
            ticks_diff,
            self._emit,
            relay_active_high=self.relay_active_high,
        )
        self._board = board
        self._lines = self._linebuf.LineBuffer()
        self.boots += 1
        board.boot(cause)

    def _emit(self, line: str) -> None:
        self._out.extend(line.encode() + b"\n")

    def _flush(self) -> None:
        if not self._out or self._master is None:
            return
        try:
            written = os.write(self._master, bytes(self._out))
        except BlockingIOError:
            written = len(self._out)  # nobody reads: dropped, as USB CDC drops with no host
        except OSError:
            written = len(self._out)
        del self._out[:written]

    # -- pins ------------------------------------------------------------------------------------

    def _numbers(self) -> range:
        return range(1, self.channels + 1)

    def _check(self, ch: int) -> int:
        if ch not in self._relays:
            raise ValueError(f"no channel {ch} on a {self.channels}-channel board")
        return ch

    def _relays_safe(self) -> None:
        for relay in self._relays.values():
            relay.value(0 if self.relay_active_high else 1)

    def _notify(self, ch: int) -> None:
        for callback in list(self._listeners):
            callback(ch)
