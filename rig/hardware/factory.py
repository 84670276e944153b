"""The one factory that turns a bay's config into its hardware.

It knows no backend: each bay's settings build their own device (rig.hardware.backends lists
the backends) from a `BuildContext`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rig.clock import Clock
from rig.config import BayConfig, RigConfig
from rig.hardware.bay import BayHardware
from rig.hardware.settings import BuildContext
from rig.operator import Operator

if TYPE_CHECKING:
    from rig.hardware.board import BoardPool
    from rig.hardware.switch import SwitchPool


def build_bay(
    bay: BayConfig,
    config: RigConfig,
    clock: Clock,
    operator: Operator,
    *,
    pin_factory: Any = None,
    boards: BoardPool | None = None,
    switches: SwitchPool | None = None,
) -> BayHardware:
    """The bay's power switch and presser. `pin_factory` is gpiozero's (None: its default, see
    rig.hardware.gpio.pin_factory_for); `boards` are the run's, opened on first use."""
    ctx = BuildContext(
        bay=bay.name,
        clock=clock,
        operator=operator,
        where=f"{config.source}: bay {bay.name}",
        pin_factory=pin_factory,
        boards=boards,
        switches=switches,
    )
    power = bay.power.build_power(ctx)
    try:
        presser = bay.presser.build_presser(ctx)
    except BaseException:
        power.close()
        raise
    return BayHardware(bay.name, power, presser)
