# Conformance of the firmware to PROTOCOL.md, run twice by the test suite:
# - under CPython by pytest (tests/firmware/test_conformance.py: one test per check), and
# - under real MicroPython, its WebAssembly port, by run.mjs (tests/firmware/test_micropython.py).
#
# So it is written in the MicroPython subset: no f-string `=`, no dataclasses, no typing, no
# inspect, no pytest. Each check_* function takes an Env (the firmware modules under test and
# the fake machine) and raises AssertionError on a failure. The clock is the fake one: a 60 s
# press takes milliseconds, and it can be wound to the ticks wraparound.


class Env:
    """The modules under test. `main` and `tmpdir` enable the checks of main.py's wiring."""

    def __init__(self, rigboard, linebuf, fake_machine, main=None, tmpdir=None):
        self.rigboard = rigboard
        self.linebuf = linebuf
        self.fm = fake_machine
        self.main = main
        self.tmpdir = tmpdir


def eq(actual, expected, what=""):
    if actual != expected:
        raise AssertionError(what + ": " + repr(actual) + " != " + repr(expected))


def ok(condition, what):
    if not condition:
        raise AssertionError(what)


RELAY_PINS = {1: 2, 2: 3, 3: 4, 4: 5}
SOLENOID_PINS = {1: 16, 2: 18, 3: 20, 4: 22}
LED = 25


class Harness:
    """A board on fake pins and the fake clock, with the host's side of the line."""

    def __init__(self, env, channels=4, start=0, relay_active_high=True):
        fm = env.fm
        fm.restart(start)
        self.fm = fm
        self.rb = env.rigboard
        self.out = []
        pins = {}
        for number in range(1, channels + 1):
            relay = fm.Pin(RELAY_PINS[number], fm.Pin.OUT, value=0)
            solenoid = fm.PWM(fm.Pin(SOLENOID_PINS[number], fm.Pin.OUT, value=0))
            pins[number] = (relay, solenoid)
        self.pins = pins
        self.led = fm.Pin(LED, fm.Pin.OUT, value=0)
        self.board = env.rigboard.Board(
            pins,
            fm.clock.ticks_ms,
            fm.ticks_diff,
            self.out.append,
            relay_active_high=relay_active_high,
            led=self.led,
        )
        self.lines = env.linebuf.LineBuffer()

    def feed(self, data):
        for raw in self.lines.feed(data):
            self.board.handle(raw)
        return self.take()

    def send(self, text):
        """One request line; returns every line the board sent since the last look."""
        return self.feed(text.encode() + b"\n")

    def ask(self, text):
        """One request line and its single answer."""
        lines = self.send(text)
        eq(len(lines), 1, "answers to " + repr(text) + " " + repr(lines))
        return lines[0]

    def take(self):
        lines = self.out[:]
        del self.out[:]
        return lines

    def run(self, ms, step=1):
        """Let `ms` pass in steps of `step`, the main loop ticking after each."""
        done = 0
        while done < ms:
            this = step if ms - done >= step else ms - done
            self.fm.clock.advance(this)
            done += this
            self.board.tick()
        return self.take()

    def now(self):
        return self.fm.clock.now

    def relay(self, ch):
        return self.pins[ch][0].value()

    def duty(self, ch):
        return self.pins[ch][1].duty_u16()

    def duties(self, ch):
        return self.fm.entries("duty", SOLENOID_PINS[ch])


def status_of(line):
    """{'ch1': 'on,up', ..., 'uptime_ms': '12'} from a STATUS answer."""
    fields = {}
    for word in line.split()[2:]:
        key, value = word.split("=")
        fields[key] = value
    return fields


# -- start ---------------------------------------------------------------------------------------


def check_boot_event_and_safe_start(env):
    h = Harness(env)
    # Pins left in the worst state by whatever ran before: the board must drive them safe.
    h.board.boot("power")
    eq(h.take(), ["EVT BOOT proto=1 fw=1.0.0 cause=power"], "boot event")
    for ch in range(1, 5):
        eq(h.relay(ch), 0, "relay de-energised at start")
        eq(h.duty(ch), 0, "solenoid up at start")
    eq(h.led.value(), 0, "led dark when idle")


