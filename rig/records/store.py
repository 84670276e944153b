"""The records: one SQLite file (stdlib sqlite3, WAL) in the station's data directory.

A job row is written when the job starts (outcome empty = running), each step is committed the
moment it ends, and the outcome when the job ends: a crash or a power cut loses nothing that
had finished, and a job found still running at the next start was interrupted.
"""

from __future__ import annotations

import itertools
import json
import shutil
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rig.batched import Batched
from rig.errors import RigError
from rig.job import Plan, Result, Step, StepName, Unit

DB_NAME = "rig.sqlite3"
SCHEMA_VERSION = 2

_JOBS_TABLE = """
CREATE TABLE IF NOT EXISTS {name} (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    station        TEXT NOT NULL,
    bay            TEXT,           -- NULL: a job that used no bay (a software reset)
    profile        TEXT NOT NULL,
    procedure      TEXT NOT NULL,
    attempt        INTEGER NOT NULL DEFAULT 1,
    first_job_id   INTEGER,        -- attempt 1 of the same unit (escalation retries), else NULL
    scanned_serial TEXT,
    serial         TEXT,
    mac            TEXT,
    model          TEXT,
    firmware       TEXT,           -- as the unit reported it last (after the reset)
    firmware_before TEXT,          -- as it reported it before the power cut
    target_hold_s  REAL NOT NULL,
    hold_s         REAL,
    outcome        TEXT,
    reason         TEXT,
    started_wall   REAL NOT NULL,
    ended_wall     REAL,
    plan_json      TEXT NOT NULL,
    unit_json      TEXT,
    evidence_json  TEXT,
    qa             TEXT,           -- a QA pass's job: passed / failed; NULL for other jobs
    qa_check       TEXT            -- the first QA check that failed
);
"""
_SCHEMA = (
    _JOBS_TABLE.format(name="jobs")
    + """
CREATE TABLE IF NOT EXISTS steps (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id       INTEGER NOT NULL REFERENCES jobs(id),
    seq          INTEGER NOT NULL,
    name         TEXT NOT NULL,
    started_mono REAL NOT NULL,
    ended_mono   REAL,
    started_wall REAL NOT NULL,
    details_json TEXT NOT NULL,
    error        TEXT
);
CREATE INDEX IF NOT EXISTS steps_job ON steps(job_id, seq);
"""
)
# The indexes of `jobs`, made after any rebuild of the table (_migrate) drops them.
# jobs_hold_key: a model's latest hard-reset attempts (rig.holds), one index walk per unit;
# the expression is the learning key, the query must spell it the same way (`_HOLD_KEY`).
_HOLD_KEY = "COALESCE(model, profile)"
_JOBS_INDEXES = f"""
CREATE INDEX IF NOT EXISTS jobs_started ON jobs(started_wall);
CREATE INDEX IF NOT EXISTS jobs_hold_key ON jobs({_HOLD_KEY}, id);
"""

# The switch ports a rig has cut and not yet enabled again (rig.hardware.switch): written
# before the SET that disables a port, deleted once it is enabled. A switch keeps a port off
# when the rig dies, so the next rig that opens these records enables what is listed here.
_SWITCH_CUTS = """
CREATE TABLE IF NOT EXISTS switch_cuts (
    switch       TEXT NOT NULL,
    grp          INTEGER NOT NULL,
    port         INTEGER NOT NULL,
    bay          TEXT NOT NULL,
    since_wall   REAL NOT NULL,
    PRIMARY KEY (switch, grp, port)
);
"""

# The transactional outbox of the fleet (rig.fleet): each write of a job or a step queues the
# row it wrote here, in the same transaction, so the copy in the lab's PostgreSQL can never
# miss a committed record nor carry one that was rolled back. rig.fleet.sender uploads the
# rows named (as they are when it sends) in `id` order and deletes the entries it sent.
_OUTBOX = """
CREATE TABLE outbox (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    kind   TEXT NOT NULL,  -- 'job' or 'step': the table of the row to upload
    ref    INTEGER NOT NULL,  -- its id there
    queued_wall REAL NOT NULL
);
"""
_NOW_WALL = "(julianday('now') - 2440587.5) * 86400.0"


class RecordError(RigError, OSError):
    """The records cannot be written (full disk, read-only, corrupt file)."""


