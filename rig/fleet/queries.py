"""The lab read back from the fleet database: the jobs of every station (in the shape of
RecordStore.jobs(), so the exports and the HTML page of rig.records work on them unchanged),
and how far each rig's outbox is behind."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from rig.fleet.outbox import JOB_COLUMNS
from rig.fleet.schema import ensure_schema
from rig.fleet.sender import connect
from rig.fleet.settings import PostgresSettings


def _loads(value: Any) -> Any:
    # psycopg reads jsonb as Python objects already; text stays as it came.
    return json.loads(value) if isinstance(value, str | bytes) else value


def fleet_jobs(
    conn: psycopg.Connection, *, since_wall: float | None = None
) -> list[dict[str, Any]]:
    """Every station's jobs (from `since_wall` on), each with its steps, as RecordStore.jobs()
    gives a station's own: `job_id` is the job's id at its station (unique with `station`)."""
    where, params = ("WHERE started_wall >= %s", (since_wall,)) if since_wall else ("", ())
    columns = ", ".join(JOB_COLUMNS)
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            f"SELECT local_id, {columns}, plan, unit, evidence, extra FROM rig.jobs {where}"
            " ORDER BY started_wall, station, local_id",
            params,
        ).fetchall()
        steps: dict[tuple[str, int], list[dict[str, Any]]] = {}
        step_where = (
            f"WHERE (s.station, s.job_local_id) IN (SELECT station, local_id FROM rig.jobs {where})"
        )
        for s in cur.execute(
            "SELECT s.station, s.job_local_id, s.name, s.started_mono, s.ended_mono,"
            f" s.started_wall, s.details, s.error FROM rig.steps s {step_where}"
            " ORDER BY s.station, s.job_local_id, s.seq",
            params,
        ):
            steps.setdefault((s.pop("station"), s.pop("job_local_id")), []).append(
                {**s, "details": _loads(s["details"])}
            )
    jobs = []
    for row in rows:
        extra = _loads(row.pop("extra")) or {}
        job: dict[str, Any] = {**extra, **row}  # the known columns win over `extra`
        job["job_id"] = job.pop("local_id")
        job["plan"] = _loads(job["plan"])
        job["unit"] = _loads(job["unit"])
        job["evidence"] = _loads(job["evidence"]) or []
        job["steps"] = steps.get((job["station"], job["job_id"]), [])
        jobs.append(job)
    return jobs


@dataclass(frozen=True)
class StationBacklog:
    """A rig as the fleet database last heard of it."""

    station: str
    seen_at: datetime
    outbox_pending: int
    oldest_pending_at: datetime | None
    rig_version: str | None
    jobs: int  # its jobs in the fleet database
    last_job_at: datetime | None

    def behind(self, now: datetime) -> str:
        """How far behind it was when last heard of, as a technician reads it."""
        if self.outbox_pending == 0:
            return "up to date"
        age = ""
        if self.oldest_pending_at is not None:
            age = f", oldest {_ago(now - self.oldest_pending_at)}"
        return f"{self.outbox_pending} record(s) waiting{age}"


def _ago(delta: Any) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


def seen_ago(now: datetime, then: datetime) -> str:
    return _ago(now - then)


def station_backlogs(conn: psycopg.Connection) -> list[StationBacklog]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT s.station, s.seen_at, s.outbox_pending, s.oldest_pending_at, s.rig_version,"
            " count(j.local_id) AS jobs, max(j.started_at) AS last_job_at"
            " FROM rig.stations s LEFT JOIN rig.jobs j ON j.station = s.station"
            " GROUP BY s.station ORDER BY s.station"
        ).fetchall()
    return [StationBacklog(**row) for row in rows]


def now(conn: psycopg.Connection) -> datetime:
    """The database's clock: a rig's "seen 5 s ago" is by the clock that stamped it."""
    row = conn.execute("SELECT now()").fetchone()
    assert row is not None
    value: datetime = row[0]
    return value


def open_fleet(settings: PostgresSettings) -> psycopg.Connection:
    """A connection for reading the lab (the schema brought up to date first)."""
    conn = connect(settings)
    ensure_schema(conn)
    return conn