def check_boot_after_active_is_safe(env):
    h = Harness(env)
    h.send("1 POWER 2 OFF")
    h.send("2 PRESS 3 5000")
    h.board.boot("watchdog")
    eq(h.take(), ["EVT BOOT proto=1 fw=1.0.0 cause=watchdog"], "boot event")
    eq(h.relay(2), 0, "relay de-energised by boot")
    eq(h.duty(3), 0, "solenoid up by boot")


def check_boot_cause_mapping(env):
    bc = env.rigboard.boot_cause
    fm = env.fm
    eq(bc(fm.PWRON_RESET, fm.PWRON_RESET, fm.WDT_RESET, 300), "power", "power-on")
    eq(bc(fm.WDT_RESET, fm.PWRON_RESET, fm.WDT_RESET, 300), "watchdog", "watchdog")
    eq(bc(fm.WDT_RESET, fm.PWRON_RESET, fm.WDT_RESET, 60000), "soft", "soft after watchdog")
    eq(bc(fm.PWRON_RESET, fm.PWRON_RESET, fm.WDT_RESET, 5000), "soft", "soft after power-on")


def check_active_low_relay(env):
    h = Harness(env, relay_active_high=False)
    eq(h.relay(1), 1, "active-low relay idle high")
    h.send("1 POWER 1 OFF")
    eq(h.relay(1), 0, "active-low relay energised low")
    h.send("2 POWER 1 ON")
    eq(h.relay(1), 1, "active-low relay released high")


# -- verbs ---------------------------------------------------------------------------------------


def check_hello(env):
    eq(Harness(env).ask("1 HELLO"), "OK 1 proto=1 fw=1.0.0 channels=4", "hello")
    eq(Harness(env, channels=2).ask("7 HELLO"), "OK 7 proto=1 fw=1.0.0 channels=2", "2 channels")


def check_ping(env):
    h = Harness(env)
    eq(h.ask("5 PING"), "OK 5", "ping")
    eq(h.ask("12345678 PING"), "OK 12345678", "8-digit id")
    eq(h.ask("007 PING"), "OK 007", "id echoed as sent")


def check_status(env):
    h = Harness(env)
    h.run(1234, step=100)
    line = h.ask("3 STATUS")
    eq(line.split()[:2], ["OK", "3"], "status head")
    fields = status_of(line)
    for ch in range(1, 5):
        eq(fields["ch" + str(ch)], "on,up", "idle channel")
    eq(fields["uptime_ms"], "1234", "uptime")
    eq(line, "OK 3 ch1=on,up ch2=on,up ch3=on,up ch4=on,up uptime_ms=1234", "status line")
    h.send("4 POWER 2 OFF")
    h.send("5 PRESS 2 1000")
    fields = status_of(h.ask("6 STATUS"))
    eq(fields["ch2"], "off,down", "active channel")
    eq(fields["ch1"], "on,up", "other channel")


def check_power(env):
    h = Harness(env)
    eq(h.ask("1 POWER 1 OFF"), "OK 1", "power off")
    eq(h.relay(1), 1, "power off energises the relay (NC wiring)")
    eq(h.relay(2), 0, "other relay untouched")
    eq(h.ask("2 POWER 1 ON"), "OK 2", "power on")
    eq(h.relay(1), 0, "power on de-energises")
    eq(h.ask("3 power 4 off"), "OK 3", "lower case")
    eq(h.relay(4), 1, "lower case acted")
    eq(h.ask("4 Power 4 On"), "OK 4", "mixed case")
    eq(h.relay(4), 0, "mixed case acted")


def check_press_auto_release_timing(env):
    h = Harness(env)
    t0 = h.now()
    eq(h.ask("1 PRESS 1 500"), "OK 1", "press")
    eq(h.duty(1), 65535, "down at full duty")
    eq(h.run(499), [], "nothing before the end of the press")
    ok(h.duty(1) > 0, "still down at 499 ms")
    eq(h.run(1), ["EVT RELEASED ch=1 held_ms=500 reason=timeout"], "auto-release event")
    eq(h.duty(1), 0, "up at 500 ms")
    eq(h.duties(1)[-1], (t0 + 500, 0), "released exactly at 500 ms")
    eq(h.ask("2 RELEASE 1"), "OK 2 held_ms=0", "already up")