def _why(exc: Exception, data_dir: Path) -> str:
    """SQLite reports a full disk as a "disk I/O error" when it fails to make its WAL index:
    name the real cause, or a technician goes looking for a failing SD card."""
    text = str(exc)
    try:
        full = shutil.disk_usage(data_dir).free == 0
    except OSError:
        full = False
    return f"{text} (the disk is full)" if full and "full" not in text else text


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


@dataclass(frozen=True, eq=False)  # each write is itself (hashed by identity), never equal
class _Write:
    """One statement for the next commit; `number` keeps the order writes were asked in."""

    number: int
    sql: str
    params: tuple[Any, ...]
    outbox: str | None
    ref: int | None


class RecordStore:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / DB_NAME
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed step survives a power cut too, not only a crash.
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)
            self._db.executescript(_SWITCH_CUTS)
            self._migrate()
            self._db.executescript(_JOBS_INDEXES)
            self._add_outbox()
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except (OSError, sqlite3.Error) as exc:
            raise RecordError(
                f"records at {self.path}: cannot open for writing: {_why(exc, data_dir)}"
            ) from None
        self._lock = threading.Lock()
        self._seq: dict[int, int] = {}
        self._numbers = itertools.count()
        self._commits: Batched[_Write, int | RecordError] = Batched(self._commit)

    def _migrate(self) -> None:
        """Bring a file written by an older rig up to this schema (columns only ever added)."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(jobs)")}
        if "firmware_before" not in columns:
            self._db.execute("ALTER TABLE jobs ADD COLUMN firmware_before TEXT")
        if "first_job_id" not in columns:
            self._db.execute("ALTER TABLE jobs ADD COLUMN first_job_id INTEGER")
        for qa_column in ("qa", "qa_check"):  # the QA pass (rig.procedures.qa)
            if qa_column not in columns:
                self._db.execute(f"ALTER TABLE jobs ADD COLUMN {qa_column} TEXT")
        bay = next(row for row in self._db.execute("PRAGMA table_info(jobs)") if row[1] == "bay")
        if bay[3]:  # NOT NULL: written before a job could use no bay
            self._allow_jobs_without_a_bay()

    def _allow_jobs_without_a_bay(self) -> None:
        """Rebuild `jobs` with a nullable `bay` (SQLite cannot drop a NOT NULL in place), and
        take the made-up bay "network" off the software resets recorded before."""
        columns = ", ".join(row[1] for row in self._db.execute("PRAGMA table_info(jobs)"))
        self._db.execute("PRAGMA foreign_keys=OFF")  # steps point at jobs while it is rebuilt
        try:
            with self._db:
                self._db.execute("BEGIN")
                self._db.execute(_JOBS_TABLE.format(name="jobs_rebuilt"))
                self._db.execute(f"INSERT INTO jobs_rebuilt ({columns}) SELECT {columns} FROM jobs")
                self._db.execute("DROP TABLE jobs")
                self._db.execute("ALTER TABLE jobs_rebuilt RENAME TO jobs")
                self._db.execute(
                    "UPDATE jobs SET bay = NULL"
                    " WHERE bay = 'network' AND procedure LIKE 'software-%'"
                )
        finally:
            self._db.execute("PRAGMA foreign_keys=ON")

    def _add_outbox(self) -> None:
        """The fleet's outbox; a file from before it queues its whole history once, so a rig
        joining a fleet brings the records it already has."""
        tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master")}
        if "outbox" in tables:
            return
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(_OUTBOX)
            self._db.execute(
                "INSERT INTO outbox (kind, ref, queued_wall)"
                f" SELECT 'job', id, {_NOW_WALL} FROM jobs ORDER BY id"
            )
            self._db.execute(
                "INSERT INTO outbox (kind, ref, queued_wall)"
                f" SELECT 'step', id, {_NOW_WALL} FROM steps ORDER BY id"
            )

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> RecordStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(
        self,
        sql: str,
        params: tuple[Any, ...],
        *,
        outbox: str | None = None,
        ref: int | None = None,
    ) -> int:
        """One statement, and its outbox entry (`outbox` the table it writes, `ref` the row,
        else the row it inserts) committed with it; returns the row it inserted. It returns
        once committed, but in one transaction with the writes of every other bay that came
        at the same moment (group commit: 48 bays ending a step together cost a few fsyncs,
        not 48 in a row, each waiting behind the others)."""
        result = self._commits.get(_Write(next(self._numbers), sql, params, outbox, ref))
        if isinstance(result, RecordError):
            raise result
        return result

    def _commit(self, writes: frozenset[_Write]) -> dict[_Write, int | RecordError]:
        """The writes asked for since the last commit, in the order asked, in one transaction;
        if it fails, each in its own, so a write fails only for a reason of its own."""
        ordered = sorted(writes, key=lambda w: w.number)
        with self._lock:
            try:
                with self._db:
                    self._db.execute("BEGIN IMMEDIATE")
                    return {w: self._execute(w) for w in ordered}
            except sqlite3.Error:
                pass  # rolled back: one by one below
            out: dict[_Write, int | RecordError] = {}
            for write in ordered:
                try:
                    with self._db:
                        self._db.execute("BEGIN IMMEDIATE")
                        out[write] = self._execute(write)
                except sqlite3.Error as exc:
                    out[write] = RecordError(f"records at {self.path}: write failed: {exc}")
            return out

    def _execute(self, write: _Write) -> int:
        rowid = self._db.execute(write.sql, write.params).lastrowid or 0
        if write.outbox is not None:
            self._db.execute(
                f"INSERT INTO outbox (kind, ref, queued_wall) VALUES (?, ?, {_NOW_WALL})",
                (write.outbox, rowid if write.ref is None else write.ref),
            )
        return rowid

    # -- writing -----------------------------------------------------------------------

    def start_job(
        self,
        *,
        station: str,
        bay: str | None,
        profile: str,
        plan: Plan,
        wall: float,
        attempt: int = 1,
        first_job_id: int | None = None,
    ) -> int:
        job_id = self._write(
            "INSERT INTO jobs (station, bay, profile, procedure, attempt, first_job_id,"
            " scanned_serial, target_hold_s, started_wall, plan_json)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                station,
                bay,
                profile,
                plan.procedure,
                attempt,
                first_job_id,
                plan.scanned_serial,
                plan.hold_s,
                wall,
                _json(asdict(plan)),
            ),
            outbox="job",
        )
        self._seq[job_id] = 0
        return job_id

    def add_step(self, job_id: int, step: Step) -> None:
        self._seq[job_id] = self._seq.get(job_id, 0) + 1
        self._write(
            "INSERT INTO steps (job_id, seq, name, started_mono, ended_mono, started_wall,"
            " details_json, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                job_id,
                self._seq[job_id],
                step.name,
                step.started_mono,
                step.ended_mono,
                step.started_wall,
                _json(step.details),
                step.error,
            ),
            outbox="step",
        )

    def set_unit(self, job_id: int, unit: Unit) -> None:
        self._write(
            # The first firmware seen for the job is the one before the reset.
            "UPDATE jobs SET serial=?, mac=?, model=?, firmware=?, unit_json=?,"
            " firmware_before=COALESCE(firmware_before, ?) WHERE id=?",
            (
                unit.serial,
                unit.mac,
                unit.model,
                unit.firmware,
                _json(unit.as_dict()),
                unit.firmware,
                job_id,
            ),
            outbox="job",
            ref=job_id,
        )

    def set_plan(self, job_id: int, plan: Plan) -> None:
        """The plan as the procedure changed it while running (a learned hold, rig.holds):
        the target hold goes with it, so the records say what the job set out to hold."""
        self._write(
            "UPDATE jobs SET plan_json=?, target_hold_s=? WHERE id=?",
            (_json(asdict(plan)), plan.hold_s, job_id),
            outbox="job",
            ref=job_id,
        )

    def finish_job(self, job_id: int, result: Result, wall: float) -> None:
        self.set_unit(job_id, result.unit)
        self._write(
            "UPDATE jobs SET outcome=?, reason=?, hold_s=?, ended_wall=?, evidence_json=?,"
            " qa=?, qa_check=? WHERE id=?",
            (
                result.outcome.value,
                result.reason,
                result.hold_s,
                wall,
                _json(result.evidence),
                result.qa,
                result.qa_check,
                job_id,
            ),
            outbox="job",
            ref=job_id,
        )

    def mark_interrupted(self, wall: float) -> list[int]:
        """Jobs that were running when the station died end `aborted` (reason interrupted)."""
        with self._lock:
            ids = [r[0] for r in self._db.execute("SELECT id FROM jobs WHERE outcome IS NULL")]
        for job_id in ids:
            self._write(
                "UPDATE jobs SET outcome='aborted', reason='interrupted', ended_wall=?"
                " WHERE id=? AND outcome IS NULL",
                (wall, job_id),
                outbox="job",
                ref=job_id,
            )
        return ids

    # -- reading -----------------------------------------------------------------------

    def jobs(self, *, since_wall: float | None = None) -> list[dict[str, Any]]:
        sql = "SELECT * FROM jobs"
        params: tuple[Any, ...] = ()
        if since_wall is not None:
            sql += " WHERE started_wall >= ?"
            params = (since_wall,)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY id", params).fetchall()
        return [self._job_dict(row) for row in rows]

    def job(self, job_id: int) -> dict[str, Any]:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        if row is None:
            raise KeyError(job_id)
        return self._job_dict(row)

    def steps(self, job_id: int) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM steps WHERE job_id=? ORDER BY seq", (job_id,)
            ).fetchall()
        return [
            {
                "name": r["name"],
                "started_mono": r["started_mono"],
                "ended_mono": r["ended_mono"],
                "started_wall": r["started_wall"],
                "details": json.loads(r["details_json"]),
                "error": r["error"],
            }
            for r in rows
        ]

    def hold_attempts(
        self, key: str, *, procedures: tuple[str, ...], outcomes: tuple[str, ...], limit: int
    ) -> list[dict[str, Any]]:
        """The latest `limit` finished attempts of the model `key` (its SADP model, else the
        job's profile) with these procedures and outcomes, newest first: the job, its target
        hold, its outcome, and who the unit was (rig.holds). One walk of jobs_hold_key."""
        marks = ", ".join("?" * len(procedures)), ", ".join("?" * len(outcomes))
        with self._lock:
            rows = self._db.execute(
                "SELECT id, first_job_id, mac, serial, target_hold_s, outcome FROM jobs"
                f" WHERE {_HOLD_KEY} = ? AND procedure IN ({marks[0]})"
                f" AND outcome IN ({marks[1]}) ORDER BY id DESC LIMIT ?",
                (key, *procedures, *outcomes, limit),
            ).fetchall()
        return [dict(row) for row in rows]

    def hold_keys(self, *, procedures: tuple[str, ...]) -> list[str]:
        """Every model (or profile, for a unit whose model is unknown) with attempts of these
        procedures on record, for `rig profiles --learned`."""
        marks = ", ".join("?" * len(procedures))
        with self._lock:
            rows = self._db.execute(
                f"SELECT DISTINCT {_HOLD_KEY} FROM jobs WHERE procedure IN ({marks})"
                f" ORDER BY {_HOLD_KEY}",
                procedures,
            ).fetchall()
        return [row[0] for row in rows if row[0] is not None]

    def last_press(self, bay: str) -> tuple[float, float] | None:
        """(wall time the pin went up, seconds it was down) of the bay's last press."""
        with self._lock:
            row = self._db.execute(
                "SELECT s.started_wall, s.started_mono, s.ended_mono, s.details_json"
                " FROM steps s JOIN jobs j ON j.id = s.job_id"
                " WHERE j.bay=? AND s.name=? ORDER BY s.id DESC LIMIT 1",
                (bay, StepName.HOLD.value),
            ).fetchone()
        if row is None:
            return None
        details = json.loads(row["details_json"])
        pressed_s = details.get("pressed_s") or details.get("hold_s") or 0.0
        if row["ended_mono"] is None:
            return None
        released_wall = row["started_wall"] + (row["ended_mono"] - row["started_mono"])
        return released_wall, float(pressed_s)

    def _job_dict(self, row: sqlite3.Row) -> dict[str, Any]:
        names = row.keys()  # iterating a Row itself yields values, not column names
        job = {k: row[k] for k in names if not k.endswith("_json")}
        job["job_id"] = job.pop("id")
        job["plan"] = json.loads(row["plan_json"])
        job["unit"] = json.loads(row["unit_json"]) if row["unit_json"] else None
        job["evidence"] = json.loads(row["evidence_json"]) if row["evidence_json"] else []
        job["steps"] = self.steps(job["job_id"])
        return job

    # -- switch ports cut (rig.hardware.switch) -------------------------------------------

    def mark_port_cut(self, switch: str, group: int, port: int, bay: str) -> None:
        self._write(
            "INSERT OR REPLACE INTO switch_cuts (switch, grp, port, bay, since_wall)"
            " VALUES (?, ?, ?, ?, ?)",
            (switch, group, port, bay, time.time()),
        )

    def clear_port_cut(self, switch: str, group: int, port: int) -> None:
        self._write(
            "DELETE FROM switch_cuts WHERE switch = ? AND grp = ? AND port = ?",
            (switch, group, port),
        )

    def ports_left_cut(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM switch_cuts ORDER BY since_wall").fetchall()
        return [dict(row) for row in rows]
