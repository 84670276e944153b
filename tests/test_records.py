"""Records: committed step by step (a crash loses nothing finished), exported as JSON and CSV."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from rig.clock import FakeClock
from rig.config import parse_config
from rig.job import Step, Verdict
from rig.jobs import carry_over_rest, plan_for
from rig.outcomes import Outcome
from rig.records.export import to_csv, to_json
from rig.records.store import RecordError, RecordStore
from tests.fakes import ScriptedVerifier, run_bay_job
from tests.test_procedure import make_bay

HANG_S = 20.0

CONFIG = parse_config(
    '[station]\nname = "bench-1"\n[[bays]]\nname = "A"\npower = { gpio = 17 }\n'
    'presser = { gpio = 27 }\nprofile = "DS-2CD2143G2-I"\nverify = "manual"\n'
)


def committed(path: Path) -> tuple[list[str], list[tuple[object, ...]]]:
    """What another process reading the file sees right now."""
    db = sqlite3.connect(path)
    try:
        steps = [r[0] for r in db.execute("SELECT name FROM steps ORDER BY id")]
        jobs = db.execute("SELECT id, outcome, serial FROM jobs").fetchall()
    finally:
        db.close()
    return steps, jobs


def test_steps_are_committed_as_they_end(
    pins: MockFactory, clock: FakeClock, data_dir: Path
) -> None:
    bay_cfg = CONFIG.bays[0]
    seen_mid_job: list[tuple[list[str], list[tuple[object, ...]]]] = []
    with RecordStore(data_dir) as store:
        verifier = ScriptedVerifier(clock)
        real_wait_back = verifier.wait_back

        def look_then_wait(timeout_s: float) -> Verdict | None:
            seen_mid_job.append(committed(store.path))
            return real_wait_back(timeout_s)

        verifier.wait_back = look_then_wait  # type: ignore[method-assign]
        report = run_bay_job(
            store,
            clock,
            hw=make_bay(pins, clock),
            verifier=verifier,
            plan=plan_for(bay_cfg, scanned_serial="AAWRJ12345678"),
        )
    steps, jobs = seen_mid_job[0]
    assert steps == ["identify", "power_off", "press", "power_on", "hold"]
    # The job is open (no outcome) but who the unit is was already on record.
    assert jobs == [(report.job_id, None, "DS-2CD2143G2-I20230815AAWRJ12345678")]
    steps, jobs = committed(data_dir / "rig.sqlite3")
    assert steps[-3:] == ["wait_back", "verify", "safe"]
    assert jobs == [(report.job_id, "reset_verified", "DS-2CD2143G2-I20230815AAWRJ12345678")]


def test_job_record_and_exports(pins: MockFactory, clock: FakeClock, data_dir: Path) -> None:
    bay_cfg = CONFIG.bays[0]
    with RecordStore(data_dir) as store:
        run_bay_job(
            store,
            clock,
            hw=make_bay(pins, clock),
            verifier=ScriptedVerifier(clock, verdict=Verdict(Outcome.NOT_RESET, "still active")),
            plan=plan_for(bay_cfg, scanned_serial="AAWRJ12345678"),
        )
        jobs = store.jobs()
    job = jobs[0]
    assert job["outcome"] == "not_reset"
    assert job["hold_s"] == pytest.approx(18.0)
    assert job["target_hold_s"] == 18.0
    assert job["mac"] == "aa-bb-cc-00-11-22"
    assert job["plan"]["off_s"] == 5.0
    hold = next(s for s in job["steps"] if s["name"] == "hold")
    assert hold["ended_mono"] - hold["started_mono"] == pytest.approx(18.0)

    exported = json.loads(to_json(jobs))
    assert exported[0]["outcome"] == "not_reset"
    assert exported[0]["started"].startswith("2026-")
    rows = list(csv.DictReader(io.StringIO(to_csv(jobs))))
    assert rows[0]["serial"] == "DS-2CD2143G2-I20230815AAWRJ12345678"
    assert rows[0]["outcome"] == "not_reset"
    assert float(rows[0]["hold_s"]) == pytest.approx(18.0)
    assert rows[0]["station"] == "bench-1"


def test_the_rest_carries_over_between_runs(
    pins: MockFactory, clock: FakeClock, data_dir: Path
) -> None:
    bay_cfg = CONFIG.bays[0]
    with RecordStore(data_dir) as store:
        run_bay_job(
            store,
            clock,
            hw=make_bay(pins, clock),
            verifier=ScriptedVerifier(clock),
            plan=plan_for(bay_cfg, scanned_serial=None),
        )
    pins.reset()
    # A new process five seconds later: the solenoid worked 18.05 s and must rest the rest.
    clock.sleep(5)
    with RecordStore(data_dir) as store:
        hw = make_bay(pins, clock)
        carry_over_rest(store, hw, clock)
        assert hw.presser.rest_remaining_s() == pytest.approx(18.05 - 5, abs=0.01)


def test_interrupted_jobs_are_marked(clock: FakeClock, data_dir: Path) -> None:
    with RecordStore(data_dir) as store:
        job_id = store.start_job(
            station="s",
            bay="A",
            profile="p",
            plan=plan_for(CONFIG.bays[0], scanned_serial=None),
            wall=clock.wall(),
        )
        assert store.mark_interrupted(clock.wall()) == [job_id]
        assert store.job(job_id)["outcome"] == "aborted"
        assert store.job(job_id)["reason"] == "interrupted"


def test_unwritable_records_are_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with pytest.raises(RecordError, match="cannot open for writing"):
        RecordStore(blocker / "records")


def test_a_second_station_on_the_same_records_refuses(tmp_path: Path) -> None:
    from rig.records.lock import DataDirLock, StationBusy

    busy = rf"another rig \(pid {os.getpid()}\) is using"
    with DataDirLock(tmp_path), pytest.raises(StationBusy, match=busy):
        DataDirLock(tmp_path).acquire()
    DataDirLock(tmp_path).acquire().release()  # free again once the first let go


V1_SCHEMA = """
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, station TEXT NOT NULL, bay TEXT NOT NULL,
    profile TEXT NOT NULL, procedure TEXT NOT NULL, attempt INTEGER NOT NULL DEFAULT 1,
    scanned_serial TEXT, serial TEXT, mac TEXT, model TEXT, firmware TEXT,
    target_hold_s REAL NOT NULL, hold_s REAL, outcome TEXT, reason TEXT,
    started_wall REAL NOT NULL, ended_wall REAL, plan_json TEXT NOT NULL, unit_json TEXT,
    evidence_json TEXT
);
CREATE TABLE steps (
    id INTEGER PRIMARY KEY AUTOINCREMENT, job_id INTEGER NOT NULL REFERENCES jobs(id),
    seq INTEGER NOT NULL, name TEXT NOT NULL, started_mono REAL NOT NULL, ended_mono REAL,
    started_wall REAL NOT NULL, details_json TEXT NOT NULL, error TEXT
);
INSERT INTO jobs (station, bay, profile, procedure, target_hold_s, outcome, started_wall,
    plan_json) VALUES ('s', 'A', 'p', 'power-cycle-hold', 18, 'reset_verified', 1, '{}');