def check_hit_and_hold_duty_sequence(env):
    h = Harness(env)
    before = len(h.duties(1))
    t0 = h.now()
    h.send("1 PRESS 1 2000")
    h.run(1500, step=1)
    h.send("2 PING")
    h.run(600, step=1)
    seq = h.duties(1)[before:]
    eq(seq, [(t0, 65535), (t0 + 300, 26214), (t0 + 2000, 0)], "hit, hold, release")


def check_short_press_never_holds(env):
    h = Harness(env)
    before = len(h.duties(1))
    t0 = h.now()
    h.send("1 PRESS 1 120")
    eq(h.run(200), ["EVT RELEASED ch=1 held_ms=120 reason=timeout"], "short press released")
    eq(h.duties(1)[before:], [(t0, 65535), (t0 + 120, 0)], "no hold phase")


def check_release(env):
    h = Harness(env)
    h.send("1 PRESS 2 5000")
    h.run(1234)
    eq(h.ask("2 RELEASE 2"), "OK 2 held_ms=1234", "release reports held time")
    eq(h.duty(2), 0, "up")
    eq(h.run(5000, step=50), [], "no auto-release after a release")
    eq(h.ask("3 RELEASE 2"), "OK 3 held_ms=0", "release when up")
    eq(h.ask("4 release 1"), "OK 4 held_ms=0", "never pressed")


def check_busy(env):
    h = Harness(env)
    h.send("1 PRESS 1 1000")
    eq(h.ask("2 PRESS 1 1000"), "ERR 2 BUSY", "busy")
    eq(h.ask("3 PRESS 2 1000"), "OK 3", "other channel free")


def check_cooldown(env):
    h = Harness(env)
    h.send("1 PRESS 1 1000")
    eq(h.run(1000), ["EVT RELEASED ch=1 held_ms=1000 reason=timeout"], "released")
    eq(h.ask("2 PRESS 1 100"), "ERR 2 COOLDOWN ms=1000", "cooldown right after")
    h.run(400)
    eq(h.ask("3 PRESS 1 100"), "ERR 3 COOLDOWN ms=600", "counted from the release")
    eq(h.ask("4 PRESS 2 100"), "OK 4", "other channel not resting")
    h.run(599)
    eq(h.ask("5 PRESS 1 100"), "ERR 5 COOLDOWN ms=1", "1 ms left")
    h.run(1)
    eq(h.ask("6 PRESS 1 100"), "OK 6", "rested as long as it worked")


def check_cooldown_after_manual_release(env):
    h = Harness(env)
    h.send("1 PRESS 1 9000")
    h.run(300)
    eq(h.ask("2 RELEASE 1"), "OK 2 held_ms=300", "release")
    eq(h.ask("3 PRESS 1 100"), "ERR 3 COOLDOWN ms=300", "rest equals the press")
    h.run(300)
    eq(h.ask("4 PRESS 1 100"), "OK 4", "rested")


def check_limit(env):
    h = Harness(env)
    eq(h.ask("1 PRESS 1 60001"), "ERR 1 LIMIT", "over 60 s")
    eq(h.ask("2 PRESS 1 99999999"), "ERR 2 LIMIT", "far over")
    eq(h.duty(1), 0, "nothing pressed")
    t0 = h.now()
    eq(h.ask("3 PRESS 1 60000"), "OK 3", "exactly 60 s")
    events = []
    for _ in range(130):  # a host that keeps pinging: only the press's own limit ends it
        events.extend(h.run(500, step=10))
        h.send("9 PING")
    eq(events, ["EVT RELEASED ch=1 held_ms=60000 reason=timeout"], "released at 60 s")
    eq(h.duties(1)[-1], (t0 + 60000, 0), "never down longer than 60 s")


