"""The reset procedure (DESIGN.md §1): pure logic over the bay's interfaces and a Clock.

This is labgrid's Strategy: the vendor's sequence, step by step, each step recorded with its
monotonic start and end, its wall time and its details, and handed to a sink (the records
store commits it) as soon as it ends, so a crash loses nothing that finished.

It never imports gpiozero, serial or requests.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rig.clock import Clock
from rig.errors import (
    Aborted,
    CooldownError,
    HardwareFault,
    RigError,
    SafetyLimitError,
    UnitNotIdentified,
)
from rig.hardware.base import MAX_PRESS_S
from rig.hardware.bay import BayHardware
from rig.outcomes import Outcome
from rig.verify.base import Unit, Verdict, Verifier

log = logging.getLogger(__name__)

POWER_CYCLE_HOLD = "power-cycle-hold"
RUNNING_HOLD = "running-hold"
# A push solenoid's plunger ends its stroke in 10-30 ms: power returns only once the pin is
# really down, this long after the press began.
TRAVEL_S = 0.05
# The pin goes down before power-on; this much slack on top of hold_s lets the normal release
# come first, while the backend's own guard still releases it if the procedure hangs.
GUARD_MARGIN_S = 1.5


@dataclass(frozen=True)
class Plan:
    procedure: str
    off_s: float
    hold_s: float
    boot_timeout_s: float
    scanned_serial: str | None = None


@dataclass
class Step:
    name: str
    started_mono: float
    started_wall: float
    ended_mono: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def duration_s(self) -> float | None:
        return None if self.ended_mono is None else self.ended_mono - self.started_mono


@dataclass
class Result:
    outcome: Outcome
    reason: str
    unit: Unit
    hold_s: float | None  # the hold actually applied: power-on to release
    steps: list[Step]
    evidence: list[dict[str, Any]]


StepSink = Callable[[Step], None]
StageListener = Callable[[str, float | None], None]


class _Stop(Exception):
    """Ends the procedure early with a verdict (not an error of ours)."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.reason)
        self.verdict = verdict


class Recorder:
    def __init__(self, clock: Clock, sink: StepSink | None = None) -> None:
        self._clock = clock
        self._sink = sink
        self.steps: list[Step] = []

    @contextmanager
    def step(self, name: str, **details: Any) -> Iterator[dict[str, Any]]:
        step = Step(name, self._clock.monotonic(), self._clock.wall(), details=dict(details))
        try:
            yield step.details
        except BaseException as exc:
            step.error = str(exc) or type(exc).__name__
            raise
        finally:
            step.ended_mono = self._clock.monotonic()
            self.steps.append(step)
            if self._sink is not None:
                self._sink(step)


