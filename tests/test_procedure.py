"""The documented sequence on gpiozero's mock pins and a fake clock: order and durations of
every pin change, and a safe bay on every way out."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from rig.clock import FakeClock
from rig.hardware.base import Presser, Release
from rig.hardware.bay import BayHardware
from rig.hardware.gpio import GpioRelay, GpioSolenoid
from rig.job import Plan, ProcedureName, Result, Verdict
from rig.outcomes import Outcome
from rig.records.store import RecordStore
from rig.safety import SafeGuard
from tests.fakes import ScriptedVerifier, run_bay_job

RELAY, SOLENOID = 17, 27
PLAN = Plan(ProcedureName.POWER_CYCLE_HOLD, off_s=5.0, hold_s=18.0, boot_timeout_s=180.0)


@pytest.fixture
def run(clock: FakeClock, tmp_path: Path) -> Iterator[Callable[..., Result]]:
    """Run one job of the bay's procedure through the job runner, into real records."""
    with RecordStore(tmp_path / "records") as store:

        def run(bay: BayHardware, verifier: ScriptedVerifier, plan: Plan = PLAN) -> Result:
            return run_bay_job(store, clock, hw=bay, verifier=verifier, plan=plan).result

        yield run


def timeline(pin: Any) -> list[tuple[float, Any]]:
    """The pin's changes as (seconds since the history was cleared, state)."""
    t, out = 0.0, []
    for state in pin.states:
        t += state.timestamp
        out.append((round(t, 6), state.state))
    return out


def make_bay(pins: MockFactory, clock: FakeClock, *, pwm: bool = True) -> BayHardware:
    relay = GpioRelay(RELAY, active_high=False)
    solenoid = GpioSolenoid(SOLENOID, clock, pwm=pwm, hold_duty=0.5)
    for pin in (relay.pin, solenoid.pin):
        pin.clear_states()
    return BayHardware("A", relay, solenoid)


def assert_safe(pins: MockFactory) -> None:
    assert pins.pin(SOLENOID).state == 0, "solenoid still driven"
    assert pins.pin(RELAY).state == 1, "relay still energised (active-low pin is low)"


def test_documented_order_and_durations(
    run: Callable[..., Result], pins: MockFactory, clock: FakeClock
) -> None:
    bay = make_bay(pins, clock)
    verifier = ScriptedVerifier(clock)
    result = run(bay, verifier)

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


def test_plain_on_off_solenoid_without_pwm(
    run: Callable[..., Result], pins: MockFactory, clock: FakeClock
) -> None:
    bay = make_bay(pins, clock, pwm=False)
    run(bay, ScriptedVerifier(clock))
    assert timeline(pins.pin(SOLENOID)) == [(0.0, False), (5.0, True), (23.05, False)]
    assert timeline(pins.pin(RELAY)) == [(0.0, True), (0.0, False), (5.05, True)]


def test_running_hold_never_touches_power(
    run: Callable[..., Result], pins: MockFactory, clock: FakeClock
) -> None:
    bay = make_bay(pins, clock)
    plan = Plan(ProcedureName.RUNNING_HOLD, off_s=5.0, hold_s=10.0, boot_timeout_s=180.0)
    result = run(bay, ScriptedVerifier(clock), plan)
    assert result.outcome is Outcome.RESET_VERIFIED
    assert timeline(pins.pin(RELAY)) == [(0.0, True)]
    assert timeline(pins.pin(SOLENOID)) == [(0.0, 0.0), (0.0, 1.0), (0.3, 0.5), (10.0, 0.0)]
    assert result.hold_s == pytest.approx(10.0)


def test_power_that_does_not_cut_is_a_hardware_fault_and_nothing_is_pressed(
    run: Callable[..., Result], pins: MockFactory, clock: FakeClock
) -> None:
    bay = make_bay(pins, clock)
    result = run(bay, ScriptedVerifier(clock, gone=False))
    assert result.outcome is Outcome.HARDWARE_FAULT
    assert result.reason == "power did not cut: the unit kept answering"
    assert timeline(pins.pin(SOLENOID)) == [(0.0, 0.0)]
    assert_safe(pins)


