# A stand-in for MicroPython's `machine` module, for the tests only (never copied to a board).
#
# Valid under MicroPython and CPython: the CPython tests install it as `machine`, the
# MicroPython run (run.mjs) writes it into the virtual filesystem as machine.py. Every change
# to a pin, a PWM duty or the watchdog is appended to `log` with the fake clock's time, so the
# tests assert order and timing from the history, as gpiozero's MockFactory allows.

# MicroPython's ticks on the RP2040 wrap every 2**30 ms; the fake clock wraps the same way.
TICKS_PERIOD = 1 << 30
_MASK = TICKS_PERIOD - 1
_HALF = TICKS_PERIOD // 2

PWRON_RESET = 1
WDT_RESET = 3


def ticks_diff(end, start):
    """time.ticks_diff: signed distance from start to end, right across the wraparound."""
    return ((end - start + _HALF) & _MASK) - _HALF


class Clock:
    def __init__(self, start=0):
        self.now = start & _MASK

    def ticks_ms(self):
        return self.now

    def advance(self, ms):
        self.now = (self.now + ms) & _MASK


clock = Clock()
log = []
_state = {"cause": PWRON_RESET}


def restart(start=0, cause=PWRON_RESET):
    """A fresh machine: the clock at `start`, an empty log, the next reset_cause()."""
    clock.now = start & _MASK
    del log[:]
    _state["cause"] = cause


def entries(kind, ident=None):
    """(time, value) of every logged change of one kind (and one pin)."""
    found = []
    for entry in log:
        if entry[1] == kind and (ident is None or entry[2] == ident):
            found.append((entry[0], entry[3]))
    return found


class ResetCalled(Exception):
    """machine.reset() never returns on a board; here it raises this."""


class Pin:
    IN = 0
    OUT = 1

    def __init__(self, ident, mode=-1, value=None):
        self.ident = ident
        self.mode = mode
        self._value = None
        log.append((clock.now, "pin-init", ident, value))
        if value is not None:
            self._value = 1 if value else 0

    def value(self, value=None):
        if value is None:
            return self._value
        self._value = 1 if value else 0
        log.append((clock.now, "pin", self.ident, self._value))
        return None


class PWM:
    def __init__(self, pin, freq=None, duty_u16=None):
        self.pin = pin
        self._freq = freq
        self._duty = 0
        log.append((clock.now, "pwm-init", pin.ident, (freq, duty_u16)))
        if duty_u16 is not None:
            self._duty = duty_u16

    def freq(self, value=None):
        if value is None:
            return self._freq
        self._freq = value
        return None

    def duty_u16(self, value=None):
        if value is None:
            return self._duty
        self._duty = value
        log.append((clock.now, "duty", self.pin.ident, value))
        return None

    def deinit(self):
        log.append((clock.now, "pwm-deinit", self.pin.ident, None))


class WDT:
    def __init__(self, id=0, timeout=5000):
        log.append((clock.now, "wdt-start", id, timeout))

    def feed(self):
        log.append((clock.now, "wdt-feed", 0, None))


def reset_cause():
    return _state["cause"]


def reset():
    log.append((clock.now, "reset", 0, None))
    raise ResetCalled()
