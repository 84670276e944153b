"""A bay's hardware: its power switch and presser, and the one way to make them safe."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from rig.hardware.base import PowerSwitch, Presser

log = logging.getLogger(__name__)


@dataclass
class BayHardware:
    name: str
    power: PowerSwitch
    presser: Presser
    closed: bool = False

    def make_safe(self) -> list[str]:
        """Solenoid up FIRST, then relay de-energised; returns the problems met (never raises).

        The order matters: power returning while the pin is still down is exactly the
        factory-reset gesture, so the pin must be up before the camera gets power back.
        """
        problems: list[str] = []
        if self.closed:  # close() made it safe and released the pins to their safe levels
            return problems
        for part in (self.presser, self.power):
            try:
                part.make_safe()
            except Exception as exc:  # a safe-state path must try every actuator
                log.error("bay %s: making %s safe failed: %s", self.name, part.name, exc)
                problems.append(f"{part.name}: {exc}")
        return problems

    def is_safe(self) -> bool:
        return self.closed or (not self.presser.is_pressed() and self.power.is_on())

    def close(self) -> None:
        if self.closed:
            return
        self.make_safe()
        self.closed = True
        for part in (self.presser, self.power):
            try:
                part.close()
            except Exception as exc:
                log.error("bay %s: closing %s failed: %s", self.name, part.name, exc)