def test_no_response_verdict_from_wait_back_ends_the_job(
    run: Callable[..., Result], pins: MockFactory, clock: FakeClock
) -> None:
    bay = make_bay(pins, clock)
    verdict = Verdict(Outcome.NO_RESPONSE, "not back within 180 s")
    verifier = ScriptedVerifier(clock, back=verdict)
    result = run(bay, verifier)
    assert result.outcome is Outcome.NO_RESPONSE
    assert "judge" not in dict(verifier.calls)
    assert_safe(pins)


# -- every exit path leaves the pins safe ----------------------------------------------------


def test_actuator_error_mid_sequence(
    run: Callable[..., Result], pins: MockFactory, clock: FakeClock, mocker: Any
) -> None:
    bay = make_bay(pins, clock)
    real_on = bay.power.on
    failures = [OSError("GPIO write failed")]

    def flaky_on() -> None:  # the first write fails, the safe-state retry works
        if failures:
            raise failures.pop()
        real_on()

    mocker.patch.object(bay.power, "on", side_effect=flaky_on)
    result = run(bay, ScriptedVerifier(clock))
    assert result.outcome is Outcome.HARDWARE_FAULT
    assert "GPIO write failed" in result.reason
    assert_safe(pins)
    # The pin went up at the failure (5.05 s, still at full drive), before the relay was
    # de-energised.
    assert timeline(pins.pin(SOLENOID)) == [(0.0, 0.0), (5.0, 1.0), (5.05, 0.0)]


def test_ctrl_c_mid_hold(run: Callable[..., Result], pins: MockFactory, clock: FakeClock) -> None:
    bay = make_bay(pins, clock)

    def ctrl_c() -> None:
        raise KeyboardInterrupt

    clock.call_later(15.3, ctrl_c)  # 10 s into the hold
    result = run(bay, ScriptedVerifier(clock))
    assert result.outcome is Outcome.ABORTED
    assert timeline(pins.pin(SOLENOID))[-1] == (15.3, 0.0)
    assert timeline(pins.pin(RELAY))[-1] == (5.05, True)
    assert_safe(pins)


def test_sigterm_mid_hold_makes_safe_before_anything_else(
    run: Callable[..., Result], pins: MockFactory, clock: FakeClock
) -> None:
    bay = make_bay(pins, clock)
    clock.call_later(15.3, lambda: os.kill(os.getpid(), signal.SIGTERM))
    with SafeGuard([bay]) as guard:
        result = run(bay, ScriptedVerifier(clock))
    assert guard.signalled == "SIGTERM"
    assert result.outcome is Outcome.ABORTED
    assert result.reason == "stopped by SIGTERM"
    assert timeline(pins.pin(SOLENOID))[-1] == (15.3, 0.0)  # at the signal, not later
    assert_safe(pins)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handler restored


def test_bug_in_a_verifier_still_ends_safe(
    run: Callable[..., Result], pins: MockFactory, clock: FakeClock, mocker: Any
) -> None:
    bay = make_bay(pins, clock)
    verifier = ScriptedVerifier(clock)
    mocker.patch.object(verifier, "wait_back", side_effect=ZeroDivisionError("oops"))
    result = run(bay, verifier)
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


# -- what the presser's release reports ------------------------------------------------------