def check_badarg(env):
    h = Harness(env)
    for line in (
        "1 PRESS 1",
        "1 PRESS",
        "1 PRESS 1 0",
        "1 PRESS 1 abc",
        "1 PRESS 1 -5",
        "1 PRESS 1 1.5",
        "1 PRESS x 100",
        "1 PRESS 1 100 7",
        "1 POWER 1",
        "1 POWER 1 MAYBE",
        "1 POWER 1 ON extra",
        "1 POWER on 1",
        "1 RELEASE",
        "1 RELEASE 1 2",
        "1 HELLO there",
        "1 PING 1",
        "1 STATUS all",
        "1 SAFE now",
    ):
        eq(h.ask(line), "ERR 1 BADARG", line)
    eq(h.board.active(), False, "nothing happened")


def check_badch(env):
    h = Harness(env)
    for line in ("2 POWER 0 ON", "2 POWER 5 OFF", "2 PRESS 9 100", "2 RELEASE 5", "2 PRESS 0 10"):
        eq(h.ask(line), "ERR 2 BADCH", line)
    eq(Harness(env, channels=2).ask("3 POWER 3 OFF"), "ERR 3 BADCH", "2-channel board")


def check_badcmd(env):
    h = Harness(env)
    eq(h.ask("1 FLY"), "ERR 1 BADCMD", "unknown verb")
    eq(h.ask("5"), "ERR 5 BADCMD", "no verb")
    eq(h.ask("abc HELLO"), "ERR 0 BADCMD", "id not digits")
    eq(h.ask("123456789 PING"), "ERR 0 BADCMD", "id of 9 digits")
    eq(h.ask("-1 PING"), "ERR 0 BADCMD", "negative id")
    eq(h.ask("HELLO"), "ERR 0 BADCMD", "no id")
    eq(h.feed(b"1 PING\xff\n"), ["ERR 0 BADCMD"], "not ASCII")
    eq(h.feed(b"1 PI\x03NG\n"), ["ERR 0 BADCMD"], "control byte (a Ctrl-C is data)")


def check_verbs_any_case(env):
    h = Harness(env)
    eq(h.ask("1 hello"), "OK 1 proto=1 fw=1.0.0 channels=4", "hello")
    eq(h.ask("2 pInG"), "OK 2", "ping")
    eq(h.ask("3 press 1 50"), "OK 3", "press")
    eq(h.ask("4 Release 1"), "OK 4 held_ms=0", "release")
    eq(h.ask("5 safe"), "OK 5", "safe")


def check_safe(env):
    h = Harness(env)
    h.send("1 POWER 1 OFF")
    h.send("2 POWER 3 OFF")
    h.send("3 PRESS 2 5000")
    h.run(700)
    eq(h.ask("4 SAFE"), "OK 4", "safe")
    for ch in range(1, 5):
        eq(h.relay(ch), 0, "relay de-energised")
        eq(h.duty(ch), 0, "solenoid up")
    eq(h.board.active(), False, "idle")
    eq(h.ask("5 PRESS 2 100"), "ERR 5 COOLDOWN ms=700", "a SAFE release rests too")
    eq(h.run(6000, step=100), [], "no event after SAFE")


# -- framing -------------------------------------------------------------------------------------


def check_crlf_and_blank_lines(env):
    h = Harness(env)
    eq(h.feed(b"1 PING\r\n"), ["OK 1"], "crlf")
    eq(h.feed(b"\n"), [], "blank line ignored")
    eq(h.feed(b"\r\n"), [], "blank crlf ignored")
    eq(h.feed(b"   \t \n"), [], "whitespace line ignored")
    eq(h.feed(b"2 PI"), [], "partial line waits")
    eq(h.feed(b"NG\n3 PING\n4 PING\r\n"), ["OK 2", "OK 3", "OK 4"], "split and batched lines")
    eq(h.feed(b"5   PING  \n"), ["OK 5"], "extra spaces")


