"""The barcode scanner: key events decoded to scans (US layout, CR/LF suffix, AIM prefix), the
evdev reader (grab, unplug, come back) on fake devices, and the scans `rig run` reads merged
from the scanner and a terminal. No test opens a real /dev/input device."""

from __future__ import annotations

import dataclasses
import errno
import io
import logging
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest
from gpiozero.pins.mock import MockFactory
from hypothesis import given
from hypothesis import strategies as st

from rig import scanner as scanner_module
from rig.clock import SystemClock
from rig.config import EXAMPLE_CONFIG, RigConfig, parse_config
from rig.errors import Aborted, ConfigError, RigError
from rig.scanner import ScanDecoder, ScannerReader, ScanSource, decode, scan_lines
from rig.sim.network import SimNetwork
from rig.station import Station
from tests.fakes import ScriptedOperator
from tests.test_station import config_text, label, wire

PATH = "/dev/input/by-id/usb-Honeywell_Imaging_1900-event-kbd"

# Key codes of linux/input-event-codes.h, written out here (not taken from rig.scanner).
EV_SYN, EV_KEY, EV_MSC = 0, 1, 4
KEY_ESC, KEY_BACKSPACE, KEY_TAB, KEY_ENTER, KEY_LEFTCTRL = 1, 14, 15, 28, 29
KEY_LEFTSHIFT, KEY_RIGHTSHIFT, KEY_CAPSLOCK, KEY_F1 = 42, 54, 58, 59
KEY_KP1, KEY_KP2, KEY_KPENTER, KEY_J, KEY_M = 79, 80, 96, 36, 50
PLAIN = {
    **dict(zip("1234567890", range(2, 12), strict=True)),
    "-": 12, "=": 13, "[": 26, "]": 27, ";": 39, "'": 40, "`": 41, "\\": 43,
    ",": 51, ".": 52, "/": 53, " ": 57,
    "q": 16, "w": 17, "e": 18, "r": 19, "t": 20, "y": 21, "u": 22, "i": 23, "o": 24, "p": 25,
    "a": 30, "s": 31, "d": 32, "f": 33, "g": 34, "h": 35, "j": 36, "k": 37, "l": 38,
    "z": 44, "x": 45, "c": 46, "v": 47, "b": 48, "n": 49, "m": 50,
}  # fmt: skip
SHIFTED = dict(zip('!@#$%^&*()_+{}:"~|<>?', "1234567890-=[];'`\\,./", strict=True))

Ev = tuple[int, int, int]


def stroke(code: int, *, shift: bool = False, shift_key: int = KEY_LEFTSHIFT) -> list[Ev]:
    """One key as a USB HID keyboard reports it: scancode, key, sync; then the same up."""
    down = [(EV_MSC, 4, 0x70000 + code), (EV_KEY, code, 1), (EV_SYN, 0, 0)]
    up = [(EV_MSC, 4, 0x70000 + code), (EV_KEY, code, 0), (EV_SYN, 0, 0)]
    if not shift:
        return down + up
    return [(EV_KEY, shift_key, 1), (EV_SYN, 0, 0), *down, *up, (EV_KEY, shift_key, 0)]


def typed(text: str, suffix: list[Ev] | None = None, *, shift_key: int = KEY_LEFTSHIFT) -> list[Ev]:
    """`text` typed on a US keyboard, then the suffix (Enter: a CR suffix)."""
    events: list[Ev] = []
    for char in text:
        if char in PLAIN:
            events += stroke(PLAIN[char])
        elif char.lower() in PLAIN:
            events += stroke(PLAIN[char.lower()], shift=True, shift_key=shift_key)
        else:
            events += stroke(PLAIN[SHIFTED[char]], shift=True, shift_key=shift_key)
    return events + (stroke(KEY_ENTER) if suffix is None else suffix)


CR = stroke(KEY_ENTER)
LF_AS_CTRL_J = [(EV_KEY, KEY_LEFTCTRL, 1), *stroke(KEY_J), (EV_KEY, KEY_LEFTCTRL, 0)]


# -- the decoder --------------------------------------------------------------------------


def test_digits_and_capitals_typed_with_shift() -> None:
    assert decode(typed("AAWRJ1234567")) == ["AAWRJ1234567"]
    assert decode(typed("AAWRJ1234567", shift_key=KEY_RIGHTSHIFT)) == ["AAWRJ1234567"]
    assert decode(typed("aawrj1234567")) == ["aawrj1234567"]


