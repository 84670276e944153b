"""The background sender: the outbox uploaded to the lab's PostgreSQL, in order, idempotently.

One thread, far from every bay: it reads a batch of the outbox (rig.fleet.outbox), upserts its
rows in one PostgreSQL transaction (`ON CONFLICT (station, local_id)`: a batch sent twice,
because the server died between its commit and the rig hearing of it, changes nothing), and
only then lets the entries go. When the server is away it backs off (1 s, doubling, up to
`max_backoff_s`), says so once in the log, and catches up in order when it is back. A reset
never waits for it: the station writes its records to SQLite as before, the outbox with them.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

import psycopg

from rig import __version__
from rig.fleet.outbox import Backlog, Batch, Outbox
from rig.fleet.schema import ensure_schema
from rig.fleet.settings import PostgresSettings

log = logging.getLogger(__name__)

#: A rig idle (nothing to send) still says how it is this often: `rig fleet status`.
HEARTBEAT_S = 15.0

_UPSERT_JOB = """
INSERT INTO rig.jobs (station, local_id, bay, profile, procedure, attempt, first_job_id,
    scanned_serial, serial, mac, model, firmware, firmware_before, target_hold_s, hold_s,
    outcome, reason, started_wall, ended_wall, started_at, ended_at, plan, unit, evidence, extra)
VALUES (%(station)s, %(local_id)s, %(bay)s, %(profile)s, %(procedure)s, %(attempt)s,
    %(first_job_id)s, %(scanned_serial)s, %(serial)s, %(mac)s, %(model)s, %(firmware)s,
    %(firmware_before)s, %(target_hold_s)s, %(hold_s)s, %(outcome)s, %(reason)s,
    %(started_wall)s, %(ended_wall)s, to_timestamp(%(started_wall)s),
    to_timestamp(%(ended_wall)s), %(plan)s::jsonb, %(unit)s::jsonb, %(evidence)s::jsonb,
    %(extra)s::jsonb)
ON CONFLICT (station, local_id) DO UPDATE SET
    bay = EXCLUDED.bay, profile = EXCLUDED.profile, procedure = EXCLUDED.procedure,
    attempt = EXCLUDED.attempt, first_job_id = EXCLUDED.first_job_id,
    scanned_serial = EXCLUDED.scanned_serial, serial = EXCLUDED.serial, mac = EXCLUDED.mac,
    model = EXCLUDED.model, firmware = EXCLUDED.firmware,
    firmware_before = EXCLUDED.firmware_before, target_hold_s = EXCLUDED.target_hold_s,
    hold_s = EXCLUDED.hold_s, outcome = EXCLUDED.outcome, reason = EXCLUDED.reason,
    started_wall = EXCLUDED.started_wall, ended_wall = EXCLUDED.ended_wall,
    started_at = EXCLUDED.started_at, ended_at = EXCLUDED.ended_at, plan = EXCLUDED.plan,
    unit = EXCLUDED.unit, evidence = EXCLUDED.evidence, extra = EXCLUDED.extra,
    uploaded_at = now()
"""

# A step is written once, when it ends: a second copy is the same step.
_INSERT_STEP = """
INSERT INTO rig.steps (station, local_id, job_local_id, seq, name, started_mono, ended_mono,
    started_wall, details, error)
VALUES (%(station)s, %(local_id)s, %(job_local_id)s, %(seq)s, %(name)s, %(started_mono)s,
    %(ended_mono)s, %(started_wall)s, %(details)s::jsonb, %(error)s)
ON CONFLICT (station, local_id) DO NOTHING
"""

_UPSERT_STATION = """
INSERT INTO rig.stations (station, seen_at, outbox_pending, oldest_pending_at, rig_version)
VALUES (%s, now(), %s, to_timestamp(%s), %s)
ON CONFLICT (station) DO UPDATE SET seen_at = EXCLUDED.seen_at,
    outbox_pending = EXCLUDED.outbox_pending, oldest_pending_at = EXCLUDED.oldest_pending_at,
    rig_version = EXCLUDED.rig_version
