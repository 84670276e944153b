"""Direct-GPIO backends on gpiozero: the relay on an OutputDevice, the solenoid on a PWM pin.

gpiozero's pin factory is swappable: on a Pi it drives real pins, under test (and in
`rig demo`) its MockFactory records every change with a timestamp.

The devices take plain arguments, as gpiozero's own do; `GpioPower` and `GpioPresser` are the
backend's settings (`power = { gpio = 17 }`), read from a bay's table and built into them.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from gpiozero import Device, DigitalOutputDevice, OutputDevice, PWMOutputDevice
from gpiozero.pins.mock import MockFactory, MockPWMPin

from rig.clock import Clock, Timer
from rig.errors import ConfigError
from rig.hardware.base import GuardedPresser, PowerSwitch
from rig.hardware.settings import BuildContext, Resources, Role
from rig.tomlcheck import Table

# BCM numbers a bay may use: the 40-pin header's GPIO 2-27.
GPIO_RANGE = (2, 27)


class GpioRelay(PowerSwitch):
    """PoE power through a relay wired NC: energised = power cut, de-energised = powered."""

    def __init__(
        self,
        gpio: int,
        *,
        active_high: bool = False,
        name: str = "power",
        pin_factory: Any = None,
    ) -> None:
        self.name = name
        # initial_value=False: the relay starts de-energised, and gpiozero sets the pin's level
        # before making it an output (output_with_state), so start-up never blips the power.
        self._relay = OutputDevice(
            gpio, active_high=active_high, initial_value=False, pin_factory=pin_factory
        )

    @property
    def pin(self) -> Any:
        return self._relay.pin

    def on(self) -> None:
        self._relay.off()  # de-energise: NC contact closes, the camera gets power

    def off(self) -> None:
        self._relay.on()  # energise: NC contact opens, the camera loses power

    def is_on(self) -> bool:
        return not self._relay.value

    def close(self) -> None:
        if not self._relay.closed:
            self.on()
            self._relay.close()


class GpioSolenoid(GuardedPresser):
    """A push solenoid through a logic-level MOSFET.

    Hit and hold: full drive for `hit_ms` so the plunger pulls in, then a lower PWM duty that
    keeps it in without cooking the coil over a 20-45 s hold. With `pwm=False` it is plain
    on/off (a solenoid rated for continuous duty).
    """

    def __init__(
        self,
        gpio: int,
        clock: Clock,
        *,
        pwm: bool = True,
        hit_ms: int = 300,
        hold_duty: float = 0.5,
        pwm_hz: int = 1000,
        name: str = "presser",
        pin_factory: Any = None,
    ) -> None:
        super().__init__(clock)
        self.name = name
        self._pwm = pwm
        self._hit_s = hit_ms / 1000
        self._hold_duty = hold_duty
        self._hit_timer: Timer | None = None
        self._device: PWMOutputDevice | DigitalOutputDevice
        if pwm:
            factory = resolved_pin_factory(pin_factory)
            name_of, has_pwm = describe_pin_factory(factory)
            if not has_pwm:
                # Refused before anything moves: the first press would fail mid-sequence.
                raise ConfigError(
                    f"{name}: GPIO{gpio} needs PWM for hit-and-hold, but the pin factory"
                    f" {name_of!r} has none: install lgpio (see the README) or set pwm = false"
                )
            self._device = PWMOutputDevice(
                gpio, frequency=pwm_hz, initial_value=0, pin_factory=factory
            )
        else:
            self._device = DigitalOutputDevice(gpio, initial_value=False, pin_factory=pin_factory)

    @property
    def pin(self) -> Any:
        return self._device.pin

    def _down(self) -> None:
        self._device.value = 1
        if self._pwm:
            # Full drive pulls the plunger in; the lower hold duty follows on a timer, so the
            # power-on that comes next is not delayed by the hit.
            self._hit_timer = self._clock.call_later(self._hit_s, self._to_hold)

    def _to_hold(self) -> None:
        with self._lock:
            if self.is_pressed() and not self._device.closed:
                self._device.value = self._hold_duty

    def _up(self) -> None:
        if self._hit_timer is not None:
            self._hit_timer.cancel()
            self._hit_timer = None
        if not self._device.closed:
            self._device.value = 0

    def close(self) -> None:
        if not self._device.closed:
            self.make_safe()
            self._device.close()


# -- the pin factory ------------------------------------------------------------------------

#: gpiozero's factories by class, as a technician knows them; native pins have no PWM.
_FACTORY_NAMES = {
    "LGPIOFactory": "lgpio",
    "RPiGPIOFactory": "RPi.GPIO",
    "PiGPIOFactory": "pigpio",
    "NativeFactory": "native",
    "MockFactory": "mock",
}


def resolved_pin_factory(explicit: Any = None) -> Any:
    """The factory a device built now would get: `explicit`, or gpiozero's default, chosen
    (lgpio, RPi.GPIO, pigpio, native, in that order) the way gpiozero itself chooses it."""
    factory = pin_factory_for(explicit)
    if factory is None:
        Device.ensure_pin_factory()
        factory = Device.pin_factory
    return factory


def describe_pin_factory(factory: Any) -> tuple[str, bool]:
    """(name, can it do PWM?) of a gpiozero pin factory: rig says at start which one it got."""
    kind = type(factory).__name__
    name = _FACTORY_NAMES.get(kind, kind)
    if kind == "NativeFactory":
        return name, False  # gpiozero's pure-Python pins: no PWM, and no Pi 5
    if isinstance(factory, MockFactory):
        return name, issubclass(factory.pin_class, MockPWMPin)
    return name, True


def pin_factory_for(explicit: Any = None) -> Any:
    """The pin factory a bay's devices use: `explicit` if given, else gpiozero's default.

    One exception: with GPIOZERO_PIN_FACTORY=mock (a bench without a Pi, the tests' child
    processes) and no factory chosen yet, gpiozero would build a MockFactory of plain MockPins,
    which cannot do PWM, and the solenoid's hold duty needs it. Then this returns one
    `MockFactory(pin_class=MockPWMPin)` for the whole process (one header, so two devices on
    one pin still collide). A factory already set on `Device.pin_factory`, or a pin class named
    in GPIOZERO_MOCK_PIN_CLASS, is left to gpiozero. The environment is only read.
    """
    if explicit is not None:
        return explicit
    if (
        Device.pin_factory is None
        and os.environ.get("GPIOZERO_PIN_FACTORY", "").lower() == "mock"
        and "GPIOZERO_MOCK_PIN_CLASS" not in os.environ
    ):
        return _mock_header()
    return None


@functools.cache
def _mock_header() -> MockFactory:
    return MockFactory(pin_class=MockPWMPin)


# -- the backend's settings -----------------------------------------------------------------


@dataclass(frozen=True)
class GpioPower:
    """`power = { gpio = 17, active_high = false }`: a relay module on a Pi GPIO. Most opto
    modules are active-low."""

    gpio: int
    active_high: bool = False

    def build_power(self, ctx: BuildContext) -> GpioRelay:
        return GpioRelay(
            self.gpio,
            active_high=self.active_high,
            name=f"bay {ctx.bay} relay",
            pin_factory=pin_factory_for(ctx.pin_factory),
        )

    def describe(self) -> str:
        return f"GPIO{self.gpio}"

    def claims(self, role: Role) -> tuple[Hashable, ...]:
        return (("gpio", self.gpio),)  # a pin is one pin, whichever role


@dataclass(frozen=True)
class GpioPresser:
    """`presser = { gpio = 27, pwm = true, hit_ms = 300, hold_duty = 0.5, pwm_hz = 1000 }`: a
    solenoid MOSFET gate on a Pi GPIO, hit at full drive, then held at a PWM duty."""

    gpio: int
    pwm: bool = True
    hit_ms: int = 300
    hold_duty: float = 0.5
    pwm_hz: int = 1000

    def build_presser(self, ctx: BuildContext) -> GpioSolenoid:
        return GpioSolenoid(
            self.gpio,
            ctx.clock,
            pwm=self.pwm,
            hit_ms=self.hit_ms,
            hold_duty=self.hold_duty,
            pwm_hz=self.pwm_hz,
            name=f"bay {ctx.bay} solenoid",
            pin_factory=pin_factory_for(ctx.pin_factory),
        )

    def describe(self) -> str:
        return f"GPIO{self.gpio}"

    def claims(self, role: Role) -> tuple[Hashable, ...]:
        return (("gpio", self.gpio),)


def _gpio(t: Table) -> int:
    gpio: int = t.integer("gpio", lo=GPIO_RANGE[0], hi=GPIO_RANGE[1])
    return gpio


def read_power(t: Table, resources: Resources) -> GpioPower:
    return GpioPower(gpio=_gpio(t), active_high=t.flag("active_high", False))


def read_presser(t: Table, resources: Resources) -> GpioPresser:
    return GpioPresser(
        gpio=_gpio(t),
        pwm=t.flag("pwm", True),
        hit_ms=t.integer("hit_ms", 300, lo=50, hi=2000),
        # Below ~20 % a typical push solenoid drops out; above 100 % is not a duty.
        hold_duty=t.number("hold_duty", 0.5, lo=0.2, hi=1.0),
        pwm_hz=t.integer("pwm_hz", 1000, lo=50, hi=20000),
    )


def pins_in_use(parts: Sequence[object]) -> str | None:
    """The line rig says at start when some bay drives Pi GPIOs: which pin factory it got."""
    devices = [p for p in parts if isinstance(p, GpioRelay | GpioSolenoid)]
    if not devices:
        return None
    name, has_pwm = describe_pin_factory(devices[0].pin.factory)
    return f"GPIO pins: {name} pin factory" + ("" if has_pwm else " (no PWM)")