def test_a_recorded_scan_with_an_aim_prefix() -> None:
    # What evtest shows of a scanner set to send the AIM identifier: `]` `C` `0`, then the
    # label, each key a scancode, a key event and a sync, shift around the capitals.
    recorded = [
        (4, 4, 0x70030), (1, 27, 1), (0, 0, 0), (4, 4, 0x70030), (1, 27, 0), (0, 0, 0),
        (1, 42, 1), (0, 0, 0), (4, 4, 0x70006), (1, 46, 1), (0, 0, 0),
        (4, 4, 0x70006), (1, 46, 0), (0, 0, 0), (1, 42, 0), (0, 0, 0),
        (4, 4, 0x70027), (1, 11, 1), (0, 0, 0), (4, 4, 0x70027), (1, 11, 0), (0, 0, 0),
    ]  # fmt: skip
    assert decode(recorded + typed("AAWRJ1234567")) == ["AAWRJ1234567"]
    assert decode(typed("]C0AAWRJ1234567")) == ["AAWRJ1234567"]


@pytest.mark.parametrize("prefix", ["]C0", "]Q1", "]E0", "]d2", "]e0", "]A0", "]QA"])
def test_aim_prefixes_are_stripped(prefix: str) -> None:
    assert decode(typed(prefix + "AAWRJ1234567")) == ["AAWRJ1234567"]


def test_only_a_leading_aim_prefix_is_stripped() -> None:
    assert decode(typed("AAWRJ]C01234")) == ["AAWRJ]C01234"]
    assert decode(typed("]C0]C0AAWRJ")) == ["]C0AAWRJ"]  # once
    assert decode(typed("]C")) == ["]C"]  # too short to be one


@pytest.mark.parametrize(
    "suffix",
    [CR, LF_AS_CTRL_J, stroke(KEY_KPENTER), stroke(KEY_TAB), CR + CR, CR + LF_AS_CTRL_J],
    ids=["CR", "LF as Ctrl+J", "keypad Enter", "Tab", "CR CR", "CR LF"],
)
def test_the_suffix_ends_the_scan(suffix: list[Ev]) -> None:
    assert decode(typed("AAWRJ1234567", suffix)) == ["AAWRJ1234567"]


def test_ctrl_m_is_a_cr_too() -> None:
    ctrl_m = [(EV_KEY, KEY_LEFTCTRL, 1), *stroke(KEY_M), (EV_KEY, KEY_LEFTCTRL, 0)]
    assert decode(typed("AAWRJ1234567", ctrl_m)) == ["AAWRJ1234567"]


def test_no_suffix_no_scan_yet() -> None:
    decoder = ScanDecoder()
    assert decoder.feed_all(typed("AAWRJ1234567", [])) == []
    assert decoder.pending == "AAWRJ1234567"
    assert decoder.feed_all(CR) == ["AAWRJ1234567"]
    assert decoder.pending == ""


def test_a_bay_and_a_serial_with_a_space() -> None:
    assert decode(typed("B AAWRJ1234567")) == ["B AAWRJ1234567"]


def test_two_scans_in_a_row_and_a_scan_split_across_reads() -> None:
    events = typed("AAWRJ1234567") + typed("B AAWRJ7654321", LF_AS_CTRL_J)
    assert decode(events) == ["AAWRJ1234567", "B AAWRJ7654321"]
    decoder = ScanDecoder()
    got = [scan for i in range(0, len(events), 7) for scan in decoder.feed_all(events[i : i + 7])]
    assert got == ["AAWRJ1234567", "B AAWRJ7654321"]


def test_autorepeat_is_dropped_and_key_ups_release_shift() -> None:
    a, one = PLAIN["a"], PLAIN["1"]
    events = [
        (EV_KEY, KEY_LEFTSHIFT, 1),
        (EV_KEY, KEY_LEFTSHIFT, 2),  # the shift repeats while held: still held
        (EV_KEY, a, 1),
        (EV_KEY, a, 2),  # the kernel's autorepeat of a late key-up: not typed
        (EV_KEY, a, 2),
        (EV_KEY, a, 0),
        (EV_KEY, KEY_LEFTSHIFT, 0),
        (EV_KEY, a, 1),  # shift is up: lower case
        (EV_KEY, a, 0),
        (EV_KEY, one, 0),  # an up without its down types nothing
        (EV_KEY, one, 1),
        (EV_KEY, one, 0),
        *CR,
    ]
    assert decode(events) == ["Aa1"]


