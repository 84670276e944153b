"""Manual backends: the same interfaces, with a person doing the work (labgrid's
ManualPowerDriver). A bench with no relay or no solenoid still runs the documented
procedure; the rig tells the operator what to do and when."""

from __future__ import annotations

from rig.clock import Clock
from rig.hardware.base import GuardedPresser, PowerSwitch
from rig.operator import Operator


class ManualPowerSwitch(PowerSwitch):
    def __init__(self, operator: Operator, *, bay: str) -> None:
        self._operator = operator
        self._bay = bay
        self._on = True
        self.name = "power (manual)"

    def on(self) -> None:
        self._operator.wait_enter(f"Bay {self._bay}: plug the PoE cable back in (power ON)")
        self._on = True

    def off(self) -> None:
        self._operator.wait_enter(f"Bay {self._bay}: unplug the camera's PoE cable (power OFF)")
        self._on = False

    def is_on(self) -> bool:
        return self._on


class ManualPresser(GuardedPresser):
    """The operator holds the reset pin; the rig keeps the time and says when to let go."""

    def __init__(self, operator: Operator, clock: Clock, *, bay: str) -> None:
        super().__init__(clock)
        self._operator = operator
        self._bay = bay
        self.name = "presser (manual)"

    def _down(self) -> None:
        self._operator.wait_enter(
            f"Bay {self._bay}: press the reset button with a pin and KEEP HOLDING it"
        )

    def _up(self) -> None:
        if self.is_pressed():
            self._operator.tell(f"Bay {self._bay}: RELEASE the reset button now")
