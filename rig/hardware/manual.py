"""Manual backends: the same interfaces, with a person doing the work (labgrid's
ManualPowerDriver). A bench with no relay or no solenoid still runs the documented
procedure; the rig tells the operator what to do and when.

`Manual` is the backend's settings: `power = "manual"` or `presser = "manual"`.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

from rig.clock import Clock
from rig.hardware.base import GuardedPresser, PowerSwitch
from rig.hardware.settings import BuildContext, Resources, Role
from rig.operator import Operator
from rig.tomlcheck import Table


class ManualPowerSwitch(PowerSwitch):
    def __init__(self, operator: Operator, *, bay: str, name: str = "power (manual)") -> None:
        self._operator = operator
        self._bay = bay
        self._on = True
        self.name = name

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

    def __init__(
        self, operator: Operator, clock: Clock, *, bay: str, name: str = "presser (manual)"
    ) -> None:
        super().__init__(clock)
        self._operator = operator
        self._bay = bay
        self.name = name

    def _down(self) -> None:
        self._operator.wait_enter(
            f"Bay {self._bay}: press the reset button with a pin and KEEP HOLDING it"
        )

    def _up(self) -> None:
        if self.is_pressed():
            self._operator.tell(f"Bay {self._bay}: RELEASE the reset button now")


@dataclass(frozen=True)
class Manual:
    """`"manual"`: the operator is the relay or the solenoid. It claims nothing."""

    def build_power(self, ctx: BuildContext) -> ManualPowerSwitch:
        return ManualPowerSwitch(ctx.operator, bay=ctx.bay)

    def build_presser(self, ctx: BuildContext) -> ManualPresser:
        return ManualPresser(ctx.operator, ctx.clock, bay=ctx.bay)

    def describe(self) -> str:
        return "manual"

    def claims(self, role: Role) -> tuple[Hashable, ...]:
        return ()


MANUAL = Manual()


def read(t: Table, resources: Resources) -> Manual:
    """A word backend: `t` is empty (the bay's value was the word itself)."""
    return MANUAL