def test_every_printable_us_key_plain_and_shifted() -> None:
    plain = "`1234567890-=qwertyuiop[]\\asdfghjkl;'zxcvbnm,./"
    shifted = '~!@#$%^&*()_+QWERTYUIOP{}|ASDFGHJKL:"ZXCVBNM<>?'
    assert decode(typed(plain) + typed(shifted) + typed("a b")) == [plain, shifted, "a b"]


def test_caps_lock_keypad_and_backspace() -> None:
    caps = stroke(KEY_CAPSLOCK)
    events = caps + typed("aawrj", []) + stroke(KEY_KP1) + stroke(KEY_KP2) + caps + typed("x", [])
    events += stroke(KEY_BACKSPACE) + typed("Z")
    assert decode(events) == ["AAWRJ12Z"]
    # With Caps Lock on, shift gives lower case, as on any keyboard.
    assert decode(caps + typed("Ab")) == ["aB"]


def test_unknown_keys_and_other_events_are_ignored() -> None:
    noise = [
        *stroke(KEY_ESC),
        *stroke(KEY_F1),
        (EV_KEY, 0x2FF, 1),  # KEY_MAX
        (EV_KEY, 9999, 1),
        (EV_KEY, -1, 1),
        (2, 0, 5),  # EV_REL: a mouse moving
        (EV_MSC, 4, 0x70004),
        (EV_KEY, PLAIN["a"], 7),  # no key event has value 7
        (EV_KEY, KEY_LEFTCTRL, 1),
        *stroke(PLAIN["b"]),  # Ctrl+B: a command, not a character
        (EV_KEY, KEY_LEFTCTRL, 0),
    ]
    assert decode(typed("AAWRJ", []) + noise + typed("1234567")) == ["AAWRJ1234567"]


class Exploding:
    @property
    def type(self) -> int:
        raise RuntimeError("boom")


GARBAGE: list[object] = [
    None,
    "x",
    b"\x01\x1e\x01",
    (),
    (1,),
    (1, 30),
    (1, 30, 1, 0),
    (1.0, 30, 1),
    (1, "30", 1),
    (True, 30, True),
    object(),
    Exploding(),
    [1, 30, 1],
]


def test_garbage_never_crashes() -> None:
    events: list[object] = [*typed("AAWRJ", []), *GARBAGE, *typed("1234567")]
    assert decode(events) == ["AAWRJ1234567"]


@given(st.lists(st.tuples(st.integers(-3, 6), st.integers(-5, 800), st.integers(-3, 4))))
def test_any_event_sequence_decodes_without_raising(events: list[Ev]) -> None:
    for scan in ScanDecoder().feed_all(events):
        assert scan and "\n" not in scan


def test_a_scan_past_the_limit_is_dropped(caplog: pytest.LogCaptureFixture) -> None:
    decoder = ScanDecoder(max_chars=8)
    assert decoder.feed_all(typed("AAWRJ1234567") + typed("AAWRJ123")) == ["AAWRJ123"]
    assert "dropped a scan longer than 8 characters" in caplog.text


def test_evdev_events_and_key_codes_agree() -> None:
    evdev = pytest.importorskip("evdev")
    ecodes = evdev.ecodes
    events = [evdev.InputEvent(1, 0, t, c, v) for t, c, v in typed("]C0AAWRJ1234567")]
    assert decode(events) == ["AAWRJ1234567"]
    assert ecodes.EV_KEY == scanner_module.EV_KEY
    names = {
        "KEY_ENTER": scanner_module.KEY_ENTER,
        "KEY_KPENTER": scanner_module.KEY_KPENTER,
        "KEY_TAB": scanner_module.KEY_TAB,
        "KEY_LEFTSHIFT": scanner_module.KEY_LEFTSHIFT,
        "KEY_RIGHTSHIFT": scanner_module.KEY_RIGHTSHIFT,
        "KEY_CAPSLOCK": scanner_module.KEY_CAPSLOCK,
        "KEY_BACKSPACE": scanner_module.KEY_BACKSPACE,
        "KEY_LEFTCTRL": scanner_module.KEY_LEFTCTRL,
        "KEY_RIGHTCTRL": scanner_module.KEY_RIGHTCTRL,
        "KEY_LEFTALT": scanner_module.KEY_LEFTALT,
        "KEY_RIGHTALT": scanner_module.KEY_RIGHTALT,
        "KEY_LEFTMETA": scanner_module.KEY_LEFTMETA,
        "KEY_RIGHTMETA": scanner_module.KEY_RIGHTMETA,
        "KEY_MINUS": PLAIN["-"],
        "KEY_SPACE": PLAIN[" "],
        "KEY_SLASH": PLAIN["/"],
        "KEY_DOT": PLAIN["."],
        "KEY_KP1": KEY_KP1,
        **{f"KEY_{c.upper()}": PLAIN[c] for c in "0123456789abcdefghijklmnopqrstuvwxyz"},
    }
    assert {name: getattr(ecodes, name) for name in names} == names


