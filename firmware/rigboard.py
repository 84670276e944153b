# The actuator board's logic: the protocol of PROTOCOL.md and the safety it promises.
#
# Pure logic, valid under MicroPython and CPython. Nothing here imports `machine` or reads a
# clock of its own: the pins and the clock are passed in, so the same code runs
# - on the Pico (main.py: machine.Pin / machine.PWM, time.ticks_ms / time.ticks_diff),
# - in the simulated board (rig/sim/board.py: recording pins, a real millisecond clock),
# - in the tests (fake pins, a fake clock that can be wound to the ticks wraparound),
# - under real MicroPython (its WebAssembly port) in the test suite.
#
# Time is only ever compared through `ticks_diff(a, b)`: MicroPython's ticks_ms wraps (every
# 2**30 ms on the RP2040, about 12.4 days) and ticks_diff is only right while the two instants are
# less than half a period apart. Every stored instant is therefore either recent by construction
# (a press lasts at most 60 s) or refreshed/cleared by tick() while idle.
#
# Pins: a relay is anything with `value(level)` (machine.Pin); a solenoid is anything with
# `duty_u16(duty)` (machine.PWM on the MOSFET gate); the LED is a Pin or None.

PROTO = 1
FW_VERSION = "1.0.0"

# No press, ever, longer than this (the coil and the camera's pin both suffer).
MAX_PRESS_MS = 60000

# No complete line from the host for this long while anything is active -> everything safe.
HEARTBEAT_MS = 2000

# Hit-and-hold: full drive long enough for the plunger to travel and seat (~300 ms for a small
# 12 V push solenoid), then a lower duty that still holds it but does not cook the coil during
# a 20-45 s hold. Holding force needs far less current than pulling in.
HIT_MS = 300
FULL_DUTY = 65535
HOLD_DUTY = 26214  # 40 %

# A hardware reset restarts the chip's timer; a MicroPython soft reset (Ctrl-D in service mode)
# does not. main.py starts well within this after a hardware reset, so a later start is soft.
SOFT_BOOT_MIN_MS = 5000

_POWER_WORDS = {"ON": True, "OFF": False}


def boot_cause(reset_cause, pwron_reset, wdt_reset, ms_since_chip_reset):
    """Map machine.reset_cause() to the `cause=` of EVT BOOT: power, watchdog or soft.

    The RP2040 port only reports PWRON_RESET or WDT_RESET (machine.reset() counts as watchdog,
    it reboots through the watchdog), and keeps reporting the last hardware cause after a soft
    reset, so a soft reset is recognised by the chip's timer having run on.
    """
    if ms_since_chip_reset >= SOFT_BOOT_MIN_MS:
        return "soft"
    if reset_cause == wdt_reset:
        return "watchdog"
    return "power"


class Channel:
    """One bay: the relay in the camera's PoE feed and the solenoid on its reset pin."""

    def __init__(self, number, relay, solenoid):
        self.number = number
        self.relay = relay
        self.solenoid = solenoid
        self.energised = False  # relay coil on = camera power cut (NC wiring)
        self.down = False  # solenoid driven
        self.pressed_at = 0  # ticks when it went down
        self.press_ms = 0  # the PRESS's own limit
        self.holding = False  # past the hit phase, at hold duty
        self.resting = False  # cooling down after its last press
        self.released_at = 0  # ticks when it came up
        self.rest_ms = 0  # how long it must rest: as long as it last worked


