"""What the station page shows, and the news that it changed.

`StationFeed` listens to the station's live feed (`Progress.listen`, `Station.unit_listeners`)
from the bays' threads and hands the page one JSON-ready state: every bay (its stage, the
seconds left of its countdown, its unit, the last unit's outcome, reason and QA result), the
station's summary line, today's figures from the records, and the units done today with their
certificates. The web server's event loop waits on `changes()`; a bay never waits on the page.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rig.job import JobReport
from rig.progress import BayStatus, Progress
from rig.records.store import RecordError, RecordStore
from rig.records.units import UnitRecord, units_from_jobs
from rig.web.changes import PageFeed

log = logging.getLogger(__name__)

#: How many of the station's messages to the operator the page keeps.
NOTES_KEPT = 8


def unit_qa(reports: list[JobReport]) -> str:
    """The unit's QA result (its QA pass is a job of its own among the unit's reports), as
    the page shows it: "passed", "failed: qa_picture", or "" when the unit had no QA pass."""
    for report in reversed(reports):
        if (qa := report.result.qa) is not None:
            check = report.result.qa_check
            return f"{qa}: {check}" if check else qa
    return ""


def _midnight_utc(now_wall: float) -> float:
    day = datetime.fromtimestamp(now_wall, UTC).date()
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def today_figures(units: list[UnitRecord], now_wall: float) -> dict[str, Any]:
    """Units, verified, yield and units per hour since the first unit of the day started."""
    done = [u for u in units if u.finished]
    verified = sum(u.verified for u in done)
    hours = (now_wall - units[0].started_wall) / 3600 if units else 0.0
    return {
        "units": len(units),
        "done": len(done),
        "verified": verified,
        "yield": f"{100 * verified / len(done):.0f} %" if done else "–",
        "per_hour": f"{len(done) / hours:.1f}" if done and hours > 0 else "–",
    }


def unit_row(unit: UnitRecord) -> dict[str, Any]:
    last = unit.last
    return {
        "job_id": last.job_id,
        "bay": last.bay,
        "serial": unit.serial or unit.scanned_serial or "",
        "model": unit.model or "",
        "mac": unit.mac or "",
        "outcome": unit.outcome or "running",
        "reason": last.reason or "",
        "attempts": len(unit.attempts),
        "verified": unit.verified,
        "ended": last.ended_wall,
    }


class StationFeed(PageFeed):
    """The page's view of one station, fed from its threads, read by the web server."""

    def __init__(
        self,
        progress: Progress,
        *,
        station: str,
        bays: Iterable[str],
        data_dir: Path,
        wall: Callable[[], float] | None = None,
    ) -> None:
        super().__init__()
        self.progress = progress
        self.station = station
        self.bays = list(bays)
        self.data_dir = data_dir
        self._wall = wall or (lambda: datetime.now(UTC).timestamp())
        self._qa: dict[str, str] = {}  # bay -> its last unit's QA result
        self._notes: deque[str] = deque(maxlen=NOTES_KEPT)
        self._today: dict[str, Any] = {}
        self._units: list[dict[str, Any]] = []
        self.stopping = False  # the stop button was pressed: the running units are finishing
        # [labels] url: how the lab reaches this page. One rule for every label, printed by
        # the station or from the page: its QR code holds the certificate's address only
        # then, else the certificate's id.
        self.label_url: str | None = None
        self._unlisten = progress.listen(self._row_changed)
        self.refresh_records()

    # -- fed from the station's threads ----------------------------------------------------

    def _row_changed(self, status: BayStatus) -> None:
        self.changed()

    def unit_done(self, bay: str, reports: list[JobReport]) -> None:
        """`Station.unit_listeners`: the bay's QA result, and today's figures read again."""
        with self._lock:
            self._qa[bay] = unit_qa(reports)
        self.refresh_records()

    def note(self, message: str) -> None:
        """A message the station told the operator (a scan refused, a bay held back)."""
        with self._lock:
            self._notes.append(message)
        self.changed()

    def refresh_records(self) -> None:
        """Today's figures and units, from the records (their own connection: WAL lets this
        read while a bay writes)."""
        now = self._wall()
        try:
            with RecordStore(self.data_dir) as store:
                jobs = store.jobs(since_wall=_midnight_utc(now))
        except RecordError as exc:
            log.warning("station page: %s", exc)
            return
        units = units_from_jobs(jobs)
        with self._lock:
            self._today = today_figures(units, now)
            self._units = [unit_row(u) for u in reversed(units)]
        self.changed()

    def close(self) -> None:
        """The station has ended: the pages' streams end too."""
        self._unlisten()
        self.end_streams()

    # -- read by the web server --------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Everything the page shows, now. Countdowns are seconds left at this moment (the
        page counts down from there on its own clock: the two clocks need not agree)."""
        now = self.progress.clock.monotonic()
        rows = {s.name: s for s in self.progress.snapshot()}
        with self._lock:
            bays = []
            for name in self.bays + [n for n in rows if n not in self.bays]:
                s = rows.get(name) or BayStatus(name, stage="starting")
                bays.append(
                    {
                        "name": s.name,
                        "stage": s.stage,
                        "left_s": None if s.deadline is None else max(0.0, s.deadline - now),
                        "unit": s.unit,
                        "outcome": s.outcome,
                        "reason": s.reason,
                        "qa": self._qa.get(s.name, ""),
                    }
                )
            return {
                "station": self.station,
                "bays": bays,
                "summary": self.progress.summary_line,
                "today": dict(self._today),
                "units": list(self._units),
                "notes": list(self._notes),
                "stopping": self.stopping,
                "ended": self.closed.is_set(),
            }