# -- the reader, on fake devices ------------------------------------------------------------


class FakeDevice:
    """An evdev InputDevice's surface: a real fd that is readable once per batch queued, so the
    reader's select works; each read() is the next batch of events, or raises it."""

    def __init__(self, *batches: list[Ev] | BaseException, grab_error: OSError | None = None):
        self._r, self._w = os.pipe()
        self.fd = self._r
        self.batches = list(batches)
        self.grab_error = grab_error
        self.calls: list[str] = []
        os.write(self._w, b"x" * len(batches))

    def grab(self) -> None:
        self.calls.append("grab")
        if self.grab_error is not None:
            raise self.grab_error

    def ungrab(self) -> None:
        self.calls.append("ungrab")

    def read(self) -> Iterator[Ev]:
        self.calls.append("read")
        os.read(self._r, 1)
        batch = self.batches.pop(0)
        if isinstance(batch, BaseException):
            raise batch
        return iter(batch)

    def close(self) -> None:
        self.calls.append("close")
        if self.fd >= 0:
            os.close(self._r)
            os.close(self._w)
            self.fd = -1


class Opener:
    """`evdev.InputDevice` for the reader: each call the next device, or raises the next error;
    then the path is missing (the reader waits)."""

    def __init__(self, *results: FakeDevice | OSError) -> None:
        self.results = list(results)
        self.paths: list[str] = []

    def __call__(self, path: str) -> FakeDevice:
        self.paths.append(path)
        if not self.results:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        result = self.results.pop(0)
        if isinstance(result, OSError):
            raise result
        return result


def reader_for(opener: Opener, **kw: object) -> ScannerReader:
    return ScannerReader(PATH, open_device=opener, retry_s=0.001, poll_s=0.01, **kw)  # type: ignore[arg-type]


def test_the_reader_grabs_the_device_and_lets_it_go_on_stop() -> None:
    device = FakeDevice(typed("]C0AAWRJ1234567") + typed("B AAWRJ7654321"))
    reader = reader_for(Opener(device))
    scans = iter(reader)
    assert next(scans) == "AAWRJ1234567"
    assert device.calls[0] == "grab"  # before any key is read: nobody else sees them
    assert next(scans) == "B AAWRJ7654321"
    reader.close()
    assert list(scans) == []
    assert device.calls[-2:] == ["ungrab", "close"]


def test_an_unplugged_scanner_is_waited_for_and_read_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="rig.scanner")
    first = FakeDevice(typed("AAWRJ1234567"), OSError(errno.ENODEV, "No such device"))
    second = FakeDevice(typed("AAWRJ7654321"))
    gone = FileNotFoundError(errno.ENOENT, "No such file or directory", PATH)
    opener = Opener(first, gone, gone, gone, second)
    reader = reader_for(opener)
    scans = iter(reader)
    assert next(scans) == "AAWRJ1234567"
    assert next(scans) == "AAWRJ7654321"
    reader.close()
    assert list(scans) == []
    assert first.calls[-2:] == ["ungrab", "close"]
    assert second.calls[0] == "grab" and second.calls[-2:] == ["ungrab", "close"]
    assert opener.paths == [PATH] * 5
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"scanner {PATH}: gone (No such device); waiting for it to come back",
        f"scanner {PATH}: not found (unplugged?); waiting for it",  # once, not three times
        f"scanner {PATH}: back, reading scans",
    ]