class SelfTimedPresser(Presser):
    """A presser that times itself, as the board does: its clock runs `skew_s` ahead per press,
    or it reports that its guard let go at `early_at_s` into the press."""

    def __init__(self, clock: FakeClock, *, skew_s: float = 0.0, early_at_s: float = 0.0) -> None:
        self._clock = clock
        self._skew_s = skew_s
        self._early_at_s = early_at_s
        self._pressed_at: float | None = None

    def press(self, max_s: float) -> None:
        self._pressed_at = self._clock.monotonic()

    def release(self) -> Release:
        if self._pressed_at is None:
            return Release(None, "board")
        held_s = self._clock.monotonic() - self._pressed_at + self._skew_s
        self._pressed_at = None
        if self._early_at_s:
            return Release(self._early_at_s, "board", early=True)
        return Release(held_s, "board")

    def is_pressed(self) -> bool:
        return self._pressed_at is not None


def self_timed_bay(pins: MockFactory, presser: Presser) -> BayHardware:
    return BayHardware("A", GpioRelay(RELAY, active_high=False), presser)


def test_a_self_timed_hold_is_its_press_less_the_press_to_power_on_offset(
    run: Callable[..., Result], pins: MockFactory, clock: FakeClock
) -> None:
    bay = self_timed_bay(pins, SelfTimedPresser(clock, skew_s=0.002))
    result = run(bay, ScriptedVerifier(clock))
    assert result.outcome is Outcome.RESET_VERIFIED
    hold = next(s for s in result.steps if s.name == "hold").details
    # Pressed at 5.0, power on at 5.05 (the plunger's travel), released at 23.05; the presser's
    # own clock says 18.052 s down, so the hold from power-on was 18.002 s by that clock.
    assert hold["timed_by"] == "board"
    assert hold["pressed_s"] == pytest.approx(18.052)
    assert hold["hold_s"] == pytest.approx(18.002) == result.hold_s
    assert hold["hold_error_ms"] == pytest.approx(2.0)
    assert "auto_released" not in hold


def test_a_running_hold_timed_by_the_presser_counts_from_the_press(
    run: Callable[..., Result], pins: MockFactory, clock: FakeClock
) -> None:
    bay = self_timed_bay(pins, SelfTimedPresser(clock, skew_s=-0.001))
    plan = Plan(ProcedureName.RUNNING_HOLD, off_s=5.0, hold_s=10.0, boot_timeout_s=180.0)
    result = run(bay, ScriptedVerifier(clock), plan)
    assert result.hold_s == pytest.approx(9.999)


def test_a_hold_its_guard_ended_early_is_a_hardware_fault_on_record(
    run: Callable[..., Result], pins: MockFactory, clock: FakeClock
) -> None:
    bay = self_timed_bay(pins, SelfTimedPresser(clock, early_at_s=12.5))
    result = run(bay, ScriptedVerifier(clock))
    assert result.outcome is Outcome.HARDWARE_FAULT
    assert result.reason == "the solenoid was released early by its safety guard"
    assert result.hold_s is None
    hold = next(s for s in result.steps if s.name == "hold").details
    assert hold == {"target_hold_s": 18.0, "auto_released": True, "pressed_s": 12.5}
    assert pins.pin(RELAY).state == 1  # the camera has its power back


def test_the_rest_overlaps_the_next_units_identification_and_power_off(
    run: Callable[..., Result], pins: MockFactory, clock: FakeClock
) -> None:
    bay = make_bay(pins, clock)
    first = run(bay, ScriptedVerifier(clock))
    released = next(s for s in first.steps if s.name == "hold").ended_mono
    assert released is not None
    second = run(bay, ScriptedVerifier(clock))
    steps = {s.name: s for s in second.steps}
    names = [s.name for s in second.steps]
    # Identified and cut at once; only the press waits for the rest (18.05 s, the last press).
    assert names[:4] == ["identify", "power_off", "cooldown", "press"]
    assert steps["identify"].started_mono == pytest.approx(released)
    assert steps["press"].started_mono == pytest.approx(released + 18.05)
    assert steps["cooldown"].details["rest_s"] == pytest.approx(18.05 - 5.0)
    assert second.outcome is Outcome.RESET_VERIFIED
