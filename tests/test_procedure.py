"""The documented sequence on gpiozero's mock pins and a fake clock: order and durations of
every pin change, and a safe bay on every way out."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from rig.clock import FakeClock
from rig.config import GpioPower, GpioPresser
from rig.hardware.bay import BayHardware
from rig.hardware.gpio import GpioRelay, GpioSolenoid
from rig.outcomes import Outcome
from rig.procedure import Plan, Procedure
from rig.safety import SafeGuard
from rig.verify.base import Verdict
from tests.fakes import ScriptedVerifier

RELAY, SOLENOID = 17, 27
PLAN = Plan(procedure="power-cycle-hold", off_s=5.0, hold_s=18.0, boot_timeout_s=180.0)


def timeline(pin: Any) -> list[tuple[float, Any]]:
    """The pin's changes as (seconds since the history was cleared, state)."""
    t, out = 0.0, []
    for state in pin.states:
        t += state.timestamp
        out.append((round(t, 6), state.state))
    return out


def make_bay(pins: MockFactory, clock: FakeClock, *, pwm: bool = True) -> BayHardware:
    relay = GpioRelay(GpioPower(gpio=RELAY, active_high=False))
    solenoid = GpioSolenoid(GpioPresser(gpio=SOLENOID, pwm=pwm, hold_duty=0.5), clock)
    for pin in (relay.pin, solenoid.pin):
        pin.clear_states()
    return BayHardware("A", relay, solenoid)


def assert_safe(pins: MockFactory) -> None:
    assert pins.pin(SOLENOID).state == 0, "solenoid still driven"
    assert pins.pin(RELAY).state == 1, "relay still energised (active-low pin is low)"


def test_documented_order_and_durations(pins: MockFactory, clock: FakeClock) -> None:
    bay = make_bay(pins, clock)
    verifier = ScriptedVerifier(clock)
    result = Procedure(bay, verifier, PLAN, clock).run()

    assert result.outcome is Outcome.RESET_VERIFIED
    # Relay (active-low): high = de-energised = camera powered. Cut at 0, back at 5.05, once
    # the plunger has travelled (50 ms).
    assert timeline(pins.pin(RELAY)) == [(0.0, True), (0.0, False), (5.05, True)]
    # Solenoid: pin down after off_s, full drive 300 ms, hold duty, released 18 s after power-on.
    assert timeline(pins.pin(SOLENOID)) == [(0.0, 0.0), (5.0, 1.0), (5.3, 0.5), (23.05, 0.0)]
    assert result.hold_s == pytest.approx(18.0)
    assert [name for name, _ in verifier.calls] == ["identify", "wait_gone", "wait_back", "judge"]
    assert dict(verifier.calls)["wait_back"] == pytest.approx(1000 + 23.05)
    names = [s.name for s in result.steps]
    assert names == [
        "identify",
        "power_off",
        "press",
        "power_on",
        "hold",
        "wait_back",
        "verify",
        "safe",
    ]
    hold = next(s for s in result.steps if s.name == "hold")
    assert hold.details["hold_s"] == pytest.approx(18.0)
    assert hold.details["hold_error_ms"] == pytest.approx(0.0)


def test_plain_on_off_solenoid_without_pwm(pins: MockFactory, clock: FakeClock) -> None:
    bay = make_bay(pins, clock, pwm=False)
    Procedure(bay, ScriptedVerifier(clock), PLAN, clock).run()
    assert timeline(pins.pin(SOLENOID)) == [(0.0, False), (5.0, True), (23.05, False)]
    assert timeline(pins.pin(RELAY)) == [(0.0, True), (0.0, False), (5.05, True)]


def test_running_hold_never_touches_power(pins: MockFactory, clock: FakeClock) -> None:
    bay = make_bay(pins, clock)
    plan = Plan(procedure="running-hold", off_s=5.0, hold_s=10.0, boot_timeout_s=180.0)
    result = Procedure(bay, ScriptedVerifier(clock), plan, clock).run()
    assert result.outcome is Outcome.RESET_VERIFIED
    assert timeline(pins.pin(RELAY)) == [(0.0, True)]
    assert timeline(pins.pin(SOLENOID)) == [(0.0, 0.0), (0.0, 1.0), (0.3, 0.5), (10.0, 0.0)]
    assert result.hold_s == pytest.approx(10.0)


def test_power_that_does_not_cut_is_a_hardware_fault_and_nothing_is_pressed(
    pins: MockFactory, clock: FakeClock
) -> None:
    bay = make_bay(pins, clock)
    result = Procedure(bay, ScriptedVerifier(clock, gone=False), PLAN, clock).run()
    assert result.outcome is Outcome.HARDWARE_FAULT
    assert result.reason == "power did not cut: the unit kept answering"
    assert timeline(pins.pin(SOLENOID)) == [(0.0, 0.0)]
    assert_safe(pins)


