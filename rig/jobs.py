"""A unit in a bay: its plan, its attempts (escalating to longer holds), each a job of the
runner (rig.runner) with the bay's procedure (rig.procedures)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from rig.clock import Clock
from rig.config import BayConfig
from rig.hardware.bay import BayHardware
from rig.job import JobReport, Plan, ProcedureName
from rig.outcomes import Outcome
from rig.procedures import BAY_PROCEDURES
from rig.records.store import RecordStore
from rig.runner import JobRunner, StageListener
from rig.verify.base import Verifier

if TYPE_CHECKING:
    from rig.qa.setup import QaRun


def plan_for(bay: BayConfig, *, scanned_serial: str | None, hold_s: float | None = None) -> Plan:
    return Plan(
        procedure=ProcedureName(bay.procedure),
        off_s=bay.off_s,
        hold_s=hold_s if hold_s is not None else bay.hold_s,
        boot_timeout_s=bay.boot_timeout_s,
        scanned_serial=scanned_serial,
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


def escalation_holds(bay: BayConfig) -> list[float]:
    """The bay's hold, then each longer hold of its escalation list, in order."""
    longer = sorted({h for h in bay.escalation_holds_s if h > bay.hold_s})
    return [bay.hold_s, *longer]


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
) -> list[JobReport]:
    """One unit: an attempt, and with `retry` one more per longer hold while it ends
    `not_reset`. Each attempt is its own job, linked to the first; the rest between presses
    is the presser's (the procedure waits it out).

    With `qa` (and the bay's unit wanting it), a proven reset is followed by the QA pass, its
    own job linked to the first; a unit the pass may have left activated gets one more hard
    reset with the hold that worked: it leaves the bay in factory state whatever was found."""
    holds = escalation_holds(bay) if retry else [bay.hold_s]
    reports: list[JobReport] = []
    first_job_id: int | None = None

    def attempt_with(attempt: int, hold_s: float) -> JobReport:
        plan = plan_for(bay, scanned_serial=scanned_serial, hold_s=hold_s)
        verifier = make_verifier()
        try:
            procedure = BAY_PROCEDURES[plan.procedure](hw, verifier, plan, before_cut=before_cut)
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
        return report

    for attempt, hold_s in enumerate(holds, start=1):
        report = attempt_with(attempt, hold_s)
        reports.append(report)
        first_job_id = first_job_id or report.job_id
        if report.result.outcome is not Outcome.NOT_RESET:
            break
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
        # The restore over the network was not proven: the bay does what it is for.
        worked_hold_s = holds[len(reports) - 2]  # the attempt before the QA job
        reports.append(attempt_with(len(reports) + 1, worked_hold_s))
    return reports
