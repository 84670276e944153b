"""The actuators on their own: start-up without a glitch, hit-and-hold, the 60 s limit, the
rest after a press, what a release reports, the manual backends, and the factory that builds
them from a config."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPWMPin

from rig.cli import selftest
from rig.clock import FakeClock
from rig.config import parse_config
from rig.errors import ConfigError, CooldownError, SafetyLimitError
from rig.hardware import gpio
from rig.hardware.base import Release
from rig.hardware.bay import BayHardware
from rig.hardware.factory import build_bay
from rig.hardware.gpio import GpioRelay, GpioSolenoid, pin_factory_for
from rig.hardware.manual import ManualPowerSwitch, ManualPresser
from tests.fakes import ScriptedOperator
from tests.test_procedure import timeline


@pytest.mark.parametrize("active_high", [False, True])
def test_relay_starts_de_energised_without_a_glitch(
    pins: MockFactory, clock: FakeClock, active_high: bool
) -> None:
    pin = pins.pin(17)
    pin.clear_states()
    relay = GpioRelay(17, active_high=active_high)
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
    low = GpioRelay(17, active_high=False)
    high = GpioRelay(22, active_high=True)
    low.off()
    high.off()
    assert (pins.pin(17).state, pins.pin(22).state) == (0, 1)  # both energised: power cut
    assert not low.is_on() and not high.is_on()
    low.on()
    high.on()
    assert (pins.pin(17).state, pins.pin(22).state) == (1, 0)


def test_solenoid_starts_off(pins: MockFactory, clock: FakeClock) -> None:
    solenoid = GpioSolenoid(27, clock)
    assert pins.pin(27).state == 0
    assert not solenoid.is_pressed()


def test_hit_then_hold_duty(pins: MockFactory, clock: FakeClock) -> None:
    solenoid = GpioSolenoid(27, clock, hit_ms=250, hold_duty=0.35, pwm_hz=800)
    pins.pin(27).clear_states()
    solenoid.press(10)
    clock.sleep(5.0)
    release = solenoid.release()
    assert timeline(pins.pin(27)) == [(0.0, 0.0), (0.0, 1.0), (0.25, 0.35), (5.0, 0.0)]
    assert pins.pin(27).frequency == 800
    assert release == Release(held_s=pytest.approx(5.0), timed_by="host", early=False)


def test_a_tap_shorter_than_the_hit_never_drops_to_the_hold_duty(
    pins: MockFactory, clock: FakeClock
) -> None:
    solenoid = GpioSolenoid(27, clock, hit_ms=300)
    pins.pin(27).clear_states()
    solenoid.press(1)
    clock.sleep(0.2)
    solenoid.release()
    clock.sleep(1)  # the hit timer must not switch a released pin back on
    assert timeline(pins.pin(27)) == [(0.0, 0.0), (0.0, 1.0), (0.2, 0.0)]


def test_press_over_sixty_seconds_is_refused(pins: MockFactory, clock: FakeClock) -> None:
    solenoid = GpioSolenoid(27, clock)
    pins.pin(27).clear_states()
    with pytest.raises(SafetyLimitError, match="press of 61 s refused: limit is 60 s"):
        solenoid.press(61)
    assert timeline(pins.pin(27)) == [(0.0, 0.0)]


def test_guard_releases_a_press_nobody_ends(pins: MockFactory, clock: FakeClock) -> None:
    solenoid = GpioSolenoid(27, clock)
    pins.pin(27).clear_states()
    solenoid.press(20)
    clock.sleep(120)  # the caller hangs
    assert timeline(pins.pin(27))[-1] == (20.0, 0.0)
    assert not solenoid.is_pressed()
    # The caller's release, when it comes, learns the guard ended the press, and how long it was.
    assert solenoid.release() == Release(held_s=20.0, timed_by="host", early=True)
    assert solenoid.release() == Release(held_s=None, timed_by="host", early=False)  # told once


def test_guard_never_lets_a_press_exceed_sixty_seconds(pins: MockFactory, clock: FakeClock) -> None:
    solenoid = GpioSolenoid(27, clock, pwm=False)
    pins.pin(27).clear_states()
    solenoid.press(60)
    clock.sleep(3600)
    assert timeline(pins.pin(27)) == [(0.0, False), (0.0, True), (60.0, False)]


def test_rest_after_a_press_is_as_long_as_the_press(pins: MockFactory, clock: FakeClock) -> None:
    solenoid = GpioSolenoid(27, clock)
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
        GpioRelay(17, active_high=False),
        GpioSolenoid(27, clock, pwm=False),
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


def test_release_of_a_pin_never_pressed_says_so(pins: MockFactory, clock: FakeClock) -> None:
    solenoid = GpioSolenoid(27, clock)
    assert solenoid.release() == Release(held_s=None, timed_by="host", early=False)


def test_a_press_the_safe_state_ended_is_reported_early(
    pins: MockFactory, clock: FakeClock
) -> None:
    solenoid = GpioSolenoid(27, clock)
    solenoid.press(20)
    clock.sleep(3)
    solenoid.make_safe()  # a signal handler, say: the pin is up before the caller knows
    assert pins.pin(27).state == 0
    assert solenoid.release() == Release(held_s=3.0, timed_by="host", early=True)
    assert solenoid.rest_remaining_s() == pytest.approx(3.0)  # it worked 3 s: it rests 3 s


def test_a_new_press_forgets_an_unreported_early_release(
    pins: MockFactory, clock: FakeClock
) -> None:
    solenoid = GpioSolenoid(27, clock)
    solenoid.press(2)
    clock.sleep(5)  # the guard released it at 2 s; nobody asked
    solenoid.press(2)
    clock.sleep(1)
    assert solenoid.release() == Release(held_s=1.0, timed_by="host", early=False)


# -- the factory ------------------------------------------------------------------------------

GPIO_BAY = '[[bays]]\nname = "A"\npower = { gpio = 17 }\npresser = { gpio = 27 }\n'


@pytest.fixture
def no_pin_factory(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A process where nobody chose a pin factory yet, and a fresh mock header."""
    monkeypatch.setattr(Device, "pin_factory", None)
    monkeypatch.delenv("GPIOZERO_MOCK_PIN_CLASS", raising=False)
    gpio._mock_header.cache_clear()
    yield
    gpio._mock_header().reset()
    gpio._mock_header.cache_clear()