def check_long_lines(env):
    h = Harness(env)
    exact = "1 PING" + " " * 74
    eq(len(exact), 80, "test line of 80 bytes")
    eq(h.send(exact), ["OK 1"], "80 bytes accepted")
    eq(h.feed(exact.encode() + b"\r\n"), ["OK 1"], "80 bytes plus crlf accepted")
    eq(h.send(exact + " "), ["ERR 0 LONG"], "81 bytes")
    eq(h.send("2 PING" + "x" * 500), ["ERR 0 LONG"], "far too long: one answer")
    eq(h.send("3 PING"), ["OK 3"], "next line fine")
    eq(h.feed(b"x" * 81 + b"\r\n"), ["ERR 0 LONG"], "81 bytes plus crlf")
    ok(h.lines.pending() <= 81, "buffer bounded")
    h.feed(b"y" * 1000)
    ok(h.lines.pending() <= 81, "buffer bounded without newline")
    eq(h.feed(b"\n4 PING\n"), ["ERR 0 LONG", "OK 4"], "overflow ends at the newline")


def check_one_answer_per_request_in_order(env):
    h = Harness(env)
    lines = h.feed(b"1 PING\n2 FLY\n3 POWER 9 ON\n\n4 HELLO\n")
    eq(
        lines,
        ["OK 1", "ERR 2 BADCMD", "ERR 3 BADCH", "OK 4 proto=1 fw=1.0.0 channels=4"],
        "answers in order",
    )


# -- heartbeat -----------------------------------------------------------------------------------


def check_heartbeat_safe_after_2000_ms(env):
    h = Harness(env)
    h.send("1 POWER 1 OFF")
    eq(h.run(1999), [], "not before 2000 ms")
    eq(h.relay(1), 1, "still energised at 1999 ms")
    eq(h.run(1), ["EVT SAFE reason=heartbeat"], "safe at 2000 ms")
    eq(h.relay(1), 0, "relay de-energised")
    eq(h.run(5000, step=100), [], "said once")


def check_heartbeat_fed_by_any_complete_line(env):
    h = Harness(env)
    h.send("1 POWER 1 OFF")
    h.run(1500)
    h.send("2 PING")
    eq(h.run(1999), [], "fed by PING")
    h.send("3 FLY")
    eq(h.run(1999), [], "fed by a rejected line")
    h.feed(b"\n")
    eq(h.run(1999), [], "fed by a blank line")
    h.send("x" * 100)
    eq(h.run(1999), [], "fed by an overlong line")
    h.feed(b"4 PI")
    eq(h.run(1), ["EVT SAFE reason=heartbeat"], "a partial line does not feed it")


def check_heartbeat_releases_press(env):
    h = Harness(env)
    h.send("1 PRESS 1 30000")
    eq(h.run(2000), ["EVT SAFE reason=heartbeat"], "safe, not RELEASED")
    eq(h.duty(1), 0, "solenoid up")
    eq(h.ask("2 PRESS 1 100"), "ERR 2 COOLDOWN ms=2000", "rest after the cut-short press")


def check_heartbeat_idle_never_fires(env):
    h = Harness(env)
    eq(h.run(10000, step=50), [], "idle board says nothing")
    h.send("1 PRESS 1 100")
    h.run(100)
    eq(h.run(10000, step=50), [], "nothing after the press ended")


# -- ticks wraparound ----------------------------------------------------------------------------


def check_wraparound_press_and_cooldown(env):
    period = env.fm.TICKS_PERIOD
    h = Harness(env, start=period - 250)
    h.send("1 PRESS 1 500")
    h.run(300)
    ok(h.now() < 100, "clock wrapped")
    eq(h.duty(1), 26214, "hold duty across the wrap")
    h.send("2 PING")
    eq(h.run(200), ["EVT RELEASED ch=1 held_ms=500 reason=timeout"], "release across the wrap")
    eq(h.ask("3 PRESS 1 10"), "ERR 3 COOLDOWN ms=500", "cooldown across the wrap")
    h.run(500)
    eq(h.ask("4 PRESS 1 10"), "OK 4", "rested")


