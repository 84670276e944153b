"""Run `rig` as a real process on gpiozero's mock pins, logging every pin change to a file.

    python tests/faults/rig_with_pin_log.py PINLOG [rig arguments...]

A fault test that signals or kills rig needs it in a process of its own, and then cannot look
at its mock pins; this script writes them down instead. Each line of PINLOG is

    <time.monotonic()> <gpio> <function> <state>

and is flushed at once, so a test can follow it live and keeps what was written before a
SIGKILL. On Linux `time.monotonic()` is CLOCK_MONOTONIC, one clock for every process on the
machine: the test compares these times with its own (the moment it sent a signal).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO

from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPWMPin


class LoggedPin(MockPWMPin):
    """A mock PWM pin that writes each change of its function or level to `LoggedPin.log`."""

    log: TextIO | None = None
    _log_lock = threading.Lock()

    def _write(self) -> None:
        if LoggedPin.log is None:
            return
        # Several threads change pins (the hit timer, the guard, a signal handler): one line
        # each, whole.
        with LoggedPin._log_lock:
            line = f"{time.monotonic():.6f} {self.info.name} {self._function} {float(self._state)}"
            LoggedPin.log.write(line + "\n")
            LoggedPin.log.flush()

    def _change_state(self, value: Any) -> bool:
        changed = bool(super()._change_state(value))
        if changed:
            self._write()
        return changed

    def _set_function(self, value: str) -> None:
        was = self._function
        super()._set_function(value)
        if value != was:
            self._write()


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: rig_with_pin_log.py PINLOG [rig arguments...]", file=sys.stderr)
        return 2
    LoggedPin.log = open(argv[1], "a", encoding="ascii")  # noqa: SIM115 - open for the process
    # rig's gpio backend uses Device.pin_factory when the config names no other.
    Device.pin_factory = MockFactory(pin_class=LoggedPin)
    from rig.cli import main as rig_main

    return rig_main(argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