def test_no_permission_and_a_busy_grab_are_told_once_and_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    denied = PermissionError(errno.EACCES, "Permission denied", PATH)
    busy = FakeDevice(grab_error=OSError(errno.EBUSY, "Device or resource busy"))
    busy_again = FakeDevice(grab_error=OSError(errno.EBUSY, "Device or resource busy"))
    device = FakeDevice(typed("AAWRJ1234567"))
    reader = reader_for(Opener(denied, denied, busy, busy_again, device))
    scans = iter(reader)
    assert next(scans) == "AAWRJ1234567"
    reader.close()
    assert list(scans) == []
    assert busy.calls == ["grab", "close"]  # not ungrabbed: never grabbed
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        f"scanner {PATH}: permission denied: add this user to the `input` group "
        "(then log in again)",
        f"scanner {PATH}: another program has grabbed it (a second `rig run`?); trying again",
    ]


def test_a_scan_without_its_suffix_is_dropped_not_run_into_the_next(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ticks = iter(range(0, 10_000, 10))  # each look at the clock is 10 s later
    nothing = BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
    device = FakeDevice(typed("AAWRJ", []), nothing, typed("AAWRJ1234567"))
    reader = reader_for(Opener(device), clock=lambda: float(next(ticks)))
    scans = iter(reader)
    assert next(scans) == "AAWRJ1234567"
    reader.close()
    assert list(scans) == []
    assert f"scanner {PATH}: dropped 'AAWRJ': no end of scan came" in caplog.text


def test_without_evdev_the_scanner_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_evdev(name: str, *args: object, **kw: object) -> object:
        if name.startswith("evdev"):
            raise ImportError("No module named 'evdev'")
        return real_import(name, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_evdev)
    with pytest.raises(RigError, match=r"\[station\] scanner needs python-evdev"):
        ScannerReader(PATH)


# -- the scans `rig run` reads --------------------------------------------------------------


def with_scanner(config: RigConfig, path: str = PATH) -> RigConfig:
    return dataclasses.replace(config, station=dataclasses.replace(config.station, scanner=path))


BAY_CONFIG = '[[bays]]\nname = "A"\npower = "manual"\npresser = "manual"\n'


class TtyLines:
    """A terminal's stdin: `lines`, then (once `release` is set) end of input."""

    def __init__(self, *lines: str, release: threading.Event | None = None) -> None:
        self.lines = lines
        self.release = release or threading.Event()
        if release is None:
            self.release.set()
        self.reader: threading.Thread | None = None

    def isatty(self) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        self.reader = threading.current_thread()
        yield from self.lines
        self.release.wait()


def test_without_a_scanner_stdin_is_read_as_before() -> None:
    config = parse_config(BAY_CONFIG)
    assert config.station.scanner is None
    stdin = TtyLines("A AAWRJ1234567\n", "q\n")
    with scan_lines(config, stdin) as scans:  # type: ignore[arg-type]
        assert list(scans) == ["A AAWRJ1234567\n", "q\n"]
    assert stdin.reader is threading.current_thread()  # no thread of its own
    with scan_lines(config, io.StringIO("AAWRJ1234567\n")) as scans:
        assert list(scans) == ["AAWRJ1234567\n"]  # and its end ends the scans


def test_a_service_stdin_at_its_end_does_not_stop_the_scanner() -> None:
    config = with_scanner(parse_config(BAY_CONFIG))
    device = FakeDevice(typed("AAWRJ1234567"), typed("B AAWRJ7654321"))
    stdin = io.StringIO("A AAWRJ0000000\n")  # not a terminal: not read at all
    source = scan_lines(config, stdin, open_device=Opener(device))
    assert source.stdin is None
    got = []
    with source:
        for scan in source:
            got.append(scan)
            if len(got) == 2:
                break
    assert got == ["AAWRJ1234567", "B AAWRJ7654321"]
    assert stdin.tell() == 0
    assert device.calls[0] == "grab" and device.calls[-2:] == ["ungrab", "close"]


def test_at_a_terminal_typed_and_scanned_both_count_and_ctrl_d_ends() -> None:
    config = with_scanner(parse_config(BAY_CONFIG))
    device = FakeDevice(typed("AAWRJ1234567"))
    release = threading.Event()
    stdin = TtyLines("A AAWRJ7654321\n", release=release)
    got = []
    with scan_lines(config, stdin, open_device=Opener(device)) as source:  # type: ignore[arg-type]
        for scan in source:
            got.append(scan)
            if "AAWRJ1234567" in got and "A AAWRJ7654321\n" in got:
                release.set()  # the operator presses Ctrl-D
    assert sorted(got) == ["A AAWRJ7654321\n", "AAWRJ1234567"]
    assert stdin.reader is not threading.current_thread()
    assert device.calls[-2:] == ["ungrab", "close"]


def test_q_does_not_wait_for_a_blocked_stdin() -> None:
    config = with_scanner(parse_config(BAY_CONFIG))
    device = FakeDevice(typed("q"))
    stdin = TtyLines(release=threading.Event())  # the operator never types: blocked for good
    with scan_lines(config, stdin, open_device=Opener(device)) as source:  # type: ignore[arg-type]
        assert next(iter(source)) == "q"
    assert stdin.reader is not None and stdin.reader.daemon and stdin.reader.is_alive()
    assert device.calls[-2:] == ["ungrab", "close"]


def test_a_signal_stops_the_scans_and_lets_the_scanner_go() -> None:
    # SafeGuard turns SIGTERM into Aborted in the main thread: it must get out of the wait.
    device = FakeDevice()  # plugged in, nobody scans
    source = ScanSource(scanner=reader_for(Opener(device)), poll_s=0.01)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        raise Aborted("stopped by SIGUSR1")

    previous = signal.signal(signal.SIGUSR1, on_signal)
    try:
        timer = threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGUSR1))
        timer.start()
        with pytest.raises(Aborted), source:
            for _ in source:
                pass
        timer.join()
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert source.stop.is_set()
    assert device.calls[0] == "grab" and device.calls[-2:] == ["ungrab", "close"]