class Procedure:
    """One attempt at resetting the unit in one bay."""

    def __init__(
        self,
        bay: BayHardware,
        verifier: Verifier,
        plan: Plan,
        clock: Clock,
        *,
        on_step: StepSink | None = None,
        on_stage: StageListener | None = None,
        before_cut: Callable[[], None] | None = None,
    ) -> None:
        self.bay = bay
        self.verifier = verifier
        self.plan = plan
        self.clock = clock
        self.recorder = Recorder(clock, on_step)
        self._on_stage = on_stage
        # The station staggers the power cuts of its bays (identity by "the unit that vanished"
        # needs one cut at a time); it blocks here until this bay's turn.
        self._before_cut = before_cut
        self.hold_s: float | None = None

    def _stage(self, name: str, deadline: float | None = None) -> None:
        if self._on_stage is not None:
            self._on_stage(name, deadline)

    def run(self) -> Result:
        verdict: Verdict
        try:
            self._rest_if_needed()
            if self.plan.procedure == RUNNING_HOLD:
                self._running_hold()
            else:
                self._power_cycle_hold()
            verdict = self._verify()
        except _Stop as stop:
            verdict = stop.verdict
        except UnitNotIdentified as exc:
            verdict = Verdict(Outcome.WRONG_DEVICE, str(exc))
        except (Aborted, KeyboardInterrupt) as exc:
            verdict = Verdict(Outcome.ABORTED, str(exc) or "interrupted by Ctrl-C")
        except (HardwareFault, SafetyLimitError, CooldownError, OSError) as exc:
            verdict = Verdict(Outcome.HARDWARE_FAULT, str(exc) or type(exc).__name__)
        except RigError as exc:
            verdict = Verdict(Outcome.HARDWARE_FAULT, str(exc))
        except Exception as exc:
            # A bug of ours must still end in a safe bay and an honest record.
            log.debug("unexpected error\n%s", traceback.format_exc())
            verdict = Verdict(Outcome.ABORTED, f"internal error: {type(exc).__name__}: {exc}")
        finally:
            self._make_safe()
        return Result(
            outcome=verdict.outcome,
            reason=verdict.reason,
            unit=self.verifier.unit,
            hold_s=self.hold_s,
            steps=self.recorder.steps,
            evidence=self.verifier.evidence,
        )

    # -- the steps -----------------------------------------------------------------------

    def _rest_if_needed(self) -> None:
        rest_s = self.bay.presser.rest_remaining_s()
        if rest_s > 0:
            with self.recorder.step("cooldown", rest_s=round(rest_s, 3)):
                self._stage("solenoid resting", self.clock.monotonic() + rest_s)
                self.clock.sleep(rest_s)

    def _identify(self) -> None:
        with self.recorder.step("identify", scanned_serial=self.plan.scanned_serial) as d:
            self._stage("identifying the unit")
            unit = self.verifier.identify(self.plan.scanned_serial)
            d.update(unit.as_dict())

    def _power_cycle_hold(self) -> None:
        plan, power, presser = self.plan, self.bay.power, self.bay.presser
        self._identify()
        if self._before_cut is not None:
            self._stage("waiting for a power-cut slot")
            self._before_cut()
        with self.recorder.step("power_off", off_s=plan.off_s) as d:
            power.off()
            cut_at = self.clock.monotonic()
            self._stage("power off", cut_at + plan.off_s)
            gone = self.verifier.wait_gone(plan.off_s)
            self.clock.sleep_until(cut_at + plan.off_s)
            d["unit_gone"] = gone
            d["off_s"] = round(self.clock.monotonic() - cut_at, 4)
        if not gone:
            raise _Stop(
                Verdict(Outcome.HARDWARE_FAULT, "power did not cut: the unit kept answering")
            )
        with self.recorder.step("press", max_s=self._guard_s()):
            self._stage("pressing")
            press_sent = self.clock.monotonic()
            presser.press(self._guard_s())
            self.clock.sleep_until(press_sent + TRAVEL_S)
        with self.recorder.step("power_on"):
            on_sent = self.clock.monotonic()
            power.on()
            on_at = self.clock.monotonic()
        # A presser that times itself (the board) counts from its PRESS; the power came on
        # (on_sent - press_sent) later by the same reckoning.
        self._hold_and_release(since=on_at, own_clock_offset_s=on_sent - press_sent)

    def _running_hold(self) -> None:
        self._identify()
        with self.recorder.step("press", max_s=self._guard_s()):
            self._stage("pressing")
            down_at = self.clock.monotonic()  # the pin goes down at once; the hit is hold
            self.bay.presser.press(self._guard_s())
        # There is no power-on: the hold counts from the press, on either clock.
        self._hold_and_release(since=down_at, own_clock_offset_s=0.0)

    def _hold_and_release(self, since: float, own_clock_offset_s: float) -> None:
        """Hold until `since + hold_s`, then release, with nothing in between: the release
        shares the hold's step so no record write (an fsync) can lengthen the hold."""
        presser, target_s = self.bay.presser, self.plan.hold_s
        with self.recorder.step("hold", target_hold_s=target_s) as d:
            self._stage("holding", since + target_s)
            self.clock.sleep_until(since + target_s)
            auto = presser.auto_released or not presser.is_pressed()
            pressed_s = presser.release()
            released_at = self.clock.monotonic()
            if auto:
                d["auto_released"] = True  # the hold ended earlier, at the guard's moment
            else:
                if presser.times_itself and pressed_s is not None:
                    self.hold_s = round(pressed_s - own_clock_offset_s, 4)
                    d["timed_by"] = "board"
                else:
                    self.hold_s = round(released_at - since, 4)
                d["hold_s"] = self.hold_s
                d["hold_error_ms"] = round((self.hold_s - target_s) * 1000, 1)
            if pressed_s is not None:
                d["pressed_s"] = round(pressed_s, 4)
        if auto:
            raise HardwareFault("the solenoid was released early by its safety guard")

    def _verify(self) -> Verdict:
        timeout_s = self.plan.boot_timeout_s
        with self.recorder.step("wait_back", boot_timeout_s=timeout_s) as d:
            self._stage("waiting for the unit to boot", self.clock.monotonic() + timeout_s)
            verdict = self.verifier.wait_back(timeout_s)
            d["back"] = verdict is None
        if verdict is not None:
            return verdict
        with self.recorder.step("verify") as d:
            self._stage("checking factory state")
            verdict = self.verifier.judge()
            d.update(outcome=verdict.outcome.value, reason=verdict.reason, **verdict.evidence)
        return verdict

    def _make_safe(self) -> None:
        with self.recorder.step("safe") as d:
            problems = self.bay.make_safe()
            d["safe"] = self.bay.is_safe()
            if problems:
                d["problems"] = problems

    def _guard_s(self) -> float:
        return min(MAX_PRESS_S, self.plan.hold_s + GUARD_MARGIN_S)