class Board:
    """The protocol and the safety state machine over N channels.

    channels: dict {channel number: (relay pin, solenoid pwm)}.
    emit: called with each line to send to the host (no terminator).
    Call handle() for each line the LineBuffer yields and tick() on every pass of the main loop;
    tick() runs the deadlines (auto-release, hit-and-hold, heartbeat) and must run often (the
    board's timing is as good as its loop: main.py runs it every millisecond or two).
    """

    def __init__(
        self,
        channels,
        ticks_ms,
        ticks_diff,
        emit,
        relay_active_high=True,
        led=None,
        fw_version=FW_VERSION,
        hold_duty=HOLD_DUTY,
    ):
        self._ticks_ms = ticks_ms
        self._ticks_diff = ticks_diff
        self._emit = emit
        self._relay_on = 1 if relay_active_high else 0
        self._led = led
        self._led_lit = None
        self.fw_version = fw_version
        self.hold_duty = hold_duty
        self.channels = []
        for number in sorted(channels):
            relay, solenoid = channels[number]
            self.channels.append(Channel(number, relay, solenoid))
        self._by_number = {}
        for ch in self.channels:
            self._by_number[ch.number] = ch
        now = ticks_ms()
        self._last_line_at = now
        self._last_tick_at = now
        self._uptime_ms = 0
        self._verbs = {
            "HELLO": self._hello,
            "PING": self._ping,
            "STATUS": self._status,
            "POWER": self._power,
            "PRESS": self._press,
            "RELEASE": self._release,
            "SAFE": self._safe,
        }
        # Safe from the first instant: whatever the pins were before, drive them safe now.
        self.make_safe()

    # -- life cycle -----------------------------------------------------------------------------

    def boot(self, cause):
        """Announce a start (after every start, PROTOCOL.md), everything already safe."""
        self.make_safe()
        self._emit("EVT BOOT proto=" + str(PROTO) + " fw=" + self.fw_version + " cause=" + cause)

    def active(self):
        """Anything a lost host must not leave behind: a solenoid down or a relay energised."""
        # A plain loop, not any(<generator>): this runs every millisecond and a generator
        # would be garbage for MicroPython's collector each time.
        for ch in self.channels:  # noqa: SIM110
            if ch.down or ch.energised:
                return True
        return False

    def make_safe(self):
        """Every solenoid up, every relay de-energised (with NC wiring: every camera powered).

        The pins are driven whatever the bookkeeping says: safety does not trust state.
        """
        now = self._ticks_ms()
        for ch in self.channels:
            self._up(ch, now)
            self._energise(ch, False)
        self._show_activity()

    # -- the main loop's part -------------------------------------------------------------------

    def tick(self):
        """Run every deadline that fell due: auto-release, hold duty, heartbeat, rest."""
        now = self._ticks_ms()
        diff = self._ticks_diff
        self._uptime_ms += diff(now, self._last_tick_at)
        self._last_tick_at = now
        for ch in self.channels:
            if ch.down:
                held_ms = diff(now, ch.pressed_at)
                limit_ms = ch.press_ms if ch.press_ms < MAX_PRESS_MS else MAX_PRESS_MS
                if held_ms >= limit_ms:
                    self._up(ch, now)
                    self._emit(
                        "EVT RELEASED ch="
                        + str(ch.number)
                        + " held_ms="
                        + str(held_ms)
                        + " reason=timeout"
                    )
                elif not ch.holding and held_ms >= HIT_MS:
                    ch.solenoid.duty_u16(self.hold_duty)
                    ch.holding = True
            # Clear a finished rest now rather than compare against released_at days later:
            # ticks_diff across more than half the ticks period would resurrect the cooldown.
            if ch.resting and diff(now, ch.released_at) >= ch.rest_ms:
                ch.resting = False
        if self.active():
            if diff(now, self._last_line_at) >= HEARTBEAT_MS:
                # The host is gone (crashed, unplugged, killed): it can no longer end what it
                # started, so the board does.
                self.make_safe()
                self._emit("EVT SAFE reason=heartbeat")
        else:
            # Idle: keep the reference fresh for the same wraparound reason. Anything becoming
            # active does so by a line, which feeds the heartbeat anyway.
            self._last_line_at = now
        self._show_activity()

    def handle(self, raw):
        """One complete line from the host (bytes, no terminator), or None if it was too long."""
        now = self._ticks_ms()
        # Any complete line feeds the heartbeat, even one the board rejects: the host is alive.
        self._last_line_at = now
        if raw is None:
            self._emit("ERR 0 LONG")
            return
        for byte in raw:
            # Printable ASCII and tabs only; anything else cannot be a request (and MicroPython's
            # decode() would only check UTF-8).
            if (byte < 32 and byte != 9) or byte > 126:
                self._emit("ERR 0 BADCMD")
                return
        words = raw.decode().split()
        if not words:
            return  # a blank line is ignored, no answer
        ident = words[0]
        if not (1 <= len(ident) <= 8 and ident.isdigit()):
            self._emit("ERR 0 BADCMD")
            return
        handler = self._verbs.get(words[1].upper()) if len(words) > 1 else None
        if handler is None:
            self._emit("ERR " + ident + " BADCMD")
            return
        error, detail = handler(words[2:], now)
        line = "OK " + ident if error is None else "ERR " + ident + " " + error
        if detail:
            line = line + " " + detail
        self._emit(line)
        self._show_activity()

    # -- verbs: each returns (error code or None, "key=value ..." or "") ------------------------

    def _hello(self, args, now):
        if args:
            return "BADARG", ""
        detail = "proto=" + str(PROTO) + " fw=" + self.fw_version
        return None, detail + " channels=" + str(len(self.channels))

    def _ping(self, args, now):
        if args:
            return "BADARG", ""
        return None, ""

    def _status(self, args, now):
        if args:
            return "BADARG", ""
        parts = []
        for ch in self.channels:
            power = "off" if ch.energised else "on"
            press = "down" if ch.down else "up"
            parts.append("ch" + str(ch.number) + "=" + power + "," + press)
        uptime_ms = self._uptime_ms + self._ticks_diff(now, self._last_tick_at)
        parts.append("uptime_ms=" + str(uptime_ms))
        return None, " ".join(parts)

    def _power(self, args, now):
        if len(args) != 2:
            return "BADARG", ""
        want = _POWER_WORDS.get(args[1].upper())
        if want is None or not args[0].isdigit():
            return "BADARG", ""
        ch = self._by_number.get(int(args[0]))
        if ch is None:
            return "BADCH", ""
        # POWER ON gives the camera power: relay de-energised (NC contact closed).
        self._energise(ch, not want)
        return None, ""

    def _press(self, args, now):
        if len(args) != 2 or not args[0].isdigit() or not args[1].isdigit():
            return "BADARG", ""
        ch = self._by_number.get(int(args[0]))
        if ch is None:
            return "BADCH", ""
        press_ms = int(args[1])
        if press_ms < 1:
            return "BADARG", ""
        if press_ms > MAX_PRESS_MS:
            return "LIMIT", ""
        if ch.down:
            return "BUSY", ""
        if ch.resting:
            # The rest is counted from the release (PROTOCOL.md), as long as the press lasted.
            remaining_ms = ch.rest_ms - self._ticks_diff(now, ch.released_at)
            if remaining_ms > 0:
                return "COOLDOWN", "ms=" + str(remaining_ms)
            ch.resting = False
        ch.solenoid.duty_u16(FULL_DUTY)
        ch.down = True
        ch.holding = False
        ch.pressed_at = now
        ch.press_ms = press_ms
        return None, ""

    def _release(self, args, now):
        if len(args) != 1 or not args[0].isdigit():
            return "BADARG", ""
        ch = self._by_number.get(int(args[0]))
        if ch is None:
            return "BADCH", ""
        return None, "held_ms=" + str(self._up(ch, now))

    def _safe(self, args, now):
        if args:
            return "BADARG", ""
        self.make_safe()
        return None, ""

    # -- pins -----------------------------------------------------------------------------------

    def _up(self, ch, now):
        """Solenoid up; returns how long it was down (0 if it was up). Pin first, books after."""
        ch.solenoid.duty_u16(0)
        if not ch.down:
            return 0
        held_ms = self._ticks_diff(now, ch.pressed_at)
        ch.down = False
        ch.holding = False
        ch.resting = True
        ch.released_at = now
        ch.rest_ms = held_ms
        return held_ms

    def _energise(self, ch, energised):
        ch.relay.value(self._relay_on if energised else 1 - self._relay_on)
        ch.energised = energised

    def _show_activity(self):
        # Written only on a change: tick() runs every millisecond.
        lit = self.active()
        if self._led is not None and lit != self._led_lit:
            self._led.value(1 if lit else 0)
            self._led_lit = lit
