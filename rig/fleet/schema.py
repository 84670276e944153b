"""The fleet database's tables, in a schema `rig` of its own: created and migrated by the rigs
themselves, the first one to connect doing it while the others wait (an advisory lock).

Every row is keyed by (station, local_id): the station's name and the row's id in that
station's own SQLite file. Two stations have the same local ids; they never collide, and an
upload sent twice (the server died before the rig heard the commit) changes nothing.
"""

from __future__ import annotations

import psycopg

from rig.errors import RigError

# Taken in the migrating transaction: any number of rigs may start at once.
_LOCK_KEY = 0x5269_6746_6C74  # "RigFlt"

#: One entry per schema version, never edited once released: a change is a new entry.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE rig.jobs (
        station         text NOT NULL,
        local_id        bigint NOT NULL,  -- the job's id in the station's SQLite records
        bay             text,             -- NULL: a software reset (no bay)
        profile         text NOT NULL,
        procedure       text NOT NULL,
        attempt         integer NOT NULL,
        first_job_id    bigint,           -- local id of attempt 1 at the same station
        scanned_serial  text,
        serial          text,
        mac             text,
        model           text,
        firmware        text,
        firmware_before text,
        target_hold_s   double precision NOT NULL,
        hold_s          double precision,
        outcome         text,             -- NULL: running
        reason          text,
        started_wall    double precision NOT NULL,
        ended_wall      double precision,
        started_at      timestamptz NOT NULL,
        ended_at        timestamptz,
        plan            jsonb NOT NULL,
        unit            jsonb,
        evidence        jsonb,
        extra           jsonb NOT NULL DEFAULT '{}',  -- columns this schema does not know yet
        uploaded_at     timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (station, local_id)
    );
    CREATE INDEX jobs_started ON rig.jobs (started_at);
    CREATE TABLE rig.steps (
        station       text NOT NULL,
        local_id      bigint NOT NULL,
        job_local_id  bigint NOT NULL,
        seq           integer NOT NULL,
        name          text NOT NULL,
        started_mono  double precision NOT NULL,
        ended_mono    double precision,
        started_wall  double precision NOT NULL,
        details       jsonb NOT NULL,
        error         text,
        PRIMARY KEY (station, local_id)
    );
    CREATE INDEX steps_job ON rig.steps (station, job_local_id, seq);
    CREATE TABLE rig.stations (
        station            text PRIMARY KEY,
        seen_at            timestamptz NOT NULL,  -- the rig's last upload or heartbeat
        outbox_pending     integer NOT NULL,      -- entries still waiting at that moment
        oldest_pending_at  timestamptz,
        rig_version        text
    );
    """,
)
VERSION = len(MIGRATIONS)


class FleetSchemaError(RigError):
    """The fleet database is newer than this rig (or not one of ours)."""


def ensure_schema(conn: psycopg.Connection) -> int:
    """Bring the fleet database to this rig's schema; the version it is at."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute("CREATE SCHEMA IF NOT EXISTS rig")
        conn.execute("CREATE TABLE IF NOT EXISTS rig.schema_version (version integer NOT NULL)")
        row = conn.execute("SELECT max(version) FROM rig.schema_version").fetchone()
        current = int(row[0]) if row and row[0] is not None else 0
        if current > VERSION:
            raise FleetSchemaError(
                f"the fleet database is at schema {current}, this rig knows {VERSION}:"
                " upgrade this rig"
            )
        for version in range(current + 1, VERSION + 1):
            conn.execute(MIGRATIONS[version - 1])
            conn.execute("INSERT INTO rig.schema_version (version) VALUES (%s)", (version,))
    return VERSION