def test_a_source_that_ends_with_the_other_gone_ends_the_scans() -> None:
    source = ScanSource(scanner=iter(["AAWRJ1234567", "q"]))
    assert list(source) == ["AAWRJ1234567", "q"]
    with pytest.raises(RuntimeError, match="read once"):
        list(source)


def test_a_failing_source_is_logged_and_the_others_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken() -> Iterator[str]:
        yield "AAWRJ1234567"
        raise ValueError("bad read")

    assert list(ScanSource(scanner=broken())) == ["AAWRJ1234567"]
    assert "scanner: reading scans failed" in caplog.text


def test_the_station_as_a_service_takes_the_scanners_scans(
    lab: tuple[MockFactory, SimNetwork], tmp_path: Path
) -> None:
    factory, network = lab
    camera = wire(factory, network, "A", 1)
    config = with_scanner(parse_config(config_text(network.target, "A")))
    device = FakeDevice(typed("]C0" + label(camera)), typed("q"))
    scans = scan_lines(config, io.StringIO(""), open_device=Opener(device))  # /dev/null
    station = Station(
        config,
        clock=SystemClock(),
        data_dir=tmp_path,
        operator=ScriptedOperator(),
        scans=scans,
        pin_factory=factory,
    )
    with scans:
        assert station.run() == 0
    [[attempt]] = station.units
    assert attempt.result.outcome.value == "reset_verified"
    assert attempt.result.unit is not None and attempt.result.unit.mac == camera.spec.mac
    assert camera.in_factory_state
    assert device.calls[0] == "grab" and device.calls[-2:] == ["ungrab", "close"]


# -- the config key -----------------------------------------------------------------------


def test_the_scanner_key_is_read() -> None:
    config = parse_config(f'[station]\nscanner = "{PATH}"\n' + BAY_CONFIG)
    assert config.station.scanner == PATH
    assert parse_config(BAY_CONFIG).station.scanner is None
    # Not checked at load time: a scanner unplugged at start is waited for.
    assert not Path(PATH).exists()


def test_the_example_config_names_the_scanner_key() -> None:
    line = next(x for x in EXAMPLE_CONFIG.splitlines() if x.startswith("# scanner = "))
    config = parse_config(EXAMPLE_CONFIG.replace(line, line.removeprefix("# ")))
    assert config.station.scanner is not None
    assert config.station.scanner.startswith("/dev/input/by-id/")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f'scaner = "{PATH}"', "rig.toml: station.scaner: unknown key"),
        ('scanner = ""', "rig.toml: station.scanner: must be a non-empty string"),
        ("scanner = 3", "rig.toml: station.scanner: must be a non-empty string, got 3"),
    ],
)
def test_a_bad_scanner_key_is_one_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(f"[station]\n{text}\n" + BAY_CONFIG, "rig.toml")
    assert message in str(info.value) and "\n" not in str(info.value)
