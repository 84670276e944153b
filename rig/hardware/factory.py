"""The one factory that turns a bay's config into its hardware (adding a backend = one module)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from rig.clock import Clock
from rig.config import MANUAL, BayConfig, BoardChannel, GpioPower, GpioPresser, RigConfig
from rig.errors import ConfigError
from rig.hardware.base import PowerSwitch, Presser
from rig.hardware.bay import BayHardware
from rig.operator import Operator

if TYPE_CHECKING:
    from rig.hardware.board import BoardLink, BoardPool


def _gpio_pin_factory(pin_factory: Any) -> Any:
    if pin_factory is None and os.environ.get("GPIOZERO_PIN_FACTORY", "").lower() == "mock":
        # gpiozero's plain mock pin cannot do PWM; the solenoid's hold needs it.
        os.environ.setdefault("GPIOZERO_MOCK_PIN_CLASS", "mockpwmpin")
    return pin_factory


def build_bay(
    bay: BayConfig,
    config: RigConfig,
    clock: Clock,
    operator: Operator,
    *,
    pin_factory: Any = None,
    boards: BoardPool | None = None,
) -> BayHardware:
    power: PowerSwitch
    presser: Presser
    where = f"{config.source}: bay {bay.name}"
    if bay.power == MANUAL:
        from rig.hardware.manual import ManualPowerSwitch

        power = ManualPowerSwitch(operator, bay=bay.name)
    elif isinstance(bay.power, BoardChannel):
        from rig.hardware.board import BoardPowerSwitch

        power = BoardPowerSwitch(_link(boards, bay.power.board, where), bay.power.channel)
    elif isinstance(bay.power, GpioPower):
        from rig.hardware.gpio import GpioRelay

        power = GpioRelay(
            bay.power, name=f"bay {bay.name} relay", pin_factory=_gpio_pin_factory(pin_factory)
        )
    else:
        raise ConfigError(f"{where}: power: {_unsupported(bay.power)}")
    try:
        if bay.presser == MANUAL:
            from rig.hardware.manual import ManualPresser

            presser = ManualPresser(operator, clock, bay=bay.name)
        elif isinstance(bay.presser, BoardChannel):
            from rig.hardware.board import BoardPresser

            link = _link(boards, bay.presser.board, where)
            presser = BoardPresser(link, bay.presser.channel, clock)
        elif isinstance(bay.presser, GpioPresser):
            from rig.hardware.gpio import GpioSolenoid

            presser = GpioSolenoid(
                bay.presser,
                clock,
                name=f"bay {bay.name} solenoid",
                pin_factory=_gpio_pin_factory(pin_factory),
            )
        else:
            raise ConfigError(f"{where}: presser: {_unsupported(bay.presser)}")
    except BaseException:
        power.close()
        raise
    return BayHardware(bay.name, power, presser)


def _link(boards: BoardPool | None, name: str, where: str) -> BoardLink:
    if boards is None:
        raise ConfigError(f"{where}: board {name!r} used but no boards were opened")
    link = boards.link(name)
    return link


def _unsupported(hw: object) -> str:
    return f"unsupported backend {hw!r}"
