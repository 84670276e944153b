"""A unit in a bay: its plan, its attempts (escalating to longer holds), each a job of the
runner (rig.runner) with the bay's procedure (rig.procedures). The first attempt's hold may be
learned from the unit's model (rig.holds); the escalation goes on from the hold it used."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from rig.clock import Clock
from rig.config import BayConfig
from rig.hardware.bay import BayHardware
from rig.holds import PROFILE_BASIS, HoldLearner
from rig.job import JobReport, Plan, ProcedureName
from rig.outcomes import Outcome
from rig.procedures import BAY_PROCEDURES
from rig.records.store import RecordStore
from rig.runner import JobRunner, StageListener
from rig.verify.base import Verifier

if TYPE_CHECKING:
    from rig.qa.setup import QaRun


def plan_for(
    bay: BayConfig,
    *,
    scanned_serial: str | None,
    hold_s: float | None = None,
    hold_basis: str | None = None,
) -> Plan:
    return Plan(
        procedure=ProcedureName(bay.procedure),
        off_s=bay.off_s,
        hold_s=hold_s if hold_s is not None else bay.hold_s,
        boot_timeout_s=bay.boot_timeout_s,
        scanned_serial=scanned_serial,
        hold_basis=hold_basis,
    )


def carry_over_rest(store: RecordStore, hw: BayHardware, clock: Clock) -> None:
    """A solenoid that worked in an earlier run must still rest (the records remember it)."""
    last = store.last_press(hw.name)
    if last is None:
        return
    released_wall, pressed_s = last
    remaining = released_wall + pressed_s - clock.wall()
    if remaining > 0:
        hw.presser.rest_until(clock.monotonic() + remaining)


def escalation_holds(bay: BayConfig, after_s: float) -> list[float]:
    """The holds to retry with, in order, once an attempt at `after_s` ended `not_reset`: the
    bay's hold and its escalation list, each longer than `after_s` (a learned 30 s start does
    not go back to 18 s; a learned start shorter than the bay's hold retries at it)."""
    return sorted({h for h in (bay.hold_s, *bay.escalation_holds_s) if h > after_s})


def run_unit(
    runner: JobRunner,
    *,
    bay: BayConfig,
    hw: BayHardware,
    make_verifier: Callable[[], Verifier],
    scanned_serial: str | None,
    retry: bool,
    on_stage: StageListener | None = None,
    before_cut: Callable[[], None] | None = None,
    qa: QaRun | None = None,
    learner: HoldLearner | None = None,
) -> list[JobReport]:
    """One unit: an attempt, and with `retry` one more per longer hold while it ends
    `not_reset`. Each attempt is its own job, linked to the first; the rest between presses
    is the presser's (the procedure waits it out).

    With `qa` (and the bay's unit wanting it), a proven reset is followed by the QA pass, its
    own job linked to the first; a unit the pass may have left activated gets one more hard
    reset with the hold that worked: it leaves the bay in factory state whatever was found.

    With a `learner` (rig.holds), the first attempt's hold is chosen once the unit is known,
    from its model's records; the escalation goes on from the hold it actually used."""
    reports: list[JobReport] = []
    targets: list[float] = []  # each attempt's target hold, as its plan ended up
    first_job_id: int | None = None

    def attempt_with(attempt: int, plan: Plan, *, learn: bool = False) -> JobReport:
        verifier = make_verifier()
        choose_hold = partial(learner.choose, bay) if learn and learner is not None else None
        try:
            procedure = BAY_PROCEDURES[plan.procedure](
                hw, verifier, plan, before_cut=before_cut, choose_hold=choose_hold
            )
            report = runner.run(
                procedure,
                bay=bay.name,
                profile=bay.profile.model,
                attempt=attempt,
                first_job_id=first_job_id,
                on_stage=on_stage,
            )
        finally:
            verifier.close()
        reports.append(report)
        targets.append(procedure.plan.hold_s)
        return report

    def retry_plan(hold_s: float, basis: str) -> Plan:
        return plan_for(bay, scanned_serial=scanned_serial, hold_s=hold_s, hold_basis=basis)

    # Learning on, attempt 1's plan says where its hold came from (rig.holds sets it once the
    # unit is known); off, it holds the bay's hold_s and names no basis, as it always did.
    first_basis = None if learner is None else PROFILE_BASIS
    report = attempt_with(
        1, plan_for(bay, scanned_serial=scanned_serial, hold_basis=first_basis), learn=True
    )
    first_job_id = report.job_id
    for hold_s in escalation_holds(bay, targets[0]) if retry else []:
        if reports[-1].result.outcome is not Outcome.NOT_RESET:
            break
        basis = f"escalation: attempt {len(reports)} at {targets[-1]:g} s ended not_reset"
        attempt_with(len(reports) + 1, retry_plan(hold_s, basis))
    verified = reports[-1]
    if qa is None or verified.result.outcome is not Outcome.RESET_VERIFIED:
        return reports
    if not qa.request.wanted(bay):
        return reports
    assert first_job_id is not None
    qa_report, left_activated = qa.run(
        runner,
        bay=bay,
        unit=verified.result.unit,
        scanned_serial=scanned_serial,
        attempt=len(reports) + 1,
        first_job_id=first_job_id,
        on_stage=on_stage,
    )
    reports.append(qa_report)
    if left_activated and qa_report.result.outcome is not Outcome.ABORTED:
        # The restore over the network was not proven: the bay does what it is for, with the
        # hold that verified (a learned one included: targets follow each attempt's plan).
        worked_hold_s = targets[-1]  # the attempt before the QA job
        basis = f"the hold that verified job {verified.job_id}"
        attempt_with(len(reports) + 1, retry_plan(worked_hold_s, basis))
    return reports