def check_wraparound_heartbeat_and_uptime(env):
    period = env.fm.TICKS_PERIOD
    h = Harness(env, start=period - 1000)
    h.send("1 POWER 1 OFF")
    eq(h.run(1999), [], "heartbeat not early across the wrap")
    eq(h.run(1), ["EVT SAFE reason=heartbeat"], "heartbeat across the wrap")
    eq(status_of(h.ask("2 STATUS"))["uptime_ms"], "2000", "uptime across the wrap")


def check_idle_longer_than_half_the_ticks_period(env):
    # After a press the board idles for most of a ticks period: ticks_diff against instants
    # that old would be wrong, so nothing may still depend on them.
    h = Harness(env)
    h.send("1 PRESS 1 1000")
    h.run(1000)
    h.take()
    chunk = env.fm.TICKS_PERIOD // 8
    h.run(chunk * 6, step=chunk)  # 3/4 of a period, the loop ticking now and then
    eq(h.ask("2 PRESS 1 100"), "OK 2", "no cooldown resurrected")
    eq(h.run(100), ["EVT RELEASED ch=1 held_ms=100 reason=timeout"], "normal press")
    h.send("3 POWER 1 OFF")
    eq(h.run(1999), [], "heartbeat starts afresh")
    eq(h.run(1), ["EVT SAFE reason=heartbeat"], "heartbeat after the long idle")
    uptime = int(status_of(h.ask("4 STATUS"))["uptime_ms"])
    eq(uptime, 1000 + chunk * 6 + 100 + 2000, "uptime beyond the ticks period")


# -- channels and the LED ------------------------------------------------------------------------


def check_channels_independent(env):
    h = Harness(env)
    h.send("1 PRESS 1 300")
    h.run(100)
    h.send("2 PRESS 4 100")
    h.send("3 POWER 2 OFF")
    eq(
        h.run(200),
        [
            "EVT RELEASED ch=4 held_ms=100 reason=timeout",
            "EVT RELEASED ch=1 held_ms=300 reason=timeout",
        ],
        "each its own timer",
    )
    eq(h.relay(2), 1, "relay 2 still energised")
    eq(h.relay(1) + h.relay(3) + h.relay(4), 0, "other relays untouched")


def check_led_lit_while_active(env):
    h = Harness(env)
    eq(h.led.value(), 0, "dark")
    h.send("1 POWER 1 OFF")
    eq(h.led.value(), 1, "lit: power cut")
    h.send("2 POWER 1 ON")
    eq(h.led.value(), 0, "dark again")
    h.send("3 PRESS 3 50")
    eq(h.led.value(), 1, "lit: pressed")
    h.run(50)
    eq(h.led.value(), 0, "dark after auto-release")


def check_linebuffer_alone(env):
    buf = env.linebuf.LineBuffer(limit=5)
    eq(buf.feed(b"abc"), [], "incomplete")
    eq(buf.feed(b"de\r\nabcdef\n12345\r\n"), [b"abcde", None, b"12345"], "lines")
    eq(buf.feed(b"\r\r\n"), [b"\r"], "only the last \\r belongs to the terminator")


# -- main.py's wiring (needs Env.main: the fake machine stands in for the Pico) ------------------


class FakeLink:
    """USB serial as main.py sees it: stdin (read), stdout (write) and a poller."""

    def __init__(self):
        self.incoming = bytearray()
        self.written = bytearray()
        self.reads = 0

    def inject(self, data):
        self.incoming.extend(data)

    def register(self, stream, events):
        pass

    def poll(self, timeout_ms=-1):
        return [(self, 1)] if self.incoming else []

    def read(self, n):
        data = bytes(self.incoming[:n])
        self.incoming = self.incoming[n:]
        self.reads += len(data)
        return data

    def write(self, data):
        self.written.extend(data)
        return len(data)

    def lines(self):
        text = bytes(self.written).decode()
        self.written = bytearray()
        return text.split("\n")[:-1] if text else []


class Button:
    def __init__(self):
        self.held = False

    def __call__(self):
        return self.held