def test_no_response_verdict_from_wait_back_ends_the_job(
    pins: MockFactory, clock: FakeClock
) -> None:
    bay = make_bay(pins, clock)
    verdict = Verdict(Outcome.NO_RESPONSE, "not back within 180 s")
    verifier = ScriptedVerifier(clock, back=verdict)
    result = Procedure(bay, verifier, PLAN, clock).run()
    assert result.outcome is Outcome.NO_RESPONSE
    assert "judge" not in dict(verifier.calls)
    assert_safe(pins)


# -- every exit path leaves the pins safe ----------------------------------------------------


def test_actuator_error_mid_sequence(pins: MockFactory, clock: FakeClock, mocker: Any) -> None:
    bay = make_bay(pins, clock)
    real_on = bay.power.on
    failures = [OSError("GPIO write failed")]

    def flaky_on() -> None:  # the first write fails, the safe-state retry works
        if failures:
            raise failures.pop()
        real_on()

    mocker.patch.object(bay.power, "on", side_effect=flaky_on)
    result = Procedure(bay, ScriptedVerifier(clock), PLAN, clock).run()
    assert result.outcome is Outcome.HARDWARE_FAULT
    assert "GPIO write failed" in result.reason
    assert_safe(pins)
    # The pin went up at the failure (5.05 s, still at full drive), before the relay was
    # de-energised.
    assert timeline(pins.pin(SOLENOID)) == [(0.0, 0.0), (5.0, 1.0), (5.05, 0.0)]


def test_ctrl_c_mid_hold(pins: MockFactory, clock: FakeClock) -> None:
    bay = make_bay(pins, clock)

    def ctrl_c() -> None:
        raise KeyboardInterrupt

    clock.call_later(15.3, ctrl_c)  # 10 s into the hold
    result = Procedure(bay, ScriptedVerifier(clock), PLAN, clock).run()
    assert result.outcome is Outcome.ABORTED
    assert timeline(pins.pin(SOLENOID))[-1] == (15.3, 0.0)
    assert timeline(pins.pin(RELAY))[-1] == (5.05, True)
    assert_safe(pins)


def test_sigterm_mid_hold_makes_safe_before_anything_else(
    pins: MockFactory, clock: FakeClock
) -> None:
    bay = make_bay(pins, clock)
    clock.call_later(15.3, lambda: os.kill(os.getpid(), signal.SIGTERM))
    with SafeGuard([bay]) as guard:
        result = Procedure(bay, ScriptedVerifier(clock), PLAN, clock).run()
    assert guard.signalled == "SIGTERM"
    assert result.outcome is Outcome.ABORTED
    assert result.reason == "stopped by SIGTERM"
    assert timeline(pins.pin(SOLENOID))[-1] == (15.3, 0.0)  # at the signal, not later
    assert_safe(pins)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handler restored


def test_bug_in_a_verifier_still_ends_safe(
    pins: MockFactory, clock: FakeClock, mocker: Any
) -> None:
    bay = make_bay(pins, clock)
    verifier = ScriptedVerifier(clock)
    mocker.patch.object(verifier, "wait_back", side_effect=ZeroDivisionError("oops"))
    result = Procedure(bay, verifier, PLAN, clock).run()
    assert result.outcome is Outcome.ABORTED
    assert result.reason.startswith("internal error: ZeroDivisionError")
    assert_safe(pins)


def test_exception_escaping_a_safeguard_block_is_made_safe(
    pins: MockFactory, clock: FakeClock
) -> None:
    bay = make_bay(pins, clock)
    with pytest.raises(RuntimeError), SafeGuard([bay]):
        bay.power.off()
        bay.presser.press(20)
        raise RuntimeError("crash outside the procedure")
    assert_safe(pins)


def test_safe_order_is_pin_up_before_power_back(pins: MockFactory, clock: FakeClock) -> None:
    bay = make_bay(pins, clock)
    order: list[str] = []
    pins.pin(SOLENOID).clear_states()
    bay.power.off()
    bay.presser.press(20)
    real_up, real_on = bay.presser._up, bay.power.on  # type: ignore[attr-defined]
    bay.presser._up = lambda: (order.append("pin up"), real_up())  # type: ignore[attr-defined]
    bay.power.on = lambda: (order.append("power on"), real_on())  # type: ignore[method-assign]
    bay.make_safe()
    # Power back while the pin is still down is the reset gesture itself: never in that order.
    assert order == ["pin up", "power on"]
