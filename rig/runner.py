"""The one job runner: every kind of reset is a job run here (docs/architecture.md).

The runner starts the job's record, streams each step to the store the moment it ends, names
the unit in the record as soon as the procedure knows it, turns whatever the procedure raised
into an outcome in one place (`verdict_for`), puts the bay in its safe state, and finishes the
record. A procedure is a strategy (rig.procedures): it runs its steps and returns a verdict.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from rig.clock import Clock
from rig.errors import (
    Aborted,
    CooldownError,
    HardwareFault,
    NetworkError,
    RigError,
    SafetyLimitError,
    UnitNotIdentified,
)
from rig.job import JobReport, Plan, Result, Step, StepName, Unit, Verdict
from rig.outcomes import Outcome
from rig.records.store import RecordError, RecordStore

log = logging.getLogger(__name__)

StageListener = Callable[[str, float | None], None]  # (stage, monotonic deadline or None)


class Stop(Exception):
    """A procedure ends its job early with this verdict (the unit's answer, not our error)."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.reason)
        self.verdict = verdict


def stop(outcome: Outcome, reason: str, evidence: dict[str, Any] | None = None) -> Stop:
    return Stop(Verdict(outcome, reason, evidence or {}))


class JobContext:
    """What a procedure gets from the runner: the steps, the stage display and the clock."""

    def __init__(
        self,
        clock: Clock,
        sink: Callable[[Step], None],
        on_stage: StageListener | None = None,
    ) -> None:
        self.clock = clock
        self._sink = sink
        self._on_stage = on_stage
        self.steps: list[Step] = []

    @contextmanager
    def step(self, name: StepName, **details: Any) -> Iterator[dict[str, Any]]:
        """Record a step: its monotonic start and end, its wall time, the details the body
        adds, and the error that ended it, handed to the store as soon as it ends."""
        step = Step(name.value, self.clock.monotonic(), self.clock.wall(), details=dict(details))
        try:
            yield step.details
        except BaseException as exc:
            step.error = str(exc) or type(exc).__name__
            raise
        finally:
            step.ended_mono = self.clock.monotonic()
            self.steps.append(step)
            self._sink(step)

    def stage(self, name: str, deadline: float | None = None) -> None:
        if self._on_stage is not None:
            self._on_stage(name, deadline)


class Procedure(Protocol):
    """A strategy the runner runs (rig.procedures holds them, one module each)."""

    plan: Plan

    @property
    def unit(self) -> Unit:
        """What is known of the unit so far (the runner records it as it changes)."""

    @property
    def evidence(self) -> list[dict[str, Any]]: ...

    @property
    def hold_s(self) -> float | None:
        """The hold actually applied, once known; None for a procedure that holds nothing."""

    def run(self, job: JobContext) -> Verdict: ...

    def make_safe(self, job: JobContext) -> None:
        """Put what the procedure moved in its safe state; called on every exit path."""

    def aborted_note(self) -> str | None:
        """What an aborted job's reason must add (a reset the unit accepted but not applied)."""


def verdict_for(exc: BaseException) -> Verdict:
    """The one mapping of what a procedure raised to the job's outcome."""
    if isinstance(exc, Stop):
        return exc.verdict
    if isinstance(exc, UnitNotIdentified):
        return Verdict(Outcome.WRONG_DEVICE, str(exc))
    if isinstance(exc, Aborted | KeyboardInterrupt):
        return Verdict(Outcome.ABORTED, str(exc) or "interrupted by Ctrl-C")
    if isinstance(exc, NetworkError):
        # The rig could not reach the unit (a socket that cannot send, a closed client): it
        # is not an actuator's fault, and nothing proves the unit answered.
        return Verdict(Outcome.NO_RESPONSE, f"network error: {exc}")
    if isinstance(exc, HardwareFault | SafetyLimitError | CooldownError | OSError | RigError):
        return Verdict(Outcome.HARDWARE_FAULT, str(exc) or type(exc).__name__)
    # A bug of ours must still end in a safe bay and an honest record. (No locals logged.)
    log.debug("unexpected error\n%s", traceback.format_exc())
    return Verdict(Outcome.ABORTED, f"internal error: {type(exc).__name__}: {exc}")


class JobRunner:
    """Runs jobs into one store on one clock, for one station."""

    def __init__(self, store: RecordStore, clock: Clock, *, station: str) -> None:
        self.store = store
        self.clock = clock
        self.station = station

    def run(
        self,
        procedure: Procedure,
        *,
        bay: str | None,
        profile: str,
        attempt: int = 1,
        first_job_id: int | None = None,
        on_stage: StageListener | None = None,
        where: str = "",
    ) -> JobReport:
        store, clock = self.store, self.clock
        job_id = store.start_job(
            station=self.station,
            bay=bay,
            profile=profile,
            plan=procedure.plan,
            wall=clock.wall(),
            attempt=attempt,
            first_job_id=first_job_id,
        )
        recorded, recorded_plan = Unit(), procedure.plan

        def commit(step: Step) -> None:
            nonlocal recorded, recorded_plan
            store.add_step(job_id, step)
            # Who the unit is goes on record as soon as it is known: its answer before the
            # cut, the unit that vanished at the cut, the one found by the MAC given.
            if procedure.unit != recorded:
                recorded = Unit(**procedure.unit.as_dict())
                store.set_unit(job_id, recorded)
            # So does a plan the procedure changed once it knew the unit (a learned hold).
            if procedure.plan != recorded_plan:
                recorded_plan = procedure.plan
                store.set_plan(job_id, recorded_plan)

        job = JobContext(clock, commit, on_stage)
        try:
            try:
                verdict = procedure.run(job)
            finally:
                procedure.make_safe(job)
        except RecordError:
            raise  # the records cannot be written: the command stops and says so
        except BaseException as exc:
            verdict = verdict_for(exc)
            if verdict.outcome is Outcome.ABORTED and (note := procedure.aborted_note()):
                verdict = Verdict(verdict.outcome, f"{verdict.reason}; {note}", verdict.evidence)
        result = Result(
            outcome=verdict.outcome,
            reason=verdict.reason,
            unit=procedure.unit,
            hold_s=procedure.hold_s,
            steps=job.steps,
            evidence=procedure.evidence,
            # The QA pass says whether its checks passed (rig.procedures.qa); others say nothing.
            qa=getattr(procedure, "qa", None),
            qa_check=getattr(procedure, "qa_check", None),
        )
        store.finish_job(job_id, result, clock.wall())
        return JobReport(job_id, bay, result, where=where)