def firmware(env, start=0, cause=None, link=None, button=None, flag="service.flag"):
    fm = env.fm
    fm.restart(start, fm.PWRON_RESET if cause is None else cause)
    link = link or FakeLink()
    fw = env.main.Firmware(
        stdin=link,
        stdout=link,
        poller=link,
        ticks_ms=fm.clock.ticks_ms,
        ticks_diff=fm.ticks_diff,
        bootsel=button or Button(),
        service_flag=env.tmpdir + "/" + flag,
    )
    return fw, link


def run_firmware(env, fw, ms, step=1):
    done = 0
    while done < ms:
        env.fm.clock.advance(step)
        done += step
        fw.step()


def main_check_boot_wiring(env):
    fm = env.fm
    fw, link = firmware(env)
    eq(link.lines(), ["EVT BOOT proto=1 fw=1.0.0 cause=power"], "boot event on stdout")
    eq(fw.service, False, "not in service mode")
    inits = fm.entries("pin-init")
    for ch in range(1, 5):
        ok((0, 0) in fm.entries("pin-init", RELAY_PINS[ch]), "relay created de-energised")
        ok((0, 0) in fm.entries("pin-init", SOLENOID_PINS[ch]), "gate created low")
        eq(
            fm.entries("pwm-init", SOLENOID_PINS[ch]),
            [(0, (env.main.SOLENOID_PWM_HZ, 0))],
            "pwm at 0 duty",
        )
    ok((0, 0) in fm.entries("pin-init", LED), "led created dark")
    eq(len(inits), 9, "4 relays, 4 gates, 1 led")
    kinds = [entry[1] for entry in fm.log]
    eq(kinds.count("wdt-start"), 1, "watchdog started once")
    last_pin = max(i for i in range(len(kinds)) if kinds[i] in ("pin-init", "pwm-init"))
    ok(kinds.index("wdt-start") > last_pin, "watchdog started after the pins are safe")
    eq(fm.entries("wdt-start"), [(0, env.main.WDT_TIMEOUT_MS)], "watchdog timeout")


def main_check_boot_causes(env):
    fm = env.fm
    _, link = firmware(env, cause=fm.WDT_RESET)
    eq(link.lines(), ["EVT BOOT proto=1 fw=1.0.0 cause=watchdog"], "watchdog")
    _, link = firmware(env, start=120000, cause=fm.PWRON_RESET)
    eq(link.lines(), ["EVT BOOT proto=1 fw=1.0.0 cause=soft"], "soft")


def main_check_protocol_over_stdin(env):
    fw, link = firmware(env)
    link.lines()
    link.inject(b"1 HELLO\r\n2 POWER 1 OFF\n3 PRESS 1 400\n")
    run_firmware(env, fw, 1)
    eq(
        link.lines(),
        ["OK 1 proto=1 fw=1.0.0 channels=4", "OK 2", "OK 3"],
        "answers on binary stdout, \\n-terminated",
    )
    eq(fw.led.value(), 1, "led lit while active")
    run_firmware(env, fw, 400)
    eq(link.lines(), ["EVT RELEASED ch=1 held_ms=400 reason=timeout"], "auto-release")
    link.inject(b"4 POWER 1 ON\n")
    run_firmware(env, fw, 1)
    eq(link.lines(), ["OK 4"], "power on")
    eq(fw.led.value(), 0, "led dark when idle")


def main_check_ctrl_c_is_data(env):
    fw, link = firmware(env)
    link.lines()
    link.inject(b"\r\x03\x03\x01\n1 PING\n")
    run_firmware(env, fw, 1)
    eq(link.lines(), ["ERR 0 BADCMD", "OK 1"], "Ctrl-C bytes are a bad line, not a break")


def main_check_read_bounded_per_pass(env):
    fw, link = firmware(env)
    link.inject(b"1 PING\n" * 40)
    run_firmware(env, fw, 1)
    eq(link.reads, env.main.MAX_READ_PER_PASS, "one pass reads a bounded amount")
    run_firmware(env, fw, 10)
    eq(link.lines()[1:], ["OK 1"] * 40, "the rest on later passes")


