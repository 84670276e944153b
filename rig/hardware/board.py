"""The actuator board backend: rig's side of board-protocol.md over pyserial.

`BoardLink` is one board: it frames lines (pyserial's ReaderThread + LineReader split framing
from meaning), matches each answer to its request by id with a timeout, routes `EVT` lines
apart from answers, and PINGs every 400 ms while anything is active (the board makes itself
safe after 2000 ms of silence). It is thread-safe: several bays share one board.

`BoardPowerSwitch` and `BoardPresser` are one channel's relay and solenoid. The board owns the
hard real-time safety (auto-release, 60 s limit, cooldown, heartbeat, watchdog); if it vanishes
or reboots mid-job, the link faults: a bay's waits that watch it end at once (the link is a
`rig.clock.Tripwire`), and every later command raises `HardwareFault` naming what happened, so
the job ends `hardware_fault` with that reason on record.

`BoardKeeper` brings a lost board back at a station (`rig run`): between jobs it reopens the
port, checks HELLO and makes the board safe before any bay on it takes the next unit.

`BoardChannel` is the backend's settings (`power = { board = "b1", channel = 1 }`), read from a
bay's table and built into a device on the run's opened `BoardPool`.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import serial
import serial.threaded

from rig.clock import Clock
from rig.errors import ConfigError, CooldownError, HardwareFault
from rig.hardware.base import PowerSwitch, Presser, Release, Rest, check_press_limit
from rig.hardware.settings import BuildContext, Resources, Role
from rig.tomlcheck import Table

log = logging.getLogger(__name__)

PROTOCOL_VERSION = "1"
HEARTBEAT_S = 0.4  # the protocol asks for <= 500 ms; the board gives up at 2000 ms
ANSWER_TIMEOUT_S = 1.0
BAUDRATE = 115200


class BoardError(HardwareFault):
    """The board answered ERR: `code` and the key=value fields it sent."""

    def __init__(self, message: str, code: str, fields: dict[str, str]) -> None:
        super().__init__(message)
        self.code = code
        self.fields = fields


@dataclass(frozen=True)
class Event:
    name: str
    fields: dict[str, str]
    at: float = field(default_factory=time.monotonic)


def parse_fields(words: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if sep:
            out[key] = value
    return out


class _Lines(serial.threaded.LineReader):
    TERMINATOR = b"\n"
    link: BoardLink  # set by the factory below
    connection: int  # which of the link's connections this reader serves

    def handle_line(self, line: str) -> None:
        self.link._on_line(line.strip(), self.connection)

    def connection_lost(self, exc: BaseException | None) -> None:
        self.link._on_lost(exc, self.connection)


class BoardLink:
    """One board on a serial port (any pyserial URL: /dev/ttyACM0, a pty, loop://).

    Once it has faulted (`fault`: vanished, rebooted) every request raises `HardwareFault`
    until `reopen()` has connected again, said HELLO and made the board safe. A link is a
    `Tripwire` (rig.clock): `check()` raises its fault, and the events given to `also_set` are
    set the moment it faults, so a bay's waits end at once.
    """

    def __init__(
        self,
        name: str,
        port: str,
        *,
        answer_timeout_s: float = ANSWER_TIMEOUT_S,
        serial_for_url: Callable[..., Any] = serial.serial_for_url,
    ) -> None:
        self.name = name
        self.port = port
        self.answer_timeout_s = answer_timeout_s
        self._serial_for_url = serial_for_url
        self._ids = itertools.count(1)
        # One writer at a time; guards the pending table. Re-entrant: the SIGTERM handler runs
        # on the main thread and may make the bay safe while that thread is mid-request.
        self._lock = threading.RLock()
        self._pending: dict[str, queue.SimpleQueue[str | None]] = {}
        self._listeners: list[Callable[[Event], None]] = []
        self._on_fault: list[threading.Event] = []
        self._active: set[tuple[str, int]] = set()
        self._reader: serial.threaded.ReaderThread | None = None
        # Each connection (open, every reopen) has its number: a reader or heartbeat of an
        # earlier one that is still winding down is ignored.
        self._connection = 0
        self._ready = False  # HELLO done (and, on a reopen, the board made safe)
        self._lost: str | None = None  # what ended the current connection
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None
        self.events: list[Event] = []
        self.fault: str | None = None  # why the link can no longer be trusted
        self.hello: dict[str, str] | None = None  # the last HELLO answer, even one refused
        self.firmware = ""
        self.channels = 0

    # -- opening and closing -------------------------------------------------------------

    def open(self) -> BoardLink:
        self._connect()
        self._ready = True
        self._start_heartbeat()
        return self

    def reopen(self) -> None:
        """Connect again to a board that was lost (unplugged, rebooted): the same port (a udev
        name, as /dev/rig-board-b1, finds it whatever ttyACM it came back as), HELLO with the
        protocol checked, SAFE (every solenoid up, every relay de-energised), then STATUS must
        show every channel `on,up`. Only then is the fault cleared and the link usable: nothing
        is ever sent to a board in an unknown state but these.

        Raises `HardwareFault` (the link stays faulted) when the board is not back yet.
        Call it only while no job uses the link (the station does, between jobs)."""
        if self.fault is None:
            return
        if self._stop.is_set():
            raise HardwareFault(f"board {self.name}: closed")
        self._drop()
        self._connect()
        try:
            self._exchange("SAFE")
            status = self._exchange("STATUS")
            unsafe = [
                f"ch{n}={status.get(f'ch{n}')}"
                for n in range(1, self.channels + 1)
                if status.get(f"ch{n}") != "on,up"
            ]
            if unsafe:
                raise HardwareFault(f"board {self.name}: not safe after SAFE: {' '.join(unsafe)}")
        except HardwareFault:
            self._drop()
            raise
        with self._lock:
            self._active.clear()  # the board is safe: nothing of ours is active any more
            self._ready, self.fault = True, None
        self._start_heartbeat()

    def close(self) -> None:
        if self._stop.is_set():
            return
        if self.fault is None and self._reader is not None:
            try:
                self.request("SAFE")
            except HardwareFault as exc:
                log.warning("board %s: SAFE at close failed: %s", self.name, exc)
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join(timeout=2)
        self._drop()

    def __enter__(self) -> BoardLink:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connect(self) -> None:
        """Open the port, start its reader, HELLO (the protocol checked). Raises HardwareFault,
        the port closed again, when there is no board or not one rig can speak to."""
        try:
            # exclusive: a second rig (or a stray `rig reset` beside the station) opening the
            # same board is refused, not silently sharing its commands and replies.
            # No read timeout: the reader blocks until a byte comes (its stop() cancels the
            # read); a 0.1 s timeout woke each board's reader ten times a second for nothing.
            port = self._serial_for_url(self.port, baudrate=BAUDRATE, timeout=None, exclusive=True)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise HardwareFault(f"board {self.name}: cannot open {self.port}: {exc}") from None
        port.reset_input_buffer()  # a board keeps talking while nobody listens (EVT BOOT...)
        self._connection += 1
        self._lost = None
        self._ready = False
        connection = self._connection

        def protocol() -> _Lines:
            lines = _Lines()
            lines.link, lines.connection = self, connection
            return lines

        self._reader = serial.threaded.ReaderThread(port, protocol)
        self._reader.daemon = True
        self._reader.start()
        self._reader.connect()
        try:
            hello = self.hello = self._exchange("HELLO")
            if hello.get("proto") != PROTOCOL_VERSION:
                raise HardwareFault(
                    f"board {self.name} at {self.port} speaks protocol {hello.get('proto')!r};"
                    f" rig needs {PROTOCOL_VERSION} (flash the firmware in firmware/)"
                )
        except HardwareFault:
            self._drop()
            raise
        self.firmware = hello.get("fw", "?")
        self.channels = int(hello.get("channels", "0") or 0)

    def _drop(self) -> None:
        """Close the current connection's port, quietly: whatever it still says is ignored."""
        self._connection += 1
        self._ready = False
        reader, self._reader = self._reader, None
        if reader is not None:
            try:
                reader.close()
            except (serial.SerialException, OSError) as exc:
                log.debug("board %s: closing %s: %s", self.name, self.port, exc)

    def _start_heartbeat(self) -> None:
        self._heartbeat = threading.Thread(
            target=self._beat,
            args=(self._connection,),
            name=f"board-{self.name}-heartbeat",
            daemon=True,
        )
        self._heartbeat.start()

    # -- requests ------------------------------------------------------------------------

    def request(self, verb: str, *args: object) -> dict[str, str]:
        """Send `<id> VERB ARGS`, wait for its answer; ERR raises BoardError."""
        if self.fault is not None:
            raise HardwareFault(f"board {self.name}: {self.fault}")
        return self._exchange(verb, *args)

    def _exchange(self, verb: str, *args: object) -> dict[str, str]:
        """`request` on the current connection, whether or not the link has faulted (HELLO and
        SAFE while reconnecting)."""
        reader = self._reader
        assert reader is not None, "open() the link first"
        answer: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        with self._lock:
            request_id = str(next(self._ids) % 100_000_000 or next(self._ids))
            self._pending[request_id] = answer
            line = " ".join([request_id, verb, *map(str, args)])
            try:
                reader.write(line.encode("ascii") + b"\n")
            except (serial.SerialException, OSError) as exc:
                self._pending.pop(request_id, None)
                self._fail(f"vanished (write failed: {exc})")
                raise HardwareFault(f"board {self.name}: {self._lost}") from None
        try:
            reply = answer.get(timeout=self.answer_timeout_s)
        except queue.Empty:
            reply = None
            with self._lock:
                self._pending.pop(request_id, None)
            if self._lost is None:
                raise HardwareFault(
                    f"board {self.name}: no answer to {verb} within {self.answer_timeout_s:g} s"
                ) from None
        if reply is None:
            raise HardwareFault(f"board {self.name}: {self._lost}")
        kind, _, rest = reply.partition(" ")
        words = rest.split()[1:]  # drop the echoed id
        if kind == "ERR":
            code = words[0] if words else "?"
            fields = parse_fields(words[1:])
            raise BoardError(f"board {self.name}: {verb} refused: {' '.join(words)}", code, fields)
        return parse_fields(words)

    # -- the link as a tripwire (rig.clock) --------------------------------------------------

    def check(self) -> None:
        """Raise the link's fault as `HardwareFault`; return while the link is good."""
        fault = self.fault
        if fault is not None:
            raise HardwareFault(f"board {self.name}: {fault}")

    def also_set(self, event: threading.Event) -> None:
        """Set `event` every time the link faults (at once, if it has faulted already)."""
        with self._lock:
            self._on_fault.append(event)
        if self.fault is not None:
            event.set()

    # -- activity (drives the heartbeat) ---------------------------------------------------

    def set_active(self, what: tuple[str, int], active: bool) -> None:
        with self._lock:
            if active:
                self._active.add(what)
            else:
                self._active.discard(what)

    def _beat(self, connection: int) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            if self.fault is not None or connection != self._connection:
                return
            with self._lock:
                idle = not self._active
            if idle:
                continue
            try:
                self.request("PING")
            except HardwareFault as exc:
                log.error("board %s: heartbeat failed: %s", self.name, exc)

    # -- events ----------------------------------------------------------------------------

    def subscribe(self, listener: Callable[[Event], None]) -> None:
        self._listeners.append(listener)

    def _on_line(self, line: str, connection: int) -> None:
        if not line or connection != self._connection:
            return
        words = line.split()
        if words[0] == "EVT" and len(words) > 1:
            event = Event(words[1], parse_fields(words[2:]))
            self.events.append(event)
            log.info("board %s: %s", self.name, line)
            if event.name == "BOOT" and self._ready:
                # Restarted under our feet: it is safe now, but whatever we had started is gone.
                # (Before the link is ready a BOOT is the board starting up as we connect.)
                self._fail(f"rebooted mid-job (EVT BOOT cause={event.fields.get('cause', '?')})")
            for listener in list(self._listeners):
                try:
                    listener(event)
                except Exception:
                    log.exception("board %s: event listener failed", self.name)
            return
        if words[0] in ("OK", "ERR") and len(words) > 1:
            with self._lock:
                waiter = self._pending.pop(words[1], None)
            if waiter is not None:
                waiter.put(line)
                return
        log.warning("board %s: unexpected line %r", self.name, line)

    def _on_lost(self, exc: BaseException | None, connection: int) -> None:
        if not self._stop.is_set() and connection == self._connection:
            self._fail(f"vanished ({exc or 'port closed'})")

    def _fail(self, reason: str) -> None:
        """The current connection is over: its waiters get no answer, and a link that was good
        faults (logged, and every `also_set` event set)."""
        self._lost = self._lost or reason
        with self._lock:
            waiters, self._pending = list(self._pending.values()), {}
            newly = self.fault is None and self._ready
            if newly:
                self.fault = reason
            wake = list(self._on_fault) if newly else []
        if newly:
            log.error("board %s at %s: %s", self.name, self.port, reason)
        for waiter in waiters:
            waiter.put(None)
        for event in wake:
            event.set()


class BoardPowerSwitch(PowerSwitch):
    def __init__(self, link: BoardLink, channel: int, *, name: str | None = None) -> None:
        self._link = link
        self._channel = channel
        self._on = True  # the board starts with every relay de-energised
        self.name = name or f"board {link.name} ch{channel} relay"

    @property
    def link(self) -> BoardLink:
        return self._link

    def on(self) -> None:
        self._link.request("POWER", self._channel, "ON")
        self._on = True
        self._link.set_active(("power", self._channel), False)

    def off(self) -> None:
        # Active first: the heartbeat must run from the moment the power is cut.
        self._link.set_active(("power", self._channel), True)
        self._link.request("POWER", self._channel, "OFF")
        self._on = False

    def is_on(self) -> bool:
        return self._on

    def make_safe(self) -> None:
        if self._link.fault is not None:
            # A rebooted board starts safe; a vanished one goes safe on its heartbeat (or has
            # lost USB power): either way its relays are de-energised and the camera powered.
            self._on = True
            return
        self.on()


class BoardPresser(Presser):
    """The board times the press itself: `release()` reports its `held_ms`, `timed_by` board.

    A press the board ended on its own (`EVT RELEASED` at the end of a PRESS, or `EVT SAFE`)
    is reported, `early`, by the next `release()`.
    """

    def __init__(
        self, link: BoardLink, channel: int, clock: Clock, *, name: str | None = None
    ) -> None:
        self._link = link
        self._channel = channel
        self._clock = clock
        self._pressed = False
        self._pressed_at = 0.0  # when the last PRESS was answered, by `clock`
        self._early: Release | None = None  # the press the board ended, not yet reported
        # Mirrors the board's own COOLDOWN, so the procedure waits it out instead of failing.
        self._rest: Rest = Rest(clock)
        self.name = name or f"board {link.name} ch{channel} solenoid"
        link.subscribe(self._on_event)

    @property
    def link(self) -> BoardLink:
        return self._link

    def _on_event(self, event: Event) -> None:
        ours = event.name == "RELEASED" and event.fields.get("ch") == str(self._channel)
        if not (ours or event.name == "SAFE") or not self._pressed:
            return
        self._pressed = False
        held_s = _held_s(event.fields) if ours else None  # EVT SAFE carries no held_ms
        if held_s is not None:
            self._rest.after(held_s)
        self._early = Release(held_s, "board", early=True)

    def press(self, max_s: float) -> None:
        check_press_limit(max_s)
        self._early = None
        self._link.set_active(("press", self._channel), True)
        try:
            self._link.request("PRESS", self._channel, round(max_s * 1000))
        except BoardError as exc:
            self._link.set_active(("press", self._channel), False)
            if exc.code == "COOLDOWN":
                rest_s = int(exc.fields.get("ms", "0")) / 1000
                raise CooldownError(f"{self.name}: must rest {rest_s:.1f} s more", rest_s) from None
            raise
        self._pressed, self._pressed_at = True, self._clock.monotonic()

    def release(self) -> Release:
        held_s = self._up()
        if held_s is None and self._early is not None:
            early, self._early = self._early, None
            return early
        return Release(held_s, "board")

    def _up(self) -> float | None:
        """RELEASE; the board's `held_ms` in seconds, None if the pin was already up."""
        was_pressed = self._pressed
        try:
            answer = self._link.request("RELEASE", self._channel)
        except HardwareFault:
            self._lost_press()
            raise
        finally:
            self._pressed = False
            self._link.set_active(("press", self._channel), False)
        held_s = _held_s(answer)
        if held_s is not None:
            self._rest.after(held_s)
        elif was_pressed:  # down by our books, up by the board's: it restarted meanwhile
            self._rest.after(self._clock.monotonic() - self._pressed_at)
        return held_s

    def is_pressed(self) -> bool:
        return self._pressed

    def make_safe(self) -> None:
        if self._link.fault is not None:
            # Rebooted (safe since) or vanished (safe on its heartbeat): the pin is up.
            self._lost_press()
            return
        held_s = self._up()
        if held_s is not None:  # a press ended by the safe state, not by its caller
            self._early = Release(held_s, "board", early=True)

    def _lost_press(self) -> None:
        """The board went away with the pin down: it is up now (the board is safe), but how
        long it was down nobody will say. It rests as long as it may have worked: until now."""
        if self._pressed:
            self._pressed = False
            self._rest.after(self._clock.monotonic() - self._pressed_at)


def _held_s(fields: Mapping[str, str]) -> float | None:
    """The board's `held_ms` in seconds; None when it reports the pin was not down."""
    try:
        held_ms = int(fields.get("held_ms", "0"))
    except ValueError:
        return None
    return held_ms / 1000 if held_ms > 0 else None


class _Port(Protocol):
    @property
    def port(self) -> str: ...


class BoardPool:
    """The boards of one run, opened on first use and closed (made SAFE) at the end."""

    def __init__(self, boards: Mapping[str, _Port]) -> None:
        self._configs = boards
        self._links: dict[str, BoardLink] = {}

    def link(self, name: str) -> BoardLink:
        if name not in self._links:
            config = self._configs[name]
            self._links[name] = BoardLink(name, config.port).open()
        return self._links[name]

    def close(self) -> None:
        for link in self._links.values():
            link.close()
        self._links.clear()

    def __enter__(self) -> BoardPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def board_links(parts: Iterable[object]) -> list[BoardLink]:
    """The board links that the given actuators (a bay's power and presser) drive, each once."""
    links: list[BoardLink] = []
    for part in parts:
        if isinstance(part, BoardPowerSwitch | BoardPresser) and part.link not in links:
            links.append(part.link)
    return links


#: The waits between attempts to reconnect a lost board: short at first (a rebooted board
#: answers at once, a replugged one within a second or two), then every 2 s while it stays away.
RECONNECT_BACKOFF_S = (0.25, 0.5, 1.0, 2.0)


class BoardKeeper:
    """Brings one lost board back between jobs, at a station (`rig run`): one keeper per
    board, shared by every bay on it. A state machine on a thread of its own:

    - `up`: nothing to do; it sleeps until the link faults (the link sets its event).
    - `lost`: the link faulted (vanished, rebooted). The board's bays take no unit. It waits
      until `may_reconnect()` says no bay on the board is in a job (the station `poke`s it
      when one ends), then tries `link.reopen()`: the same port, HELLO, SAFE, STATUS.
    - `absent`: that attempt failed (nothing at the port yet, no answer, another protocol);
      it tries again after the next wait of `backoff_s` (the last one repeats).
    - `up` again once a reopen succeeded: the bays take units again.

    Every change of state is one log line (`lost` is the link's own) and a call of
    `on_change(keeper)`, from the keeper's thread.
    """

    def __init__(
        self,
        link: BoardLink,
        *,
        may_reconnect: Callable[[], bool],
        on_change: Callable[[BoardKeeper], None],
        backoff_s: Sequence[float] = RECONNECT_BACKOFF_S,
    ) -> None:
        if not backoff_s:
            raise ValueError("backoff_s needs at least one wait")
        self.link = link
        self.state = "up"
        self._may_reconnect = may_reconnect
        self._on_change = on_change
        self._backoff_s = tuple(backoff_s)
        self._wake = threading.Event()
        self._closed = False
        self._why = ""  # why the last attempt failed
        self._thread = threading.Thread(
            target=self._run, name=f"board-{link.name}-keeper", daemon=True
        )
        link.also_set(self._wake)

    def describe(self) -> str:
        """What a bay on this board shows while it is held back."""
        return f"board {self.link.name} lost: reconnecting"

    def start(self) -> BoardKeeper:
        self._thread.start()
        return self

    def poke(self) -> None:
        """Look again: a job on the board has ended (the reconnect may be due)."""
        self._wake.set()

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def __enter__(self) -> BoardKeeper:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        waits = iter(self._backoff_s)
        next_try = 0.0
        while True:
            self._wake.clear()  # before looking, so a fault or poke meanwhile is not lost
            if self._closed:
                return
            timeout: float | None = None  # until the next fault or poke
            if self.link.fault is not None:
                if self.state == "up":
                    waits, next_try = iter(self._backoff_s), 0.0
                    self._enter("lost")
                now = time.monotonic()
                if now < next_try:
                    timeout = next_try - now
                elif self._may_reconnect():
                    if not self._attempt():
                        next_try = time.monotonic() + next(waits, self._backoff_s[-1])
                    continue
            self._wake.wait(timeout)

    def _attempt(self) -> bool:
        link = self.link
        try:
            link.reopen()
        except HardwareFault as exc:
            why = str(exc).removeprefix(f"board {link.name}: ")
            if self.state != "absent" or why != self._why:
                log.warning("board %s at %s: not back yet (%s)", link.name, link.port, why)
            self._why = why
            self._enter("absent")
            return False
        # A warning, as the loss was an error: the default log level shows both lines.
        log.warning("board %s at %s: back (fw %s), safe", link.name, link.port, link.firmware)
        self._enter("up")
        return True

    def _enter(self, state: str) -> None:
        if state == self.state:
            return
        self.state = state
        try:
            self._on_change(self)
        except Exception:
            log.exception("board %s: keeper listener failed", self.link.name)


def check_board(link: BoardLink, say: Callable[[str], None], *, tap_ms: int = 200) -> list[str]:
    """`rig board check`: identify the board, click each relay, tap each solenoid and let the
    board release it on its own (EVT RELEASED proves the auto-release). Returns the problems."""
    problems: list[str] = []
    say(
        f"board {link.name} at {link.port}: protocol {PROTOCOL_VERSION}, firmware "
        f"{link.firmware}, {link.channels} channel(s)"
    )
    released = threading.Event()
    got: list[Event] = []

    def on_event(event: Event) -> None:
        if event.name == "RELEASED":
            got.append(event)
            released.set()

    link.subscribe(on_event)
    for channel in range(1, link.channels + 1):
        try:
            say(f"ch{channel}: relay off 1 s (two clicks)")
            link.set_active(("check", channel), True)
            link.request("POWER", channel, "OFF")
            time.sleep(1.0)
            link.request("POWER", channel, "ON")
            say(f"ch{channel}: solenoid tap {tap_ms} ms (the board releases it)")
            released.clear()
            link.request("PRESS", channel, tap_ms)
            if not released.wait(tap_ms / 1000 + 1.0):
                problems.append(f"ch{channel}: no EVT RELEASED after a {tap_ms} ms press")
            elif got[-1].fields.get("ch") != str(channel):
                problems.append(f"ch{channel}: EVT RELEASED named {got[-1].fields.get('ch')}")
        except HardwareFault as exc:
            problems.append(f"ch{channel}: {exc}")
        finally:
            link.set_active(("check", channel), False)
    status = link.request("STATUS")
    say("status: " + " ".join(f"{k}={v}" for k, v in sorted(status.items())))
    for channel in range(1, link.channels + 1):
        if status.get(f"ch{channel}") != "on,up":
            problems.append(f"ch{channel}: not safe after the check ({status.get(f'ch{channel}')})")
    return problems


# -- the backend's settings -----------------------------------------------------------------

#: The channels a `{ board, channel }` may name (the protocol's channel numbers).
CHANNEL_RANGE = (1, 16)


@dataclass(frozen=True)
class BoardChannel:
    """`{ board = "b1", channel = 1 }`: one channel of a `[boards.b1]`, its relay as a bay's
    power, its solenoid as a bay's presser."""

    board: str
    channel: int

    def build_power(self, ctx: BuildContext) -> BoardPowerSwitch:
        return BoardPowerSwitch(self._link(ctx), self.channel)

    def build_presser(self, ctx: BuildContext) -> BoardPresser:
        return BoardPresser(self._link(ctx), self.channel, ctx.clock)

    def _link(self, ctx: BuildContext) -> BoardLink:
        if ctx.boards is None:
            raise ConfigError(f"{ctx.where}: board {self.board!r} used but no boards were opened")
        return ctx.boards.link(self.board)

    def describe(self) -> str:
        return f"{self.board} ch{self.channel}"

    def claims(self, role: Role) -> tuple[Hashable, ...]:
        # A channel has one relay and one solenoid: power and presser may share its number.
        return (("board", self.board, self.channel, role),)


def read(t: Table, resources: Resources) -> BoardChannel:
    board = resources.refer(t, "board", "boards")
    channel: int = t.integer("channel", lo=CHANNEL_RANGE[0], hi=CHANNEL_RANGE[1])
    return BoardChannel(board=board, channel=channel)
