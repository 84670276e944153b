"""One job: a unit in a bay, the procedure run over it, and its record committed as it goes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rig.clock import Clock
from rig.config import BayConfig
from rig.hardware.bay import BayHardware
from rig.outcomes import Outcome
from rig.procedure import Plan, Procedure, Result, Step
from rig.records.store import RecordStore
from rig.verify.base import Verifier


@dataclass
class JobReport:
    job_id: int
    bay: str
    result: Result

    def as_json(self) -> dict[str, Any]:
        """The `--json` object of DESIGN.md §5 (outside tools rely on these keys)."""
        unit = self.result.unit
        return {
            "job_id": self.job_id,
            "bay": self.bay,
            "outcome": self.result.outcome.value,
            "reason": self.result.reason,
            "mac": unit.mac,
            "serial": unit.serial,
            "model": unit.model,
            "firmware": unit.firmware,
            "hold_s": self.result.hold_s,
            "steps": [
                {
                    "name": s.name,
                    "started_mono": s.started_mono,
                    "ended_mono": s.ended_mono,
                    "started_wall": s.started_wall,
                    "duration_s": s.duration_s,
                    "details": s.details,
                    "error": s.error,
                }
                for s in self.result.steps
            ],
        }


def plan_for(bay: BayConfig, *, scanned_serial: str | None, hold_s: float | None = None) -> Plan:
    return Plan(
        procedure=bay.procedure,
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


def run_job(
    *,
    station: str,
    bay: BayConfig,
    hw: BayHardware,
    verifier: Verifier,
    store: RecordStore,
    clock: Clock,
    plan: Plan,
    attempt: int = 1,
    first_job_id: int | None = None,
    on_stage: Callable[[str, float | None], None] | None = None,
    before_cut: Callable[[], None] | None = None,
) -> JobReport:
    job_id = store.start_job(
        station=station,
        bay=bay.name,
        profile=bay.profile.model,
        plan=plan,
        wall=clock.wall(),
        attempt=attempt,
        first_job_id=first_job_id,
    )

    def commit_step(step: Step) -> None:
        store.add_step(job_id, step)
        # Who the unit is goes on record as soon as it is known: by its answer before the
        # cut, or as the unit that vanished at the cut.
        if step.name in ("identify", "power_off"):
            store.set_unit(job_id, verifier.unit)

    procedure = Procedure(
        hw, verifier, plan, clock, on_step=commit_step, on_stage=on_stage, before_cut=before_cut
    )
    result = procedure.run()
    store.finish_job(job_id, result, clock.wall())
    return JobReport(job_id, bay.name, result)


def escalation_holds(bay: BayConfig) -> list[float]:
    """The bay's hold, then each longer hold of its escalation list, in order."""
    longer = sorted({h for h in bay.escalation_holds_s if h > bay.hold_s})
    return [bay.hold_s, *longer]


def run_unit(
    *,
    station: str,
    bay: BayConfig,
    hw: BayHardware,
    make_verifier: Callable[[], Verifier],
    store: RecordStore,
    clock: Clock,
    scanned_serial: str | None,
    retry: bool,
    on_stage: Callable[[str, float | None], None] | None = None,
    before_cut: Callable[[], None] | None = None,
) -> list[JobReport]:
    """One unit: an attempt, and with `retry` one more per longer hold while it ends
    `not_reset`. Each attempt is its own job, linked to the first; the rest between presses
    is the presser's (the procedure waits it out)."""
    holds = escalation_holds(bay) if retry else [bay.hold_s]
    reports: list[JobReport] = []
    first_job_id: int | None = None
    for attempt, hold_s in enumerate(holds, start=1):
        verifier = make_verifier()
        try:
            report = run_job(
                station=station,
                bay=bay,
                hw=hw,
                verifier=verifier,
                store=store,
                clock=clock,
                plan=plan_for(bay, scanned_serial=scanned_serial, hold_s=hold_s),
                attempt=attempt,
                first_job_id=first_job_id,
                on_stage=on_stage,
                before_cut=before_cut,
            )
        finally:
            verifier.close()
        reports.append(report)
        first_job_id = first_job_id or report.job_id
        if report.result.outcome is not Outcome.NOT_RESET:
            break
    return reports
