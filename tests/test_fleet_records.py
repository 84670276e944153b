"""The fleet's records: each rig's SQLite outbox uploaded to one real PostgreSQL (started on
127.0.0.1 by tests/servers.py), exactly once, in order, through the server being killed and
restarted, with two stations' equal local ids kept apart."""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

import psycopg
import pytest
from gpiozero.pins.mock import MockFactory

from rig.clock import FakeClock
from rig.config import parse_config
from rig.errors import ConfigError
from rig.fleet.outbox import Outbox
from rig.fleet.queries import fleet_jobs, open_fleet, station_backlogs
from rig.fleet.schema import VERSION, FleetSchemaError, ensure_schema
from rig.fleet.sender import OutboxSender
from rig.fleet.settings import PostgresSettings
from rig.job import Verdict
from rig.jobs import plan_for
from rig.outcomes import Outcome
from rig.records.store import RecordStore
from rig.records.units import units_from_jobs
from tests.fakes import ScriptedVerifier, run_bay_job, wait_until
from tests.servers import PG_PASSWORD, PostgresServer
from tests.test_procedure import make_bay

BAY = parse_config(
    '[[bays]]\nname = "A"\npower = { gpio = 17 }\npresser = { gpio = 27 }\n'
    'profile = "DS-2CD2143G2-I"\nverify = "manual"\n'
).bays[0]


def record_units(
    store: RecordStore, pins: MockFactory, clock: FakeClock, n: int, *, station: str
) -> list[int]:
    """`n` jobs through the real job runner on a fake clock, alternately verified and not."""
    hw = make_bay(pins, clock)
    ids = []
    try:
        for i in range(n):
            outcome = Outcome.RESET_VERIFIED if i % 2 == 0 else Outcome.NOT_RESET
            report = run_bay_job(
                store,
                clock,
                hw=hw,
                verifier=ScriptedVerifier(clock, verdict=Verdict(outcome, f"u{i}")),
                plan=plan_for(BAY, scanned_serial=f"AAWRJ{i:08d}"),
                station=station,
            )
            ids.append(report.job_id)
    finally:
        hw.close()
    return ids


def local_rows(data_dir: Path) -> tuple[dict[int, str | None], int]:
    db = sqlite3.connect(data_dir / "rig.sqlite3")
    try:
        jobs = dict(db.execute("SELECT id, outcome FROM jobs").fetchall())
        steps = db.execute("SELECT count(*) FROM steps").fetchone()[0]
    finally:
        db.close()
    return jobs, steps


def fleet_rows(url: str, station: str) -> tuple[dict[int, str | None], int, int]:
    """The station's jobs in the fleet database, its steps, and any step seq seen twice."""
    with psycopg.connect(url) as conn:
        jobs = dict(
            conn.execute(
                "SELECT local_id, outcome FROM rig.jobs WHERE station = %s", (station,)
            ).fetchall()
        )
        steps = conn.execute(
            "SELECT count(*) FROM rig.steps WHERE station = %s", (station,)
        ).fetchone()
        twice = conn.execute(
            "SELECT count(*) FROM (SELECT job_local_id, seq FROM rig.steps WHERE station = %s"
            " GROUP BY job_local_id, seq HAVING count(*) > 1) AS d",
            (station,),
        ).fetchone()
    assert steps is not None and twice is not None
    return jobs, int(steps[0]), int(twice[0])


def sender_for(url: str, data_dir: Path, station: str, **kw: float) -> OutboxSender:
    return OutboxSender(
        PostgresSettings(url), Outbox(data_dir), station=station, poll_s=0.05, **kw
    ).start()


def test_every_job_and_step_arrives_exactly_once(
    pg_url: str, pins: MockFactory, clock: FakeClock, tmp_path: Path
) -> None:
    with RecordStore(tmp_path) as store:
        record_units(store, pins, clock, 3, station="bench-1")
        sender = sender_for(pg_url, tmp_path, "bench-1")
        try:
            assert sender.flush(30, patient=True)
            # More records while it runs: they follow, the ones sent are not sent again.
            record_units(store, pins, clock, 2, station="bench-1")
            assert sender.flush(30, patient=True)
        finally:
            sender.close()
    jobs, steps = local_rows(tmp_path)
    assert fleet_rows(pg_url, "bench-1") == (jobs, steps, 0)
    assert set(jobs.values()) == {"reset_verified", "not_reset"}
    with Outbox(tmp_path) as outbox:
        assert outbox.backlog().pending == 0
    # Sending the same rows again (a commit the rig never heard of) changes nothing.
    with RecordStore(tmp_path) as store:
        store._db.execute(
            "INSERT INTO outbox (kind, ref, queued_wall) SELECT 'job', id, 0 FROM jobs"
        )
        store._db.execute(
            "INSERT INTO outbox (kind, ref, queued_wall) SELECT 'step', id, 0 FROM steps"
        )
    sender = sender_for(pg_url, tmp_path, "bench-1")
    try:
        assert sender.flush(30, patient=True)
    finally:
        sender.close()
    assert fleet_rows(pg_url, "bench-1") == (jobs, steps, 0)


