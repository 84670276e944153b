"""A USB barcode scanner for `rig run`: key events in, label serials out.

A scanner is a keyboard: it types what it read and ends with the suffix it is set to (CR or
LF, an Enter key). Three layers, each testable without a device:

- `ScanDecoder`: pure. (type, code, value) key events (tuples or evdev `InputEvent`s) to
  scans, with a US keymap of its own (the host's layout does not apply to a grabbed device)
  and any AIM symbology identifier (`]C0`, `]Q1`, `]E0`) stripped from the start.
- `ScannerReader`: opens `[station] scanner` with python-evdev, `grab()`s it so its
  keystrokes reach nobody else (not the console, not the station's own stdin), yields scans,
  and waits for the device to come back when it is unplugged.
- `ScanSource` / `scan_lines`: what `rig run` iterates. Without a scanner, stdin as before;
  with one, the scanner and, when stdin is a terminal, typed lines too (a service's stdin,
  /dev/null, is not read: its end does not stop the station).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import queue
import re
import select
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Protocol, TextIO

from rig.errors import RigError

if TYPE_CHECKING:
    from rig.config import RigConfig

log = logging.getLogger(__name__)

# -- key codes (linux/input-event-codes.h: a kernel ABI, so the decoder needs no evdev) ------

EV_KEY = 1
VALUE_UP, VALUE_DOWN, VALUE_REPEAT = 0, 1, 2  # an EV_KEY event's value

KEY_BACKSPACE = 14
KEY_TAB = 15
KEY_ENTER = 28
KEY_LEFTCTRL = 29
KEY_LEFTSHIFT = 42
KEY_RIGHTSHIFT = 54
KEY_LEFTALT = 56
KEY_CAPSLOCK = 58
KEY_KPENTER = 96
KEY_RIGHTCTRL = 97
KEY_RIGHTALT = 100
KEY_LEFTMETA = 125
KEY_RIGHTMETA = 126

SHIFTS = frozenset({KEY_LEFTSHIFT, KEY_RIGHTSHIFT})
#: Held, these make a key a command rather than a character (a scanner's control codes).
COMMAND_MODIFIERS = frozenset(
    {KEY_LEFTCTRL, KEY_RIGHTCTRL, KEY_LEFTALT, KEY_RIGHTALT, KEY_LEFTMETA, KEY_RIGHTMETA}
)
#: Keys that end a scan: the CR or LF suffix (Enter), and Tab, a suffix some scanners use.
END_KEYS = frozenset({KEY_ENTER, KEY_KPENTER, KEY_TAB})
#: Ctrl+M (CR) and Ctrl+J (LF): the suffix of a scanner set to send control codes as Ctrl+key.
CONTROL_ENDS = frozenset({50, 36})

_LETTERS = {
    **dict(zip(range(16, 26), "qwertyuiop", strict=True)),
    **dict(zip(range(30, 39), "asdfghjkl", strict=True)),
    **dict(zip(range(44, 51), "zxcvbnm", strict=True)),
}

#: US layout: code -> (plain, shifted), letters aside (Caps Lock applies to those only).
_SYMBOLS: dict[int, tuple[str, str]] = {
    **{
        code: (plain, shifted)
        for code, plain, shifted in zip(range(2, 12), "1234567890", "!@#$%^&*()", strict=True)
    },
    12: ("-", "_"),  # KEY_MINUS
    13: ("=", "+"),  # KEY_EQUAL
    26: ("[", "{"),  # KEY_LEFTBRACE
    27: ("]", "}"),  # KEY_RIGHTBRACE
    39: (";", ":"),  # KEY_SEMICOLON
    40: ("'", '"'),  # KEY_APOSTROPHE
    41: ("`", "~"),  # KEY_GRAVE
    43: ("\\", "|"),  # KEY_BACKSLASH
    51: (",", "<"),  # KEY_COMMA
    52: (".", ">"),  # KEY_DOT
    53: ("/", "?"),  # KEY_SLASH
    57: (" ", " "),  # KEY_SPACE
}

#: The keypad, as with Num Lock on (a scanner's "keypad emulation" assumes it), shift or not.
_KEYPAD = {
    71: "7", 72: "8", 73: "9", 74: "-",
    75: "4", 76: "5", 77: "6", 78: "+",
    79: "1", 80: "2", 81: "3",
    82: "0", 83: ".",
    55: "*", 98: "/", 117: "=",
}  # fmt: skip

#: No label serial is anywhere near this long: past it the scan is garbage and is dropped.
MAX_SCAN_CHARS = 128

#: An AIM symbology identifier: `]`, the symbology's letter, a modifier character.
AIM_PREFIX = re.compile(r"\][A-Za-z][0-9A-Za-z]")


def strip_aim_prefix(text: str) -> str:
    """`]C0AAWRJ1234567` -> `AAWRJ1234567`; anything else as it is."""
    return text[3:] if AIM_PREFIX.match(text) else text


def _fields(event: object) -> tuple[int, int, int] | None:
    """(type, code, value) of an event object or a 3-tuple; None for anything else."""
    if isinstance(event, tuple):
        if len(event) != 3:
            return None
        fields = event
    else:
        try:
            fields = (event.type, event.code, event.value)  # type: ignore[attr-defined]
        except Exception:
            return None
    if not all(isinstance(f, int) and not isinstance(f, bool) for f in fields):
        return None
    return fields[0], fields[1], fields[2]


class ScanDecoder:
    """Key events in, scans out. Pure: no device, no clock; it never raises on bad input.

    A key-down types its character; key-ups only release Shift (and the other modifiers);
    autorepeats are dropped (a scanner never holds a key: a repeat is the kernel's, when the
    key-up came late). Enter or keypad Enter (the scanner's CR or LF suffix), Ctrl+M or Ctrl+J
    (the same sent as control codes) or Tab ends a scan; empty scans (CR LF) are skipped. Other
    keys with Ctrl, Alt or Meta held, unknown keys and other event types (EV_SYN, EV_MSC) are
    ignored; so is a scan past `max_chars`.
    """

    def __init__(self, *, max_chars: int = MAX_SCAN_CHARS) -> None:
        self.max_chars = max_chars
        self._chars: list[str] = []
        self._held: set[int] = set()
        self._caps = False
        self._overflow = False

    @property
    def pending(self) -> str:
        """What has been typed since the last end of scan."""
        return "".join(self._chars)

    def reset(self) -> None:
        """Forget the scan in progress (a device that went away mid-scan)."""
        self._chars.clear()
        self._overflow = False

    def feed(self, event: object) -> str | None:
        """One event; the scan it completes, if any."""
        fields = _fields(event)
        if fields is None:
            return None
        kind, code, value = fields
        if kind != EV_KEY:
            return None
        if value == VALUE_UP:
            self._held.discard(code)
            return None
        if value != VALUE_DOWN:  # autorepeat (VALUE_REPEAT), or a value no key event has
            return None
        if code in SHIFTS or code in COMMAND_MODIFIERS:
            self._held.add(code)
            return None
        if code == KEY_CAPSLOCK:
            self._caps = not self._caps
            return None
        if code in END_KEYS or (self._held & COMMAND_MODIFIERS and code in CONTROL_ENDS):
            return self._end()
        if code == KEY_BACKSPACE:
            if self._chars:
                self._chars.pop()
            return None
        char = self._char(code)
        if char is not None and not (self._held & COMMAND_MODIFIERS):
            if len(self._chars) < self.max_chars:
                self._chars.append(char)
            else:
                self._overflow = True
        return None

    def feed_all(self, events: Iterable[object]) -> list[str]:
        """Every scan the events complete, in order."""
        return [scan for event in events if (scan := self.feed(event)) is not None]

    def _char(self, code: int) -> str | None:
        shift = bool(self._held & SHIFTS)
        if (letter := _LETTERS.get(code)) is not None:
            return letter.upper() if shift != self._caps else letter
        if (pair := _SYMBOLS.get(code)) is not None:
            return pair[shift]
        return _KEYPAD.get(code)

    def _end(self) -> str | None:
        text, overflow = self.pending, self._overflow
        self.reset()
        if overflow:
            log.warning("scanner: dropped a scan longer than %d characters", self.max_chars)
            return None
        text = strip_aim_prefix(text)
        return text or None


def decode(events: Iterable[object]) -> list[str]:
    """The scans a recorded sequence of events holds (a fresh decoder)."""
    return ScanDecoder().feed_all(events)


# -- the device ---------------------------------------------------------------------------


class ScannerDevice(Protocol):
    """What the reader uses of an `evdev.InputDevice` (tests hand it a fake)."""

    fd: int

    def grab(self) -> None: ...

    def ungrab(self) -> None: ...

    def read(self) -> Iterable[object]: ...

    def close(self) -> None: ...


OpenDevice = Callable[[str], ScannerDevice]


def evdev_opener() -> OpenDevice:
    """`evdev.InputDevice`, or a one-line error naming what is missing."""
    try:
        from evdev import InputDevice
    except ImportError as exc:
        raise RigError(
            f"[station] scanner needs python-evdev (Linux only; pip install evdev): {exc}"
        ) from None
    return InputDevice


class ScannerReader:
    """The scans of the device at `path`, until `stop` is set.

    Iterating opens the device, grabs it and yields each scan. A device that goes away
    (unplugged: ENODEV) is logged in one line and waited for: the path is tried again every
    `retry_s` until it opens. A device that is missing, not readable (the `input` group) or
    grabbed by another program at start is waited for the same way, each problem logged once.
    """

    def __init__(
        self,
        path: str,
        *,
        stop: threading.Event | None = None,
        open_device: OpenDevice | None = None,
        retry_s: float = 1.0,
        poll_s: float = 0.5,
        stale_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.stop = stop or threading.Event()
        self._open = open_device or evdev_opener()
        self.retry_s = retry_s
        self.poll_s = poll_s
        self.stale_s = stale_s
        self._clock = clock
        self._problem: str | None = None  # the last problem logged (each is logged once)

    def close(self) -> None:
        """Stop iterating (within `poll_s`); the device is ungrabbed and closed."""
        self.stop.set()

    def __iter__(self) -> Iterator[str]:
        opened_before = False
        while not self.stop.is_set():
            device = self._connect()
            if device is None:
                self.stop.wait(self.retry_s)
                continue
            if opened_before:
                log.warning("scanner %s: back, reading scans", self.path)
            else:
                log.info("scanner %s: grabbed, reading scans", self.path)
            opened_before = True
            self._problem = None
            try:
                yield from self._scans(device)
            except OSError as exc:
                log.warning(
                    "scanner %s: gone (%s); waiting for it to come back",
                    self.path,
                    exc.strerror or exc,
                )
            finally:
                _release(device)

    def _connect(self) -> ScannerDevice | None:
        try:
            device = self._open(self.path)
        except FileNotFoundError:
            self._report("not found (unplugged?); waiting for it")
            return None
        except PermissionError:
            self._report(
                "permission denied: add this user to the `input` group (then log in again)"
            )
            return None
        except OSError as exc:
            self._report(f"cannot open it ({exc.strerror or exc}); trying again")
            return None
        try:
            device.grab()
        except OSError as exc:
            _release(device, grabbed=False)
            reason = (
                "another program has grabbed it (a second `rig run`?)"
                if exc.errno == errno.EBUSY
                else f"cannot grab it ({exc.strerror or exc})"
            )
            self._report(f"{reason}; trying again")
            return None
        return device

    def _report(self, problem: str) -> None:
        if problem != self._problem:
            log.warning("scanner %s: %s", self.path, problem)
            self._problem = problem

    def _scans(self, device: ScannerDevice) -> Iterator[str]:
        decoder = ScanDecoder()
        last_key = self._clock()
        while not self.stop.is_set():
            ready, _, _ = select.select([device.fd], [], [], self.poll_s)
            events: Iterable[object] = ()
            if ready:
                try:
                    events = list(device.read())
                except BlockingIOError:  # woken with nothing to read
                    events = ()
            if events:
                last_key = self._clock()
                for event in events:
                    if (scan := decoder.feed(event)) is not None:
                        yield scan
            elif decoder.pending and self._clock() - last_key >= self.stale_s:
                # A scanner set to no suffix: its scans would run into each other.
                log.warning(
                    "scanner %s: dropped %r: no end of scan came (set the scanner's suffix "
                    "to CR or LF)",
                    self.path,
                    decoder.pending,
                )
                decoder.reset()


def _release(device: ScannerDevice, *, grabbed: bool = True) -> None:
    if grabbed:
        with contextlib.suppress(OSError):  # gone with the device
            device.ungrab()
    with contextlib.suppress(OSError):
        device.close()


# -- what `rig run` reads -----------------------------------------------------------------

_END = object()  # one source ended
_ALL_END = object()  # the terminal's stdin ended: so does the station's input


class ScanSource:
    """The station's scans: from `stdin` alone (in the caller's thread, as ever), or merged
    from the scanner and, if given, `stdin`, through a queue fed by one daemon thread each.

    Merged, iteration ends when `stdin` ends (the operator at a terminal: Ctrl-D), when every
    source has ended, or on `close()`; a blocked reader never holds it up (the threads are
    daemons; the scanner reader sees `stop` within its poll). Leaving the iteration, or the
    `with` block, closes it: the scanner is ungrabbed.
    """

    def __init__(
        self,
        *,
        stdin: Iterable[str] | None = None,
        scanner: Iterable[str] | None = None,
        stop: threading.Event | None = None,
        poll_s: float = 0.2,
    ) -> None:
        self.stdin = stdin
        self.scanner = scanner
        self.stop = stop or threading.Event()
        self.poll_s = poll_s
        self._scanner_thread: threading.Thread | None = None
        self._started = False

    def __enter__(self) -> ScanSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.stop.set()
        if isinstance(self.scanner, ScannerReader):
            self.scanner.close()
        thread = self._scanner_thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2.0)  # let it ungrab (it sees `stop` within its poll)

    def __iter__(self) -> Iterator[str]:
        if self._started:
            raise RuntimeError("a ScanSource is read once")
        self._started = True
        if self.scanner is None:
            if self.stdin is not None:
                yield from self.stdin
            return
        inbox: queue.SimpleQueue[object] = queue.SimpleQueue()
        sources: list[tuple[str, Iterable[str], bool]] = [("scanner", self.scanner, False)]
        if self.stdin is not None:
            sources.append(("stdin", self.stdin, True))
        for name, lines, ends_all in sources:
            thread = threading.Thread(
                target=self._pump, args=(name, lines, ends_all, inbox), name=name, daemon=True
            )
            if name == "scanner":
                self._scanner_thread = thread
            thread.start()
        running = len(sources)
        try:
            while running and not self.stop.is_set():
                try:
                    item = inbox.get(timeout=self.poll_s)  # short waits: open to signals
                except queue.Empty:
                    if self.stop.is_set():
                        return
                    continue
                if item is _END:
                    running -= 1
                elif item is _ALL_END:
                    return
                elif isinstance(item, str):
                    yield item
        finally:
            self.close()

    def _pump(
        self, name: str, lines: Iterable[str], ends_all: bool, inbox: queue.SimpleQueue[object]
    ) -> None:
        iterator = iter(lines)
        try:
            for line in iterator:
                if self.stop.is_set():
                    return
                inbox.put(line)
        except Exception:  # a source must never take the station down
            log.exception("%s: reading scans failed", name)
        finally:
            inbox.put(_ALL_END if ends_all else _END)
            close = getattr(iterator, "close", None)
            if callable(close):  # a generator's cleanup (the scanner's ungrab) runs here
                close()


def is_terminal(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except (OSError, ValueError):  # closed or detached
        return False


def scan_lines(
    config: RigConfig, stdin: TextIO, *, open_device: OpenDevice | None = None
) -> ScanSource:
    """The scans `rig run` reads: stdin alone without `[station] scanner`; with it, the
    scanner, plus stdin when it is a terminal."""
    path = config.station.scanner
    if path is None:
        return ScanSource(stdin=stdin)
    reader = ScannerReader(path, open_device=open_device)
    return ScanSource(stdin=stdin if is_terminal(stdin) else None, scanner=reader)


__all__ = [
    "ScanDecoder",
    "ScanSource",
    "ScannerDevice",
    "ScannerReader",
    "decode",
    "is_terminal",
    "scan_lines",
    "strip_aim_prefix",
]
