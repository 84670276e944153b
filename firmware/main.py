# Entry point on the Raspberry Pi Pico: wires rigboard's logic to the pins of pinmap.py and to
# the USB serial link. MicroPython runs this file at every start.
#
# All decisions live in rigboard.py (tested under CPython and real MicroPython); this file only
# owns what touches the hardware: pins, watchdog, reset cause, stdin/stdout, the service button.
#
# Service mode: the protocol needs Ctrl-C (0x03) to be plain data, so the REPL cannot be reached
# by mpremote while this runs. Holding BOOTSEL for 3 s while the board is idle restarts it once
# into the REPL (no protocol, no watchdog) so `mpremote cp` can update the files; the next reset
# runs the firmware again. See README.md.

import os
import select
import sys
import time

import linebuf
import machine
import micropython
import pinmap
import rigboard

try:
    import rp2  # the BOOTSEL button; absent on other ports
except ImportError:
    rp2 = None

# The MOSFET gate is driven straight from a GPIO (slow edges): a low PWM frequency keeps the
# switching losses small. The coil's inductance smooths the current at this rate.
SOLENOID_PWM_HZ = 1000

# A hung loop restarts the board (which comes up safe and says EVT BOOT). Long enough for a USB
# write the host does not drain (MicroPython gives up on each after about 500 ms).
WDT_TIMEOUT_MS = 2000

# How long one pass waits for input: the resolution of auto-release and the heartbeat.
POLL_MS = 1

# Bytes read per pass at most, so a flood from the host cannot starve the safety checks.
MAX_READ_PER_PASS = 64

# BOOTSEL held this long while idle -> service mode. Read at most every SERVICE_POLL_MS:
# reading the button briefly takes the flash offline and masks interrupts.
SERVICE_HOLD_MS = 3000
SERVICE_POLL_MS = 100
SERVICE_FLAG = "service.flag"


def _file_exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


class Firmware:
    """The board as wired: pins from pinmap, the protocol on stdin/stdout, the watchdog.

    Everything the hardware provides can be passed in (the tests do); the defaults are the
    Pico's own.
    """

    def __init__(
        self,
        stdin=None,
        stdout=None,
        poller=None,
        ticks_ms=None,
        ticks_diff=None,
        bootsel=None,
        service_flag=SERVICE_FLAG,
    ):
        self.ticks_ms = ticks_ms or time.ticks_ms
        self.ticks_diff = ticks_diff or time.ticks_diff
        self.stdin = stdin or sys.stdin.buffer
        self.stdout = stdout or sys.stdout.buffer
        if bootsel is None and rp2 is not None:
            bootsel = rp2.bootsel_button
        self.bootsel = bootsel
        self.service_flag = service_flag
        self.service = self._take_service_flag()
        if not self.service:
            # Ctrl-C from the host is data, not a KeyboardInterrupt that would stop the loop
            # (and with it the auto-release and the heartbeat) with a solenoid down.
            micropython.kbd_intr(-1)

        # Pins with their safe levels given at construction, so nothing glitches: a
        # de-energised relay (the camera keeps its power) and a solenoid gate held low.
        relay_off = 0 if pinmap.RELAY_ACTIVE_HIGH else 1
        channels = {}
        for number in sorted(pinmap.CHANNELS):
            relay_gpio, solenoid_gpio = pinmap.CHANNELS[number]
            relay = machine.Pin(relay_gpio, machine.Pin.OUT, value=relay_off)
            gate = machine.Pin(solenoid_gpio, machine.Pin.OUT, value=0)
            solenoid = machine.PWM(gate, freq=SOLENOID_PWM_HZ, duty_u16=0)
            channels[number] = (relay, solenoid)
        self.led = machine.Pin(pinmap.LED_PIN, machine.Pin.OUT, value=0)

        self.lines = linebuf.LineBuffer()
        self.board = rigboard.Board(
            channels,
            self.ticks_ms,
            self.ticks_diff,
            self._send,
            relay_active_high=pinmap.RELAY_ACTIVE_HIGH,
            led=self.led,
        )
        self.wdt = None
        self.poller = poller
        self._bootsel_since = None
        self._bootsel_checked_at = self.ticks_ms()
        if self.service:
            return
        cause = rigboard.boot_cause(
            machine.reset_cause(), machine.PWRON_RESET, machine.WDT_RESET, self.ticks_ms()
        )
        if self.poller is None:
            self.poller = select.poll()
            self.poller.register(self.stdin, select.POLLIN)
        # Started last: from here on, a loop that stops feeding it restarts the board.
        self.wdt = machine.WDT(timeout=WDT_TIMEOUT_MS)
        self.board.boot(cause)

    def _send(self, line):
        # Binary stdout: the text stream would turn "\n" into "\r\n".
        self.stdout.write(line.encode() + b"\n")

    def _take_service_flag(self):
        if not _file_exists(self.service_flag):
            return False
        # One service boot per request: the next reset runs the firmware again.
        os.remove(self.service_flag)
        return True

    def step(self):
        """One pass of the loop: safety checks, then input, then the watchdog."""
        self.board.tick()
        if self.poller.poll(POLL_MS):
            data = bytearray()
            while len(data) < MAX_READ_PER_PASS and self.poller.poll(0):
                byte = self.stdin.read(1)
                if not byte:
                    break
                data.extend(byte)
            for raw in self.lines.feed(data):
                self.board.handle(raw)
        self._check_service_button()
        # Fed only here, after this pass's safety checks ran: a loop that stops running them
        # stops feeding the watchdog.
        self.wdt.feed()

    def run(self):
        try:
            while True:
                self.step()
        except Exception:
            # A bug must end safe, never half-way. The restart then says EVT BOOT
            # cause=watchdog (machine.reset() reboots through the watchdog).
            self.board.make_safe()
            machine.reset()

    def _check_service_button(self):
        if self.bootsel is None:
            return
        now = self.ticks_ms()
        if self.ticks_diff(now, self._bootsel_checked_at) < SERVICE_POLL_MS:
            return
        self._bootsel_checked_at = now
        # Only while idle: a slip of the hand must not end a reset half-way.
        if not self.bootsel() or self.board.active():
            self._bootsel_since = None
            return
        if self._bootsel_since is None:
            self._bootsel_since = now
        elif self.ticks_diff(now, self._bootsel_since) >= SERVICE_HOLD_MS:
            self.enter_service()

    def enter_service(self):
        self.board.make_safe()
        with open(self.service_flag, "w") as flag:
            flag.write("service\n")
        machine.reset()


def main():
    firmware = Firmware()
    if firmware.service:
        print("rig board: service mode, the REPL is open (mpremote cp ...; mpremote reset)")
        return
    firmware.run()


if __name__ == "__main__":
    main()