"""


def connect(settings: PostgresSettings, *, timeout_s: float = 5.0) -> psycopg.Connection:
    """A connection to the fleet database. Keepalives and a TCP user timeout: a server that
    vanished from the network (not only one that closed the connection) is noticed."""
    return psycopg.connect(
        settings.conninfo,
        connect_timeout=max(2, round(timeout_s)),
        application_name="rig",
        keepalives=1,
        keepalives_idle=10,
        keepalives_interval=5,
        keepalives_count=3,
        tcp_user_timeout=30_000,
        autocommit=True,  # transactions are explicit (conn.transaction())
        **settings.connect_kwargs(),
    )


def why(exc: BaseException) -> str:
    """libpq's first line (never the conninfo's password: none is ever in it)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class OutboxSender:
    """Uploads the outbox of the records in `data_dir` to the fleet database until closed."""

    def __init__(
        self,
        settings: PostgresSettings,
        outbox: Outbox,
        *,
        station: str,
        poll_s: float = 0.5,
        batch_size: int = 200,
        max_backoff_s: float = 60.0,
    ) -> None:
        self._settings = settings
        self._outbox = outbox
        self._station = station
        self._poll_s = poll_s
        self._batch_size = batch_size
        self._max_backoff_s = max_backoff_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._conn: psycopg.Connection | None = None
        self._thread = threading.Thread(target=self._run, name="fleet-sender", daemon=True)
        self._lock = threading.Condition()
        self.sent_entries = 0  # outbox entries uploaded since start
        self.failures = 0  # failed attempts since start
        self.last_error: str | None = None
        self.down = False  # the last attempt failed: the server is away
        self._idle = False  # the outbox was found empty since the last entry was taken

    def start(self) -> OutboxSender:
        self._thread.start()
        return self

    def close(self, *, flush_s: float = 0.0) -> bool:
        """Stop, after trying up to `flush_s` to send what waits; True if nothing waits."""
        empty = self.flush(flush_s) if flush_s > 0 else False
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=2.0)
        if not self._thread.is_alive():  # else it is stuck in libpq: leave it to the daemon
            self._drop_connection()
            self._outbox.close()
        return empty

    def poke(self) -> None:
        """Something was queued: look now rather than at the next poll."""
        self._wake.set()

    def flush(self, timeout_s: float, *, patient: bool = False) -> bool:
        """Wait until the outbox is empty (True) or `timeout_s` has passed (False); unless
        `patient`, give up at once while the server is away or not reached yet."""
        self._wake.set()
        deadline = time.monotonic() + timeout_s
        with self._lock:
            self._idle = False
            while not self._idle:
                left = deadline - time.monotonic()
                # A server that is away (or not yet reached) is not waited for: the records
                # wait in the outbox for the next run.
                away = not patient and (self.down or self._conn is None)
                if left <= 0 or away or not self._thread.is_alive():
                    return False
                self._lock.wait(min(left, 0.2))
        return True

    # -- the thread --------------------------------------------------------------------------

    def _run(self) -> None:
        backoff_s = 1.0
        last_status = float("-inf")
        down_since: float | None = None
        while not self._stop.is_set():
            try:
                conn = self._connection()
                batch = self._outbox.take(self._batch_size)
                if batch is None:
                    if time.monotonic() - last_status >= HEARTBEAT_S:
                        self._say_status(conn)
                        last_status = time.monotonic()
                    with self._lock:
                        self._idle = True
                        self._lock.notify_all()
                else:
                    self._upload(conn, batch)
                    self._outbox.done(batch)
                    self.sent_entries += batch.entries
                    last_status = time.monotonic()
                # The server answered.
                self.down, backoff_s = False, 1.0
                if down_since is not None:
                    log.warning(
                        "fleet: PostgreSQL back after %.0f s; uploading the outbox",
                        time.monotonic() - down_since,
                    )
                    down_since = None
                if batch is None:
                    self._wait(self._poll_s)
            except (psycopg.Error, OSError) as exc:
                self.failures += 1
                self.last_error = why(exc)
                self.down = True
                self._drop_connection()
                if down_since is None:
                    down_since = time.monotonic()
                    # Once per outage, not once per retry: the journal stays readable.
                    log.warning(
                        "fleet: PostgreSQL unreachable (%s); records wait in the outbox",
                        self.last_error,
                    )
                self._wait(backoff_s)
                backoff_s = min(backoff_s * 2, self._max_backoff_s)
            except Exception:
                # A bug of ours must not end the uploads for the rest of the day.
                log.exception("fleet: sender failed; retrying")
                self._drop_connection()
                self._wait(backoff_s)
                backoff_s = min(backoff_s * 2, self._max_backoff_s)

    def _wait(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            conn = connect(self._settings)
            try:
                ensure_schema(conn)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None

    def _upload(self, conn: psycopg.Connection, batch: Batch) -> None:
        behind = self._outbox.backlog(after_id=batch.last_id)
        with conn.transaction(), conn.cursor() as cur:
            if batch.jobs:
                cur.executemany(_UPSERT_JOB, batch.jobs)
            if batch.steps:
                cur.executemany(_INSERT_STEP, batch.steps)
            self._station_row(cur, behind)

    def _say_status(self, conn: psycopg.Connection) -> None:
        with conn.transaction(), conn.cursor() as cur:
            self._station_row(cur, self._outbox.backlog())

    def _station_row(self, cur: psycopg.Cursor[Any], behind: Backlog) -> None:
        """How far this rig is behind, as it uploads: `rig fleet status` reads it."""
        cur.execute(
            _UPSERT_STATION,
            (self._station, behind.pending, behind.oldest_queued_wall, __version__),
        )