INSERT INTO jobs (station, bay, profile, procedure, target_hold_s, outcome, started_wall,
    plan_json) VALUES ('s', 'network', 'p', 'software-full', 0, 'reset_verified', 2, '{}');
INSERT INTO steps (job_id, seq, name, started_mono, started_wall, details_json)
    VALUES (2, 1, 'find', 0, 2, '{}');
"""


def test_records_of_an_older_rig_are_migrated(clock: FakeClock, data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    old = sqlite3.connect(data_dir / "rig.sqlite3")
    old.executescript(V1_SCHEMA)
    old.close()
    with RecordStore(data_dir) as store:
        hard, soft = store.jobs()
        # The made-up bay "network" of the old software resets is gone; real bays stay.
        assert (hard["bay"], soft["bay"]) == ("A", None)
        assert [s["name"] for s in soft["steps"]] == ["find"]
        assert hard["firmware_before"] is None and hard["first_job_id"] is None
        plan = plan_for(CONFIG.bays[0], scanned_serial=None)
        job_id = store.start_job(station="s", bay=None, profile="p", plan=plan, wall=3.0)
        assert store.job(job_id)["bay"] is None
    with RecordStore(data_dir) as store:  # a second open finds nothing left to migrate
        assert [j["bay"] for j in store.jobs()] == ["A", None, None]


def test_a_job_left_running_is_closed_by_the_next_command_that_opens_the_records(
    clock: FakeClock, data_dir: Path
) -> None:
    from rig.records.lock import DataDirLock
    from rig.session import open_records

    plan = plan_for(CONFIG.bays[0], scanned_serial=None)
    with RecordStore(data_dir) as store:
        job_id = store.start_job(station="s", bay="A", profile="p", plan=plan, wall=1.0)
    # While another rig holds the lock, the open job may be its own: a reader leaves it.
    with DataDirLock(data_dir), open_records(data_dir, clock) as store:
        assert store.job(job_id)["outcome"] is None
    # Nobody holds it: the rig that ran the job died with it.
    with open_records(data_dir, clock) as store:
        assert (store.job(job_id)["outcome"], store.job(job_id)["reason"]) == (
            "aborted",
            "interrupted",
        )
    DataDirLock(data_dir).acquire().release()  # and the reader let the lock go


def test_steps_ending_together_share_one_commit_and_a_bad_write_fails_alone(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Group commit: the writes that come while a commit runs are committed together by the
    next one, each caller returning once its row is on disk; one that fails fails alone."""
    with RecordStore(data_dir) as store:
        plan = plan_for(CONFIG.bays[0], scanned_serial=None)
        jobs = [store.start_job(station="s", bay="A", profile="p", plan=plan, wall=0.0)]
        jobs += [store.start_job(station="s", bay="B", profile="p", plan=plan, wall=0.0)]
        gate, first_in = threading.Event(), threading.Event()
        real_execute = store._execute

        def held_first(write: Any) -> int:
            if not first_in.is_set():
                first_in.set()
                assert gate.wait(HANG_S)
            return real_execute(write)

        monkeypatch.setattr(store, "_execute", held_first)
        commits_before = store._commits.reads
        errors: dict[str, Exception] = {}

        def write(name: str, job_id: int) -> None:
            try:
                store.add_step(job_id, Step(name, 0.0, 0.0, 0.0))
            except Exception as exc:
                errors[name] = exc

        first = threading.Thread(target=write, args=("first", jobs[0]))
        first.start()
        assert first_in.wait(HANG_S)  # its commit is under way and held
        others = [threading.Thread(target=write, args=(f"s{n}", jobs[n % 2])) for n in range(6)]
        others.append(threading.Thread(target=write, args=("orphan", 999_999)))  # no such job
        for thread in others:
            thread.start()
        while sum(store._commits._waiting.values()) < 8:  # all have asked
            threading.Event().wait(0.01)
        gate.set()
        for thread in [first, *others]:
            thread.join(HANG_S)
        assert store._commits.reads - commits_before == 2  # the held one, then one for seven
        assert list(errors) == ["orphan"] and "write failed" in str(errors["orphan"])
        steps, _ = committed(store.path)
        assert sorted(steps) == sorted(["first", *(f"s{n}" for n in range(6))])