def test_mock_environment_gets_pwm_pins_and_the_environment_is_left_alone(
    no_pin_factory: None, monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    environment = dict(os.environ)
    config = parse_config(GPIO_BAY)
    hw = build_bay(config.bays[0], config, clock, ScriptedOperator())
    try:
        hw.presser.press(5)
        clock.sleep(1)  # past the hit: the hold duty needs a PWM pin
        solenoid = hw.presser
        assert isinstance(solenoid, GpioSolenoid)
        assert isinstance(solenoid.pin, MockPWMPin) and solenoid.pin.state == 0.5
        hw.presser.release()
    finally:
        hw.close()
    header = pin_factory_for()
    assert isinstance(header, MockFactory) and header.pin_class is MockPWMPin
    assert pin_factory_for() is header  # one header per process: a pin used twice collides
    assert dict(os.environ) == environment
    assert Device.pin_factory is None


def test_a_chosen_pin_factory_is_left_to_gpiozero(
    no_pin_factory: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    explicit = MockFactory(pin_class=MockPWMPin)
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    assert pin_factory_for(explicit) is explicit
    monkeypatch.setenv("GPIOZERO_MOCK_PIN_CLASS", "mockpin")  # the user named a pin class
    assert pin_factory_for() is None
    monkeypatch.delenv("GPIOZERO_MOCK_PIN_CLASS")
    monkeypatch.setattr(Device, "pin_factory", explicit)  # a harness set the default
    assert pin_factory_for() is None
    monkeypatch.setattr(Device, "pin_factory", None)
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "lgpio")  # a real Pi: gpiozero's choice
    assert pin_factory_for() is None


def test_factory_builds_named_devices_from_the_config(pins: MockFactory, clock: FakeClock) -> None:
    config = parse_config(GPIO_BAY + '[[bays]]\nname = "B"\npower = "manual"\npresser = "manual"\n')
    gpio_bay = build_bay(config.bays[0], config, clock, ScriptedOperator())
    manual_bay = build_bay(config.bays[1], config, clock, ScriptedOperator())
    assert (gpio_bay.power.name, gpio_bay.presser.name) == ("bay A relay", "bay A solenoid")
    assert isinstance(manual_bay.power, ManualPowerSwitch)
    assert isinstance(manual_bay.presser, ManualPresser)
    gpio_bay.close()


def test_a_board_bay_without_opened_boards_is_a_config_error(clock: FakeClock) -> None:
    config = parse_config(
        '[boards.b1]\nport = "loop://"\n[[bays]]\nname = "A"\n'
        'power = { board = "b1", channel = 1 }\n'
    )
    with pytest.raises(ConfigError, match=r"^rig.toml: bay A: board 'b1' used but no boards"):
        build_bay(config.bays[0], config, clock, ScriptedOperator())


def test_a_pwm_solenoid_is_refused_on_pins_without_pwm(clock: FakeClock) -> None:
    from gpiozero.pins.mock import MockPin

    from rig.errors import ConfigError
    from rig.hardware.gpio import GpioSolenoid, describe_pin_factory, pins_in_use

    plain = MockFactory(pin_class=MockPin)  # like gpiozero's native pins: no PWM
    try:
        assert describe_pin_factory(plain) == ("mock", False)
        with pytest.raises(ConfigError) as refused:
            GpioSolenoid(27, clock, name="bay A solenoid", pin_factory=plain)
        assert str(refused.value) == (
            "bay A solenoid: GPIO27 needs PWM for hit-and-hold, but the pin factory 'mock' has"
            " none: install lgpio (see the README) or set pwm = false"
        )
        assert plain.pin(27).function == "input"  # refused before the pin was touched
        on_off = GpioSolenoid(27, clock, pwm=False, pin_factory=plain)  # plain on/off works
        assert pins_in_use([on_off]) == "GPIO pins: mock pin factory (no PWM)"
        on_off.close()
    finally:
        plain.reset()
    pwm = MockFactory(pin_class=MockPWMPin)
    try:
        solenoid = GpioSolenoid(27, clock, pin_factory=pwm)
        assert pins_in_use([solenoid]) == "GPIO pins: mock pin factory"
        solenoid.close()
    finally:
        pwm.reset()