def test_the_fleet_copy_reads_back_as_the_local_records(
    pg_url: str, pins: MockFactory, clock: FakeClock, tmp_path: Path
) -> None:
    with RecordStore(tmp_path) as store:
        record_units(store, pins, clock, 2, station="bench-1")
        local = store.jobs()
    sender = sender_for(pg_url, tmp_path, "bench-1")
    try:
        assert sender.flush(30, patient=True)
    finally:
        sender.close()
    with open_fleet(PostgresSettings(pg_url)) as conn:
        remote = fleet_jobs(conn)
    assert remote == local


def test_server_killed_mid_upload_then_back_no_duplicate_no_gap(
    pins: MockFactory,
    clock: FakeClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A server of its own: this test kills it.
    server = PostgresServer().init()
    try:
        monkeypatch.setenv("PGPASSWORD", PG_PASSWORD)
        url = server.url()
        with RecordStore(tmp_path) as store:
            record_units(store, pins, clock, 60, station="bench-1")
            sender = sender_for(url, tmp_path, "bench-1", batch_size=10, max_backoff_s=0.5)
            try:
                assert wait_until(lambda: sender.sent_entries > 0, timeout_s=30) is not None
                server.kill()
                with caplog.at_level(logging.WARNING, logger="rig.fleet.sender"):
                    assert wait_until(lambda: sender.failures > 0, timeout_s=30) is not None
                    with Outbox(tmp_path) as outbox:
                        assert outbox.backlog().pending > 0  # killed mid-backlog
                    # The station goes on recording while the server is away.
                    record_units(store, pins, clock, 5, station="bench-1")
                    with Outbox(tmp_path) as outbox:
                        assert outbox.backlog().pending > 0
                    server.start()
                    assert sender.flush(60, patient=True)
            finally:
                sender.close()
        jobs, steps = local_rows(tmp_path)
        assert len(jobs) == 65
        assert fleet_rows(url, "bench-1") == (jobs, steps, 0)
        outages = [r for r in caplog.records if "unreachable" in r.getMessage()]
        assert len(outages) == 1  # once per outage, not once per retry
        assert PG_PASSWORD not in caplog.text
    finally:
        server.close()


def test_two_stations_with_the_same_local_ids_do_not_collide(
    pg_url: str, pins: MockFactory, clock: FakeClock, tmp_path: Path
) -> None:
    dirs = {"bench-1": tmp_path / "one", "bench-2": tmp_path / "two"}
    ids = {}
    for station, data_dir in dirs.items():
        with RecordStore(data_dir) as store:
            ids[station] = record_units(store, pins, clock, 2, station=station)
    assert ids["bench-1"] == ids["bench-2"]  # each SQLite file counts from 1
    senders = [sender_for(pg_url, d, s) for s, d in dirs.items()]
    try:
        assert all(s.flush(30, patient=True) for s in senders)
    finally:
        for s in senders:
            s.close()
    for station, data_dir in dirs.items():
        jobs, steps = local_rows(data_dir)
        assert fleet_rows(pg_url, station) == (jobs, steps, 0)
    with open_fleet(PostgresSettings(pg_url)) as conn:
        units = units_from_jobs(fleet_jobs(conn))
        backlogs = station_backlogs(conn)
    assert sorted((u.last.station, u.first.job_id) for u in units) == sorted(
        (s, i) for s in dirs for i in ids[s]
    )
    assert [(b.station, b.outbox_pending, b.jobs) for b in backlogs] == [
        ("bench-1", 0, 2),
        ("bench-2", 0, 2),
    ]


def test_a_rig_joining_a_fleet_brings_the_records_it_already_had(
    pg_url: str, pins: MockFactory, clock: FakeClock, tmp_path: Path
) -> None:
    with RecordStore(tmp_path) as store:
        record_units(store, pins, clock, 2, station="bench-1")
    # A records file from before the outbox: no outbox table yet.
    db = sqlite3.connect(tmp_path / "rig.sqlite3")
    db.execute("DROP TABLE outbox")
    db.commit()
    db.close()
    RecordStore(tmp_path).close()  # the next start migrates it, queueing its history
    sender = sender_for(pg_url, tmp_path, "bench-1")
    try:
        assert sender.flush(30, patient=True)
    finally:
        sender.close()
    jobs, steps = local_rows(tmp_path)
    assert fleet_rows(pg_url, "bench-1") == (jobs, steps, 0)


def test_schema_is_created_once_by_rigs_starting_together(pg_url: str) -> None:
    errors: list[BaseException] = []

    def start() -> None:
        try:
            with open_fleet(PostgresSettings(pg_url)) as conn:
                assert ensure_schema(conn) == VERSION
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with psycopg.connect(pg_url) as conn:
        versions = conn.execute("SELECT version FROM rig.schema_version").fetchall()
        assert versions == [(v,) for v in range(1, VERSION + 1)]
        conn.execute("INSERT INTO rig.schema_version VALUES (%s)", (VERSION + 1,))
    with pytest.raises(FleetSchemaError, match="upgrade this rig"):
        open_fleet(PostgresSettings(pg_url))


def test_the_password_comes_from_the_environment_only(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # In the URL: refused, naming the key, and the message does not repeat the password.
    url_with_password = pg_url.replace("rig@", f"rig:{PG_PASSWORD}@")
    with pytest.raises(ConfigError) as refused:
        parse_config(f'[fleet]\npostgres = "{url_with_password}"\n', need_bays=False)
    assert "rig.toml: fleet.postgres: holds a password" in str(refused.value)
    assert PG_PASSWORD not in str(refused.value)
    # A named variable of the environment.
    monkeypatch.delenv("PGPASSWORD")
    config = parse_config(
        f'[fleet]\npostgres = "{pg_url}"\npostgres_password_env = "LAB_DB_PASSWORD"\n',
        need_bays=False,
    )
    settings = config.fleet.postgres
    assert settings is not None
    with pytest.raises(ConfigError, match=r"fleet\.postgres_password_env: .* LAB_DB_PASSWORD"):
        settings.connect_kwargs()
    monkeypatch.setenv("LAB_DB_PASSWORD", PG_PASSWORD)
    with open_fleet(settings) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    # None at all: the server refuses, and the sender keeps trying (records wait locally).
    with pytest.raises(psycopg.OperationalError, match="password"):
        open_fleet(PostgresSettings(pg_url))


def test_a_libpq_service_file_names_the_database(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(pg_url)
    service = tmp_path / "pg_service.conf"
    service.write_text(
        "[lab]\n"
        + "".join(f"{key}={params[key]}\n" for key in ("host", "port", "user", "dbname"))
        + f"password={PG_PASSWORD}\n"
    )
    monkeypatch.setenv("PGSERVICEFILE", str(service))
    monkeypatch.delenv("PGPASSWORD")
    config = parse_config('[fleet]\npostgres = "service=lab"\n', need_bays=False)
    assert config.fleet.postgres is not None
    with open_fleet(config.fleet.postgres) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (params["dbname"],)


def test_a_rig_alone_keeps_no_outbox_and_brings_its_history_when_it_joins(
    pg_url: str, pins: MockFactory, clock: FakeClock, tmp_path: Path
) -> None:
    from rig.fleet.link import fleet_link
    from rig.progress import Progress

    alone = parse_config('[station]\nname = "bench-1"\n', need_bays=False)
    for _ in range(2):  # two runs of a rig with no fleet
        with RecordStore(tmp_path) as store, fleet_link(alone, tmp_path, Progress(clock)):
            record_units(store, pins, clock, 2, station="bench-1")
        with fleet_link(alone, tmp_path, Progress(clock)), Outbox(tmp_path) as outbox:
            assert outbox.backlog().pending == 0  # let go at the start of the next run
    joined = parse_config(
        f'[station]\nname = "bench-1"\n[fleet]\npostgres = "{pg_url}"\n', need_bays=False
    )
    with fleet_link(joined, tmp_path, Progress(clock)) as link:
        assert link.sender is not None and link.sender.flush(30, patient=True)
    jobs, steps = local_rows(tmp_path)
    assert len(jobs) == 4
    assert fleet_rows(pg_url, "bench-1") == (jobs, steps, 0)
