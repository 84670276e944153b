"""The rig's side of the outbox (the `outbox` table rig.records.store fills in the transaction
of each record it writes): what waits to be sent, taken in order, and let go once sent.

The sender reads through a connection of its own (SQLite in WAL mode lets it read while the
station writes) and never holds a write transaction across network I/O: a batch is read in
one short read transaction, uploaded, and only then deleted in one short write.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rig.records.store import DB_NAME

# The columns of a local job row that the fleet database has as columns of its own; any other
# (a column a later rig adds) travels in `extra`, so an older fleet schema loses nothing.
JOB_COLUMNS = (
    "station",
    "bay",
    "profile",
    "procedure",
    "attempt",
    "first_job_id",
    "scanned_serial",
    "serial",
    "mac",
    "model",
    "firmware",
    "firmware_before",
    "target_hold_s",
    "hold_s",
    "outcome",
    "reason",
    "started_wall",
    "ended_wall",
)
JSON_COLUMNS = ("plan_json", "unit_json", "evidence_json")
STEP_COLUMNS = (
    "seq",
    "name",
    "started_mono",
    "ended_mono",
    "started_wall",
    "error",
)


@dataclass
class Batch:
    """The first entries of the outbox and the rows they name, as they are now. A row queued
    by several entries (a job: started, unit known, finished) is sent once, as it is now."""

    last_id: int  # the last outbox entry it covers
    entries: int
    jobs: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Backlog:
    """What waits in a rig's outbox."""

    pending: int
    oldest_queued_wall: float | None


def _job_row(row: sqlite3.Row) -> dict[str, Any]:
    names = row.keys()
    job: dict[str, Any] = {"local_id": row["id"]}
    job.update({name: row[name] for name in JOB_COLUMNS})
    for name in JSON_COLUMNS:
        job[name.removesuffix("_json")] = row[name]  # JSON text, as stored
    extra = {}
    for name in names:
        if name in ("id", *JOB_COLUMNS, *JSON_COLUMNS):
            continue
        value = row[name]
        if name.endswith("_json") and isinstance(value, str):
            value = json.loads(value)
        extra[name] = value
    job["extra"] = json.dumps(extra, sort_keys=True, default=str)
    return job


class Outbox:
    """The outbox of the records in `data_dir` (the file must exist: the session made it)."""

    def __init__(self, data_dir: Path) -> None:
        path = data_dir / DB_NAME
        # mode=rw: never create an empty records file where the rig's is missing.
        self._db = sqlite3.connect(
            f"file:{path}?mode=rw",
            uri=True,
            timeout=5.0,
            isolation_level=None,
            check_same_thread=False,
        )
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def take(self, limit: int = 200) -> Batch | None:
        """The first `limit` entries and their rows (one read transaction: the rows are at
        least as new as every entry taken), or None when nothing waits."""
        with self._lock, self._db:
            self._db.execute("BEGIN")
            entries = self._db.execute(
                "SELECT id, kind, ref FROM outbox ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
            if not entries:
                return None
            batch = Batch(last_id=entries[-1]["id"], entries=len(entries))
            job_ids = list(dict.fromkeys(e["ref"] for e in entries if e["kind"] == "job"))
            step_ids = list(dict.fromkeys(e["ref"] for e in entries if e["kind"] == "step"))
            for job_id in job_ids:
                row = self._db.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
                if row is not None:
                    batch.jobs.append(_job_row(row))
            for step_id in step_ids:
                row = self._db.execute(
                    "SELECT s.*, j.station FROM steps s JOIN jobs j ON j.id = s.job_id"
                    " WHERE s.id=?",
                    (step_id,),
                ).fetchone()
                if row is not None:
                    step = {name: row[name] for name in STEP_COLUMNS}
                    step.update(
                        local_id=row["id"],
                        job_local_id=row["job_id"],
                        station=row["station"],
                        details=row["details_json"],
                    )
                    batch.steps.append(step)
            return batch

    def done(self, batch: Batch) -> None:
        """The batch is in the fleet database: its entries go (ids only grow, so every entry
        up to the batch's last is one of its)."""
        with self._lock:
            self._db.execute("DELETE FROM outbox WHERE id <= ?", (batch.last_id,))

    # A rig not in a fleet would keep its outbox growing for nobody: at each run it empties it
    # and notes that its history is to be queued again if it ever joins one (sending a row
    # twice is harmless: the upload is an upsert), so joining later still brings every record.
    _REQUEUE = "CREATE TABLE IF NOT EXISTS outbox_requeue (since_wall REAL NOT NULL)"

    def set_aside(self) -> None:
        """No fleet: let the entries go, and note that the history is to be queued again."""
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(self._REQUEUE)
            self._db.execute("DELETE FROM outbox")
            if self._db.execute("SELECT count(*) FROM outbox_requeue").fetchone()[0] == 0:
                self._db.execute(
                    "INSERT INTO outbox_requeue (since_wall)"
                    " VALUES ((julianday('now') - 2440587.5) * 86400.0)"
                )

    def requeue_if_set_aside(self) -> int:
        """In a fleet again: queue every job and step if entries were let go; how many."""
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(self._REQUEUE)
            if self._db.execute("SELECT count(*) FROM outbox_requeue").fetchone()[0] == 0:
                return 0
            now = "(julianday('now') - 2440587.5) * 86400.0"
            self._db.execute("DELETE FROM outbox")  # all of it is queued again, in order
            jobs = self._db.execute(
                f"INSERT INTO outbox (kind, ref, queued_wall) SELECT 'job', id, {now}"
                " FROM jobs ORDER BY id"
            ).rowcount
            steps = self._db.execute(
                f"INSERT INTO outbox (kind, ref, queued_wall) SELECT 'step', id, {now}"
                " FROM steps ORDER BY id"
            ).rowcount
            self._db.execute("DELETE FROM outbox_requeue")
            return int(jobs + steps)

    def backlog(self, after_id: int = 0) -> Backlog:
        """What waits (after entry `after_id`: behind a batch being sent)."""
        with self._lock:
            row = self._db.execute(
                "SELECT count(*), min(queued_wall) FROM outbox WHERE id > ?", (after_id,)
            ).fetchone()
        return Backlog(pending=int(row[0]), oldest_queued_wall=row[1])
