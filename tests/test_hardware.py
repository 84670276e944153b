"""The actuators on their own: start-up without a glitch, hit-and-hold, the 60 s limit, the
rest after a press, and the manual backends."""

from __future__ import annotations

import itertools

import pytest
from gpiozero.pins.mock import MockFactory

from rig.cli import selftest
from rig.clock import FakeClock
from rig.config import GpioPower, GpioPresser
from rig.errors import CooldownError, SafetyLimitError
from rig.hardware.bay import BayHardware
from rig.hardware.gpio import GpioRelay, GpioSolenoid
from rig.hardware.manual import ManualPowerSwitch, ManualPresser
from tests.fakes import ScriptedOperator
from tests.test_procedure import timeline


@pytest.mark.parametrize("active_high", [False, True])
def test_relay_starts_de_energised_without_a_glitch(
    pins: MockFactory, clock: FakeClock, active_high: bool
) -> None:
    pin = pins.pin(17)
    pin.clear_states()
    relay = GpioRelay(GpioPower(gpio=17, active_high=active_high))
    clock.sleep(1)
    de_energised = not active_high
    assert relay.is_on()
    assert bool(pin.state) is de_energised
    # Whatever level the pin passed through while becoming an output, it never stayed there:
    # no time at all was spent energised (a relay coil needs milliseconds to move).
    history = timeline(pin)
    energised_for = sum(
        later[0] - at
        for (at, level), later in itertools.pairwise(history)
        if bool(level) is not de_energised
    )
    assert energised_for == 0.0


def test_relay_levels_follow_active_high(pins: MockFactory) -> None:
    low = GpioRelay(GpioPower(gpio=17, active_high=False))
    high = GpioRelay(GpioPower(gpio=22, active_high=True))
    low.off()
    high.off()
    assert (pins.pin(17).state, pins.pin(22).state) == (0, 1)  # both energised: power cut
    assert not low.is_on() and not high.is_on()
    low.on()
    high.on()
    assert (pins.pin(17).state, pins.pin(22).state) == (1, 0)


def test_solenoid_starts_off(pins: MockFactory, clock: FakeClock) -> None:
    solenoid = GpioSolenoid(GpioPresser(gpio=27), clock)
    assert pins.pin(27).state == 0
    assert not solenoid.is_pressed()


def test_hit_then_hold_duty(pins: MockFactory, clock: FakeClock) -> None:
    solenoid = GpioSolenoid(GpioPresser(gpio=27, hit_ms=250, hold_duty=0.35, pwm_hz=800), clock)
    pins.pin(27).clear_states()
    solenoid.press(10)
    clock.sleep(5.0)
    held = solenoid.release()
    assert timeline(pins.pin(27)) == [(0.0, 0.0), (0.0, 1.0), (0.25, 0.35), (5.0, 0.0)]
    assert pins.pin(27).frequency == 800
    assert held == pytest.approx(5.0)


def test_a_tap_shorter_than_the_hit_never_drops_to_the_hold_duty(
    pins: MockFactory, clock: FakeClock
) -> None:
    solenoid = GpioSolenoid(GpioPresser(gpio=27, hit_ms=300), clock)
    pins.pin(27).clear_states()
    solenoid.press(1)
    clock.sleep(0.2)
    solenoid.release()
    clock.sleep(1)  # the hit timer must not switch a released pin back on
    assert timeline(pins.pin(27)) == [(0.0, 0.0), (0.0, 1.0), (0.2, 0.0)]


def test_press_over_sixty_seconds_is_refused(pins: MockFactory, clock: FakeClock) -> None:
    solenoid = GpioSolenoid(GpioPresser(gpio=27), clock)
    pins.pin(27).clear_states()
    with pytest.raises(SafetyLimitError, match="press of 61 s refused: limit is 60 s"):
        solenoid.press(61)
    assert timeline(pins.pin(27)) == [(0.0, 0.0)]


def test_guard_releases_a_press_nobody_ends(pins: MockFactory, clock: FakeClock) -> None:
    solenoid = GpioSolenoid(GpioPresser(gpio=27), clock)
    pins.pin(27).clear_states()
    solenoid.press(20)
    clock.sleep(120)  # the caller hangs
    assert timeline(pins.pin(27))[-1] == (20.0, 0.0)
    assert solenoid.auto_released and not solenoid.is_pressed()


def test_guard_never_lets_a_press_exceed_sixty_seconds(pins: MockFactory, clock: FakeClock) -> None:
    solenoid = GpioSolenoid(GpioPresser(gpio=27, pwm=False), clock)
    pins.pin(27).clear_states()
    solenoid.press(60)
    clock.sleep(3600)
    assert timeline(pins.pin(27)) == [(0.0, False), (0.0, True), (60.0, False)]


def test_rest_after_a_press_is_as_long_as_the_press(pins: MockFactory, clock: FakeClock) -> None:
    solenoid = GpioSolenoid(GpioPresser(gpio=27), clock)
    solenoid.press(30)
    clock.sleep(18)
    solenoid.release()
    clock.sleep(10)
    with pytest.raises(CooldownError) as info:
        solenoid.press(5)
    # It worked 18 s and has rested 10 s.
    assert info.value.remaining_s == pytest.approx(8.0)
    clock.sleep(8.0)
    solenoid.press(5)
    assert solenoid.is_pressed()


def test_manual_backends_tell_the_operator_what_to_do(clock: FakeClock) -> None:
    operator = ScriptedOperator()
    power = ManualPowerSwitch(operator, bay="A")
    presser = ManualPresser(operator, clock, bay="A")
    power.off()
    presser.press(20)
    power.on()
    clock.sleep(18)
    presser.release()
    presser.make_safe()  # already up: nothing more to say
    assert operator.told == [
        "Bay A: unplug the camera's PoE cable (power OFF)",
        "Bay A: press the reset button with a pin and KEEP HOLDING it",
        "Bay A: plug the PoE cable back in (power ON)",
        "Bay A: RELEASE the reset button now",
    ]


def test_selftest_clicks_the_relay_and_taps_the_solenoid(
    pins: MockFactory, clock: FakeClock
) -> None:
    bay = BayHardware(
        "A",
        GpioRelay(GpioPower(gpio=17, active_high=False)),
        GpioSolenoid(GpioPresser(gpio=27, pwm=False), clock),
    )
    for n in (17, 27):
        pins.pin(n).clear_states()
    operator = ScriptedOperator()
    selftest(bay, clock, operator)
    assert timeline(pins.pin(17)) == [(0.0, True), (0.0, False), (1.0, True)]
    assert timeline(pins.pin(27)) == [
        (0.0, False),
        (1.5, True),
        (1.7, False),
        (2.0, True),
        (2.2, False),
    ]
    assert bay.is_safe()
    assert operator.told[-1] == "Bay A: selftest done; the bay is in its safe state"
