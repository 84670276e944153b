"""A lab of two rigs: two simulated stations, each with its own SQLite records, reset units at
the same time and feed one real PostgreSQL and one real Mosquitto on 127.0.0.1; the lab's
report, `rig fleet` and `rig fleet status` show both."""

from __future__ import annotations

import csv
import io
import json
import threading
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from rig.cli import main
from rig.clock import SystemClock
from rig.config import parse_config
from rig.records.store import RecordStore
from rig.sim.network import SimNetwork
from rig.station import Station
from tests.fakes import ScriptedOperator
from tests.servers import MosquittoBroker
from tests.test_station import Scans, config_text, label, wire


def station_toml(target: str, station: str, bay: str, pg_url: str, mqtt_url: str) -> str:
    text = config_text(target, bay).replace('name = "lab-1"', f'name = "{station}"', 1)
    return text + f'\n[fleet]\npostgres = "{pg_url}"\nmqtt = "{mqtt_url}"\n'


def test_two_stations_feed_one_database_and_one_broker(
    lab: tuple[MockFactory, SimNetwork],
    tmp_path: Path,
    pg_url: str,
    broker: MosquittoBroker,
    capsys: pytest.CaptureFixture[str],
) -> None:
    factory, network = lab
    stations = {"lab-1": "A", "lab-2": "B"}
    runs: dict[str, Station] = {}
    codes: dict[str, int] = {}
    threads = []
    for n, (name, bay) in enumerate(stations.items(), start=1):
        camera = wire(factory, network, bay, n)
        path = tmp_path / f"{name}.toml"
        path.write_text(station_toml(network.target, name, bay, pg_url, broker.url))
        scans = Scans()
        scans.scan(label(camera))
        scans.close()
        runs[name] = Station(
            parse_config(path.read_text(), str(path)),
            clock=SystemClock(),
            data_dir=tmp_path / name,
            operator=ScriptedOperator(),
            scans=scans,
            pin_factory=factory,
        )
        threads.append(
            threading.Thread(target=lambda s=name: codes.setdefault(s, runs[s].run()), name=name)
        )
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert codes == {"lab-1": 0, "lab-2": 0}
    local = {}
    for name in stations:
        with RecordStore(tmp_path / name) as store:
            local[name] = store.jobs()
    # Each SQLite file counts its jobs from 1: the same local ids, kept apart by station.
    assert [j["job_id"] for j in local["lab-1"]] == [j["job_id"] for j in local["lab-2"]] == [1]

    config = str(tmp_path / "lab-1.toml")
    assert main(["report", "--fleet", "--config", config, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert sorted((r["station"], r["bay"], r["job_id"], r["outcome"]) for r in rows) == [
        ("lab-1", "A", "1", "reset_verified"),
        ("lab-2", "B", "1", "reset_verified"),
    ]
    assert {r["serial"] for r in rows} == {j["serial"] for js in local.values() for j in js}

    page = tmp_path / "lab.html"
    assert main(["report", "--fleet", "--config", config, "--format", "html", "-o", str(page)]) == 0
    html = page.read_text()
    assert "Units per station" in html and "lab-1" in html and "lab-2" in html

    here = str(tmp_path / "lab-1")  # this rig's records: its own outbox, read locally
    assert main(["fleet", "status", "--config", config, "--data-dir", here, "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["station"] == "lab-1" and status["outbox_pending"] == 0
    assert [(s["station"], s["outbox_pending"], s["jobs"]) for s in status["stations"]] == [
        ("lab-1", 0, 1),
        ("lab-2", 0, 1),
    ]

    assert main(["fleet", "--config", config, "--json"]) == 0
    view = json.loads(capsys.readouterr().out)
    assert view["problems"] == []
    for name, bay in stations.items():
        seen = view["stations"][name]
        assert seen["status"] == "offline"  # both stopped, each said so itself
        assert seen["bays"][bay]["outcome"] == "reset_verified"
        assert (seen["units"], seen["verified"]) == (1, 1)

    assert main(["fleet", "--config", config]) == 0
    table = capsys.readouterr().out
    assert "lab-1" in table and "lab-2" in table and "reset_verified" in table


def test_fleet_commands_without_a_fleet_say_what_to_add(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "rig.toml"
    path.write_text('[station]\nname = "solo"\n')
    assert main(["fleet", "--config", str(path)]) == 2
    assert "no [fleet]" in capsys.readouterr().err
    assert main(["report", "--fleet", "--config", str(path)]) == 2
    assert "fleet.postgres: not set" in capsys.readouterr().err


def test_fleet_status_with_the_database_away_still_shows_this_rigs_outbox(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.servers import free_port

    path = tmp_path / "rig.toml"
    records = tmp_path / "records"
    path.write_text(
        f'[station]\nname = "solo"\ndata_dir = "{records}"\n'
        f'[fleet]\npostgres = "postgresql://rig@127.0.0.1:{free_port()}/lab"\n'
    )
    with RecordStore(records) as store:
        store._db.execute(
            "INSERT INTO outbox (kind, ref, queued_wall) VALUES ('job', 1, 0), ('step', 1, 0)"
        )
    assert main(["fleet", "status", "--config", str(path)]) == 1
    out = capsys.readouterr().out
    assert "this rig (solo): 2 record(s) waiting in its outbox" in out
    assert "PostgreSQL:" in out


def test_rig_reset_feeds_the_outbox_and_uploads_it_at_its_end(
    lab: tuple[MockFactory, SimNetwork],
    tmp_path: Path,
    pg_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import psycopg

    from rig.fleet.outbox import Outbox
    from rig.sim.bench import gpio_bay, rig_toml, wire_to_pins
    from rig.sim.camera import CameraSpec, SimCamera

    factory, network = lab
    camera = SimCamera(CameraSpec.sample(1, boot_s=0.3, reset_hold_s=1.2)).start()
    network.add(camera)
    wire_to_pins(camera, factory, relay=17, solenoid=27)
    bay = gpio_bay(
        "A",
        relay=17,
        solenoid=27,
        profile="DS-2CD2143G2-I",
        off_s=0.6,
        hold_s=1.5,
        boot_timeout_s=6,
    )
    path = tmp_path / "rig.toml"
    path.write_text(
        rig_toml(
            target=network.target,
            station="bench-9",
            data_dir=str(tmp_path / "records"),
            network={"sadp_poll_s": 0.1, "settle_s": 0.4},
            bays=[bay],
        )
        + f'\n[fleet]\npostgres = "{pg_url}"\n'
    )
    code = main(["reset", "--json", "--config", str(path), "--serial", label(camera)])
    job = json.loads(capsys.readouterr().out)
    assert (code, job["outcome"]) == (0, "reset_verified")
    with psycopg.connect(pg_url) as conn:
        row = conn.execute(
            "SELECT outcome, mac, hold_s FROM rig.jobs WHERE station = 'bench-9' AND local_id = %s",
            (job["job_id"],),
        ).fetchone()
        steps = conn.execute("SELECT count(*) FROM rig.steps WHERE station = 'bench-9'").fetchone()
    assert row == ("reset_verified", camera.spec.mac, job["hold_s"])
    assert steps == (len(job["steps"]),)
    with Outbox(tmp_path / "records") as outbox:
        assert outbox.backlog().pending == 0


def test_the_fleet_demo_runs_a_lab_of_two_rigs() -> None:
    import subprocess
    import sys

    script = Path(__file__).resolve().parent.parent / "scripts" / "fleet_demo.py"
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=110
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = done.stdout.split("$ rig report --fleet", 1)[1]
    rows = list(csv.DictReader(io.StringIO(report.strip().split("\n\n")[0])))
    assert sorted((r["station"], r["bay"], r["outcome"]) for r in rows) == [
        ("bench-1", "A", "reset_verified"),
        ("bench-1", "B", "reset_verified"),
        ("bench-2", "A", "reset_verified"),
        ("bench-2", "B", "reset_verified"),
    ]


def test_a_password_variable_named_but_not_set_stops_rig_run_at_start(
    tmp_path: Path,
    pins: MockFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "rig.toml"
    path.write_text(
        f'[station]\nname = "solo"\ndata_dir = "{tmp_path / "records"}"\n'
        '[[bays]]\nname = "A"\npower = { gpio = 17 }\npresser = { gpio = 27 }\n'
        'verify = "manual"\n'
        '[fleet]\npostgres = "postgresql://rig@127.0.0.1:5/lab"\n'
        'postgres_password_env = "NOT_SET_ANYWHERE"\n'
    )
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["run", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (
        f"rig: error: {path}: fleet.postgres_password_env: the environment variable"
        " NOT_SET_ANYWHERE is not set"
    )
