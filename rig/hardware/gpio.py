"""Direct-GPIO backends on gpiozero: the relay on an OutputDevice, the solenoid on a PWM pin.

gpiozero's pin factory is swappable: on a Pi it drives real pins, under test (and in
`rig demo`) its MockFactory records every change with a timestamp.
"""

from __future__ import annotations

from typing import Any

from gpiozero import DigitalOutputDevice, OutputDevice, PWMOutputDevice

from rig.clock import Clock, Timer
from rig.config import GpioPower, GpioPresser
from rig.hardware.base import GuardedPresser, PowerSwitch


class GpioRelay(PowerSwitch):
    """PoE power through a relay wired NC: energised = power cut, de-energised = powered."""

    def __init__(self, config: GpioPower, *, name: str = "power", pin_factory: Any = None) -> None:
        self.name = name
        # initial_value=False: the relay starts de-energised, and gpiozero sets the pin's level
        # before making it an output (output_with_state), so start-up never blips the power.
        self._relay = OutputDevice(
            config.gpio,
            active_high=config.active_high,
            initial_value=False,
            pin_factory=pin_factory,
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
    keeps it in without cooking the coil over a 20-45 s hold. With `pwm = false` it is plain
    on/off (a solenoid rated for continuous duty).
    """

    def __init__(
        self, config: GpioPresser, clock: Clock, *, name: str = "presser", pin_factory: Any = None
    ) -> None:
        super().__init__(clock)
        self.name = name
        self._config = config
        self._hit_timer: Timer | None = None
        self._device: PWMOutputDevice | DigitalOutputDevice
        if config.pwm:
            self._device = PWMOutputDevice(
                config.gpio, frequency=config.pwm_hz, initial_value=0, pin_factory=pin_factory
            )
        else:
            self._device = DigitalOutputDevice(
                config.gpio, initial_value=False, pin_factory=pin_factory
            )

    @property
    def pin(self) -> Any:
        return self._device.pin

    def _down(self) -> None:
        self._device.value = 1
        if self._config.pwm:
            # Full drive pulls the plunger in; the lower hold duty follows on a timer, so the
            # power-on that comes next is not delayed by the hit.
            self._hit_timer = self._clock.call_later(self._config.hit_ms / 1000, self._to_hold)

    def _to_hold(self) -> None:
        with self._lock:
            if self.is_pressed() and not self._device.closed:
                self._device.value = self._config.hold_duty

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
