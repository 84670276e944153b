"""The records grouped by unit, and the tallies of units: what the exports and the page share.

A *unit* is one camera the rig reset: all the jobs sharing COALESCE(first_job_id, job_id),
i.e. the first attempt and the station's escalation retries with longer holds. Its outcome is
its last attempt's. A unit is dated by its first attempt's start (UTC), so it falls on exactly
one day of the daily summary and in exactly one `--since` range.

A software reset (procedure `software-full` or `software-basic`) goes over the network and uses
no bay: its job's `bay` is None, and so is the bay of its Attempt and of its exported unit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from rig.outcomes import Outcome

# The verify step's details that prove a reset, as a customer reads them. Only these keys
# reach a unit's `proof`, so the exports and the page: a details key added later (raw XML,
# anything sensitive) stays out of a document that leaves the lab.
PROOF_FIELDS: tuple[tuple[str, str], ...] = (
    ("identity", "Unit identified by"),
    ("verified_by", "Factory state confirmed by"),
    ("mode", "Software reset mode"),
    ("sadp_activated", "SADP: Activated"),
    ("isapi_activated", "ISAPI /SDK/activateStatus: Activated"),
    ("factory_login_status", "Factory default login (firmware < 5.3): HTTP status"),
    ("activated_after", "SADP: Activated after the restore"),
)
_PROOF_KEYS = frozenset(key for key, _ in PROOF_FIELDS)

# In place of a bay, for a job that had none (a software reset, over the network). The page
# and the printed record show this, never "None"; the exports keep the bay empty (CSV) or null.
NO_BAY = "network (no bay)"


def bay_label(bay: str | None) -> str:
    """Where a unit was reset, as a person reads it: "bay A", or NO_BAY."""
    return NO_BAY if bay is None else f"bay {bay}"


def iso(wall: float | None) -> str | None:
    """ISO 8601 UTC with milliseconds: the time format of every export."""
    if wall is None:
        return None
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds")


# --- the units ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """One job: one try at resetting a unit."""

    job_id: int
    attempt: int
    station: str
    bay: str | None  # None: a software reset, no bay
    profile: str
    procedure: str
    scanned_serial: str | None
    serial: str | None
    mac: str | None
    model: str | None
    firmware: str | None
    firmware_before: str | None
    target_hold_s: float
    hold_s: float | None
    outcome: str | None  # None while running
    reason: str | None
    started_wall: float
    ended_wall: float | None
    proof: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_job(cls, job: Mapping[str, Any]) -> Attempt:
        verify = [s for s in job.get("steps") or () if s["name"] == "verify"]
        details = verify[-1]["details"] if verify else {}
        return cls(
            job_id=int(job["job_id"]),
            attempt=int(job.get("attempt") or 1),
            station=job["station"],
            bay=job["bay"],
            profile=job["profile"],
            procedure=job["procedure"],
            scanned_serial=job.get("scanned_serial"),
            serial=job.get("serial"),
            mac=job.get("mac"),
            model=job.get("model"),
            firmware=job.get("firmware"),
            firmware_before=job.get("firmware_before"),
            target_hold_s=float(job["target_hold_s"]),
            hold_s=job.get("hold_s"),
            outcome=job.get("outcome"),
            reason=job.get("reason"),
            started_wall=float(job["started_wall"]),
            ended_wall=job.get("ended_wall"),
            proof={k: v for k, v in details.items() if k in _PROOF_KEYS},
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "attempt": self.attempt,
            "bay": self.bay,
            "procedure": self.procedure,
            "outcome": self.outcome,
            "reason": self.reason,
            "target_hold_s": self.target_hold_s,
            "hold_s": self.hold_s,
            "started": iso(self.started_wall),
            "ended": iso(self.ended_wall),
        }


QA_PROCEDURE = "qa"  # rig.job.ProcedureName.QA: the QA pass's jobs are not reset attempts
QA_STEPS = ("qa_activate", "qa_identity", "qa_firmware", "qa_upgrade", "qa_picture", "qa_storage")


@dataclass(frozen=True)
class QaRecord:
    """A QA pass's job (rig.procedures.qa): each check with its measurements, the verdict,
    and the picture's thumbnail. Only the checks' own keys are kept (no exchanges)."""

    job_id: int
    qa: str | None  # passed / failed; None while running or when it checked nothing
    qa_check: str | None  # the first check that failed
    outcome: str | None  # the restore's proof: reset_verified = back in factory state
    reason: str | None
    started_wall: float
    ended_wall: float | None
    checks: tuple[Mapping[str, Any], ...] = ()
    thumbnail_b64: str | None = None  # a small JPEG of the first snapshot

    @classmethod
    def from_job(cls, job: Mapping[str, Any]) -> QaRecord:
        checks: list[Mapping[str, Any]] = []
        thumbnail = None
        for step in job.get("steps") or ():
            details = step["details"]
            if step["name"] in QA_STEPS and "check" in details:
                checks.append(
                    {k: details.get(k) for k in ("check", "passed", "why", "measurements")}
                )
                thumbnail = details.get("thumbnail_jpeg_b64") or thumbnail
        if job.get("outcome") is not None:
            checks.append(
                {
                    "check": "restore",
                    "passed": job["outcome"] == Outcome.RESET_VERIFIED.value,
                    "why": None,
                    "measurements": [
                        {
                            "name": "factory_state",
                            "value": job["outcome"],
                            "unit": "",
                            "limits": f"= {Outcome.RESET_VERIFIED.value}",
                            "passed": job["outcome"] == Outcome.RESET_VERIFIED.value,
                        }
                    ],
                }
            )
        return cls(
            job_id=int(job["job_id"]),
            qa=job.get("qa"),
            qa_check=job.get("qa_check"),
            outcome=job.get("outcome"),
            reason=job.get("reason"),
            started_wall=float(job["started_wall"]),
            ended_wall=job.get("ended_wall"),
            checks=tuple(checks),
            thumbnail_b64=thumbnail,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "qa": self.qa,
            "qa_check": self.qa_check,
            "outcome": self.outcome,
            "reason": self.reason,
            "checks": [dict(c) for c in self.checks],
        }


@dataclass(frozen=True)
class UnitRecord:
    """A unit and its attempts, oldest first. What it is comes from the latest attempt that
    saw it (a last attempt that ended before identify knows nothing of it)."""

    attempts: tuple[Attempt, ...]
    qa_jobs: tuple[QaRecord, ...] = ()  # its QA pass (rig.procedures.qa), if it had one

    @property
    def qa(self) -> QaRecord | None:
        return self.qa_jobs[-1] if self.qa_jobs else None

    @property
    def _final(self) -> Attempt | QaRecord:
        """The unit's latest job: a QA pass's restore, or a hard reset after it, says the
        state the unit left the bay in."""
        qa = self.qa
        return qa if qa is not None and qa.job_id > self.last.job_id else self.last

    @property
    def first(self) -> Attempt:
        return self.attempts[0]

    @property
    def last(self) -> Attempt:
        return self.attempts[-1]

    def _latest(self, name: str) -> str | None:
        for attempt in reversed(self.attempts):
            value = getattr(attempt, name)
            if value is not None:
                return str(value)
        return None

    @property
    def serial(self) -> str | None:
        return self._latest("serial")

    @property
    def scanned_serial(self) -> str | None:
        return self._latest("scanned_serial")

    @property
    def mac(self) -> str | None:
        return self._latest("mac")

    @property
    def model(self) -> str | None:
        return self._latest("model")

    @property
    def firmware_before(self) -> str | None:
        # Before the first power cut: later attempts' "before" is already after a reset try.
        return next((a.firmware_before for a in self.attempts if a.firmware_before), None)

    @property
    def firmware_after(self) -> str | None:
        return self._latest("firmware")

    @property
    def outcome(self) -> str | None:
        return self._final.outcome

    @property
    def verified(self) -> bool:
        return self.outcome == Outcome.RESET_VERIFIED.value

    @property
    def finished(self) -> bool:
        return self.outcome is not None

    @property
    def started_wall(self) -> float:
        return self.first.started_wall

    @property
    def ended_wall(self) -> float | None:
        return self._final.ended_wall

    @property
    def started(self) -> datetime:
        return datetime.fromtimestamp(self.started_wall, UTC)

    @property
    def day(self) -> date:
        return self.started.date()

    @property
    def job_ids(self) -> list[int]:
        return [a.job_id for a in self.attempts]

    @property
    def label(self) -> str:
        return self.serial or self.scanned_serial or "unknown unit"

    def as_dict(self) -> dict[str, Any]:
        last = self.last
        return {
            "job_id": last.job_id,  # the job whose outcome and hold this is
            "job_ids": self.job_ids,
            "station": last.station,
            "bay": last.bay,
            "serial": self.serial,
            "scanned_serial": self.scanned_serial,
            "mac": self.mac,
            "model": self.model,
            "firmware_before": self.firmware_before,
            "firmware_after": self.firmware_after,
            "profile": last.profile,
            "procedure": last.procedure,
            "outcome": self.outcome,
            "reason": self._final.reason,
            "qa": self.qa.qa if self.qa else None,
            "qa_check": self.qa.qa_check if self.qa else None,
            "qa_pass": self.qa.as_dict() if self.qa else None,
            "target_hold_s": last.target_hold_s,
            "hold_s": last.hold_s,
            "started": iso(self.started_wall),
            "ended": iso(self.ended_wall),
            "proof": dict(last.proof),
            "attempts": [a.as_dict() for a in self.attempts],
        }


def units_from_jobs(jobs: Iterable[Mapping[str, Any]]) -> list[UnitRecord]:
    """Group jobs (RecordStore.jobs()) into units, in the order the units started.

    A retry whose first attempt is not among `jobs` is left out: its unit started before the
    range these jobs were selected by (`--since`), so it belongs to that earlier report.
    """
    jobs = sorted(jobs, key=lambda job: int(job["job_id"]))
    # Job ids are a station's own: the records of a fleet (rig.fleet) hold the same ids from
    # every station, and a retry's first attempt (and a unit's QA pass) is at its own station.
    present = {(job["station"], int(job["job_id"])) for job in jobs}
    groups: dict[tuple[str, int], list[Attempt]] = {}
    qa_jobs: dict[tuple[str, int], list[QaRecord]] = {}
    for job in jobs:
        first = job.get("first_job_id")
        key = (job["station"], int(first) if first is not None else int(job["job_id"]))
        if key not in present:
            continue
        if job.get("procedure") == QA_PROCEDURE:
            qa_jobs.setdefault(key, []).append(QaRecord.from_job(job))
        else:
            groups.setdefault(key, []).append(Attempt.from_job(job))
    units = [
        UnitRecord(tuple(attempts), tuple(qa_jobs.get(key, ()))) for key, attempts in groups.items()
    ]
    return sorted(units, key=lambda unit: (unit.started_wall, unit.first.job_id))


# --- tallies --------------------------------------------------------------------------------


@dataclass
class Tally:
    """Yield is verified / units done: a unit still running has no verdict yet."""

    units: int = 0
    done: int = 0
    verified: int = 0

    def add(self, unit: UnitRecord) -> None:
        self.units += 1
        self.done += unit.finished
        self.verified += unit.verified

    @property
    def not_verified(self) -> int:
        return self.done - self.verified

    @property
    def running(self) -> int:
        return self.units - self.done

    @property
    def yield_pct(self) -> float | None:
        return 100.0 * self.verified / self.done if self.done else None

    def yield_text(self) -> str:
        pct = self.yield_pct
        return "–" if pct is None else f"{pct:.1f} %"


def tally(units: Iterable[UnitRecord]) -> Tally:
    total = Tally()
    for unit in units:
        total.add(unit)
    return total


def tally_by_model(units: Iterable[UnitRecord]) -> dict[str, Tally]:
    models: dict[str, Tally] = {}
    for unit in units:
        models.setdefault(unit.model or "unknown model", Tally()).add(unit)
    return dict(sorted(models.items()))


@dataclass
class QaTally:
    """QA yield: units whose QA pass passed / units QA'd; failures counted by check."""

    units: int = 0
    passed: int = 0
    failed_by_check: dict[str, int] = field(default_factory=dict)

    def add(self, unit: UnitRecord) -> None:
        qa = unit.qa
        if qa is None or qa.qa is None:
            return
        self.units += 1
        if qa.qa == "passed":
            self.passed += 1
        else:
            check = qa.qa_check or "unknown"
            self.failed_by_check[check] = self.failed_by_check.get(check, 0) + 1

    @property
    def failed(self) -> int:
        return self.units - self.passed

    def yield_text(self) -> str:
        return "–" if not self.units else f"{100.0 * self.passed / self.units:.1f} %"


def qa_by_model(units: Iterable[UnitRecord]) -> dict[str, QaTally]:
    models: dict[str, QaTally] = {}
    for unit in units:
        if unit.qa is not None:
            models.setdefault(unit.model or "unknown model", QaTally()).add(unit)
    return dict(sorted(models.items()))


def tally_by_station(units: Iterable[UnitRecord]) -> dict[str, Tally]:
    """A fleet's units (rig.fleet) by the station that reset them."""
    stations: dict[str, Tally] = {}
    for unit in units:
        stations.setdefault(unit.last.station, Tally()).add(unit)
    return dict(sorted(stations.items()))


def by_day(units: Iterable[UnitRecord]) -> dict[date, list[UnitRecord]]:
    days: dict[date, list[UnitRecord]] = {}
    for unit in units:
        days.setdefault(unit.day, []).append(unit)
    return dict(sorted(days.items()))