def main_check_wdt_fed_after_safety_checks(env):
    fm = env.fm
    fw, link = firmware(env)
    link.inject(b"1 POWER 3 OFF\n")
    run_firmware(env, fw, 1)
    mark = len(fm.log)
    run_firmware(env, fw, 2000)
    kinds = [entry[1:3] for entry in fm.log[mark:]]
    cut = kinds.index(("pin", RELAY_PINS[3]))
    eq(kinds[cut + 1 :].count(("wdt-feed", 0)) >= 1, True, "fed after the safe state")
    eq(kinds[-1], ("wdt-feed", 0), "a pass ends by feeding the watchdog")
    feeds = len(fm.entries("wdt-feed"))
    eq(feeds, 2001, "fed once per pass")

    def broken():
        raise RuntimeError("safety check failed")

    fw.board.tick = broken
    try:
        fw.step()
        raise AssertionError("step() swallowed the failure")
    except RuntimeError:
        pass
    eq(len(fm.entries("wdt-feed")), feeds, "not fed when the safety checks did not run")


def main_check_bug_ends_safe_and_resets(env):
    fm = env.fm
    fw, link = firmware(env)
    link.inject(b"1 POWER 1 OFF\n2 PRESS 1 5000\n")
    run_firmware(env, fw, 1)
    calls = []

    def fails_later():
        calls.append(1)
        if len(calls) > 3:
            raise ValueError("bug")

    fw.board.tick = fails_later
    try:
        fw.run()
        raise AssertionError("run() returned")
    except fm.ResetCalled:
        pass
    eq(fw.board.active(), False, "safe before the reset")
    eq(fm.log[-1][1], "reset", "then machine.reset()")


def main_check_service_mode(env):
    fm = env.fm
    button = Button()
    fw, link = firmware(env, button=button, flag="svc1.flag")
    link.inject(b"1 POWER 1 OFF\n")
    button.held = True
    run_firmware(env, fw, 1000, step=10)
    link.inject(b"2 POWER 1 ON\n")
    run_firmware(env, fw, 2900, step=10)  # held, but the board was active: no service mode
    try:
        run_firmware(env, fw, 200, step=10)
        raise AssertionError("no service reset after 3 s idle with BOOTSEL held")
    except fm.ResetCalled:
        pass
    eq(fm.log[-1][1], "reset", "reset")
    # The next start opens the REPL: no watchdog, no protocol, the flag used up.
    fw2, link2 = firmware(env, flag="svc1.flag")
    eq(fw2.service, True, "service boot")
    eq(link2.lines(), [], "no EVT BOOT in service mode")
    eq(fm.entries("wdt-start"), [], "no watchdog in service mode")
    eq(fw2.board.active(), False, "safe in service mode")
    fw3, link3 = firmware(env, flag="svc1.flag")
    eq(fw3.service, False, "one service boot per request")
    eq(link3.lines(), ["EVT BOOT proto=1 fw=1.0.0 cause=power"], "the firmware runs again")


def main_check_short_bootsel_press_ignored(env):
    button = Button()
    fw, link = firmware(env, button=button, flag="svc2.flag")
    button.held = True
    run_firmware(env, fw, 2500, step=10)
    button.held = False
    run_firmware(env, fw, 200, step=10)
    button.held = True
    run_firmware(env, fw, 2500, step=10)  # never 3 s in one go
    eq(link.lines(), ["EVT BOOT proto=1 fw=1.0.0 cause=power"], "still running")


# -- running ---------------------------------------------------------------------------------------


def checks(env):
    """(name, function) of every check that applies to `env`, sorted by name."""
    found = []
    names = sorted(globals())
    for name in names:
        if name.startswith("check_") or (name.startswith("main_check_") and env.main):
            found.append((name, globals()[name]))
    return found


def main(env, write=print):
    """Run every check, one line each; returns the number that failed."""
    passed = 0
    failed = 0
    for name, check in checks(env):
        try:
            check(env)
            passed += 1
            write("PASS " + name)
        except Exception as exc:
            failed += 1
            write("FAIL " + name + ": " + type(exc).__name__ + ": " + str(exc))
    write("micropython conformance: " + str(passed) + " passed, " + str(failed) + " failed")
    return failed
