"""What a unit's label says, from its records: only a verified unit gets one."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from rig.errors import RigError
from rig.job import JobReport
from rig.outcomes import Outcome
from rig.records.units import UnitRecord


class LabelError(RigError):
    """No label can be made or printed (one line naming why)."""


@dataclass(frozen=True)
class LabelData:
    job_id: int  # the job whose certificate this is (the unit's last attempt)
    station: str
    model: str
    serial: str
    mac: str
    outcome: str
    date: str  # UTC, YYYY-MM-DD: the day the reset was verified
    qr: str  # what the QR code holds: the certificate's address, or its id

    @property
    def certificate_id(self) -> str:
        return certificate_id(self.job_id)


def certificate_id(job_id: int) -> str:
    """The certificate's anchor in the report (rig.records.report: `certificate-JOB`)."""
    return f"certificate-{job_id}"


def certificate_ref(job_id: int, station: str, base_url: str | None) -> str:
    """The QR code's text: the certificate's address on the station page when there is one
    (`BASE/report#certificate-JOB`), else its id with the station (`lab-1/certificate-JOB`)."""
    if base_url:
        return f"{base_url.rstrip('/')}/report#{certificate_id(job_id)}"
    return f"{station}/{certificate_id(job_id)}"


def label_for_job(
    units: Iterable[UnitRecord], job_id: int, *, base_url: str | None = None
) -> LabelData:
    """The label of the unit job `job_id` belongs to (any of its attempts)."""
    unit = next((u for u in units if job_id in u.job_ids), None)
    if unit is None:
        raise LabelError(f"job {job_id}: no such job in the records")
    if not unit.verified:
        raise LabelError(
            f"job {job_id}: unit {unit.label} is {unit.outcome or 'still running'}, "
            "not reset_verified: no label"
        )
    last = unit.last
    ended = last.ended_wall or last.started_wall
    return LabelData(
        job_id=last.job_id,
        station=last.station,
        model=unit.model or last.profile,
        serial=unit.serial or unit.scanned_serial or "?",
        mac=(unit.mac or "?").upper(),
        outcome=last.outcome or "",
        date=datetime.fromtimestamp(ended, UTC).date().isoformat(),
        qr=certificate_ref(last.job_id, last.station, base_url),
    )


def label_for_report(
    report: JobReport, *, station: str, base_url: str | None = None, wall: float | None = None
) -> LabelData:
    """The label of the unit a station just verified, from its last job's report."""
    unit = report.result.unit
    if report.result.outcome is not Outcome.RESET_VERIFIED:
        raise LabelError(f"job {report.job_id}: {report.result.outcome.value}: no label")
    when = datetime.now(UTC) if wall is None else datetime.fromtimestamp(wall, UTC)
    return LabelData(
        job_id=report.job_id,
        station=station,
        model=unit.model or "?",
        serial=unit.serial or "?",
        mac=(unit.mac or "?").upper(),
        outcome=report.result.outcome.value,
        date=when.date().isoformat(),
        qr=certificate_ref(report.job_id, station, base_url),
    )
