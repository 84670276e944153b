"""`rig doctor`'s switch and fleet checks against real servers on 127.0.0.1: snmpsim serving the
switch bench's PoE rows (tests/switchbench.py), and the session's PostgreSQL and Mosquitto
(tests/fleet_fixtures.py). Each passes on a working setup and fails with one line when its
server is down or the config is wrong; no secret is ever printed."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import pytest
import tomli_w
from gpiozero.pins.mock import MockFactory
from paho.mqtt.enums import CallbackAPIVersion

import rig.doctor as doctor
from rig.cli import main
from rig.config import load_config
from rig.doctor import Check, ClockState, DiskUsage, Status, run_checks
from rig.fleet.schema import VERSION, ensure_schema
from rig.records.store import DB_NAME, RecordStore
from rig.sim.camera import CameraSpec
from rig.sim.network import SimNetwork
from tests.servers import PG_PASSWORD, MosquittoBroker, free_port
from tests.switchbench import COMMUNITY, PORT, SwitchBench, switch_bench

MAC = CameraSpec.sample(1).mac
MQTT_PASSWORD = "mqtt-Pw-9xT"  # a secret: must never appear in doctor's output
NOW = 1_750_000_000.0
FREE = DiskUsage(total=64 * 10**9, used=10**9, free=12_300_000_000)


def edges() -> dict[str, Any]:
    return {
        "clock_probe": lambda: ClockState(True, "timedatectl"),
        "now": lambda: NOW,
        "disk_usage": lambda path: FREE,
        "sadp_window_s": 0.3,
    }


def wait_for(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def of(checks: list[Check], kind: str) -> list[Check]:
    return [c for c in checks if c.check == kind]


def doctor_json(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, list[dict]]:
    capsys.readouterr()
    code = main(["doctor", "--json", "--config", str(path)])
    captured = capsys.readouterr()
    text = captured.out + captured.err
    return code, text, [json.loads(line) for line in captured.out.splitlines()]


# -- the switch ----------------------------------------------------------------------------


@pytest.fixture
def bench(
    tmp_path: Path, lab: tuple[MockFactory, SimNetwork], monkeypatch: pytest.MonkeyPatch
) -> Iterator[SwitchBench]:
    monkeypatch.setenv("RIG_SW1_COMMUNITY", COMMUNITY)
    factory, network = lab
    with switch_bench(tmp_path, factory, network) as b:
        yield b


def switch_config(bench: SwitchBench, switch: dict[str, Any] | None = None, **bay: Any) -> Path:
    """The bench's rig.toml, its [switches.sw1] changed by `switch` (no retry: one timeout)."""
    path = bench.config(**bay)
    doc = tomllib.loads(path.read_text())
    doc["switches"]["sw1"].update({"retries": 0, **(switch or {})})
    doc["switches"]["sw1"] = {k: v for k, v in doc["switches"]["sw1"].items() if v is not None}
    path.write_text(tomli_w.dumps(doc))
    return path


def test_a_working_switch_passes_with_each_bays_port(
    bench: SwitchBench, capsys: pytest.CaptureFixture[str]
) -> None:
    pse = bench.switch({PORT: [MAC]})
    wait_for(lambda: pse.powered(PORT))
    path = switch_config(bench)
    assert bench.agent is not None
    [check] = of(run_checks(path, **edges()), "switch")
    assert check.line() == (
        f"PASS switch sw1 ({bench.agent.target}): port {PORT} (bay B) admin on, deliveringPower"
    )
    assert check.details["ports"] == [
        {
            "bay": "B",
            "group": 1,
            "port": PORT,
            "admin_on": True,
            "detection": "deliveringPower",
            "power_class": "class2",
        }
    ]
    assert check.details["auth"] == "v2c community"
    # Read-only: the port is as it was.
    assert bench.admin() == 1
    _code, text, rows = doctor_json(path, capsys)
    assert COMMUNITY not in text
    [row] = [r for r in rows if r["check"] == "switch"]
    assert row["status"] == "PASS" and row["details"]["agent"] == bench.agent.target


def test_a_wrong_community_and_an_agent_down_are_one_fail_line(
    bench: SwitchBench, capsys: pytest.CaptureFixture[str]
) -> None:
    bench.switch({PORT: [MAC]})
    assert bench.agent is not None
    wrong = "not-the-community"
    path = switch_config(bench, {"community": wrong, "community_env": None})
    [check] = of(run_checks(path, **edges()), "switch")
    assert check.status is Status.FAIL
    assert check.message.startswith(
        f"switch sw1 ({bench.agent.target}): no SNMP answer from {bench.agent.target}"
    )
    assert "agent down, or the v2c community is wrong" in check.message
    code, text, rows = doctor_json(path, capsys)
    assert code == 1
    assert wrong not in text and COMMUNITY not in text
    assert [r["status"] for r in rows if r["check"] == "switch"] == ["FAIL"]

    path = switch_config(bench)
    bench.agent.stop()
    [check] = of(run_checks(path, **edges()), "switch")
    assert check.status is Status.FAIL
    assert f"no SNMP answer from {bench.agent.target}" in check.message
    assert COMMUNITY not in check.message and COMMUNITY not in json.dumps(check.as_json())


def test_a_port_the_switch_does_not_have_fails(bench: SwitchBench) -> None:
    bench.switch({PORT: [MAC]})
    assert bench.agent is not None
    path = switch_config(bench, power={"switch": "sw1", "port": 40})
    [check] = of(run_checks(path, **edges()), "switch")
    assert check.status is Status.FAIL
    assert check.message.startswith(
        f"switch sw1 ({bench.agent.target}): port 40 (bay B): the switch has no such PoE port"
    )


def test_an_unsupported_vendor_fails_after_the_agent_answers(bench: SwitchBench) -> None:
    bench.switch({PORT: [MAC]})
    path = switch_config(bench, {"vendor": "tplink"})
    [check] = of(run_checks(path, **edges()), "switch")
    assert check.status is Status.FAIL
    assert "answers, but vendor 'tplink'" in check.message


def test_a_disabled_port_is_a_warning(bench: SwitchBench) -> None:
    bench.switch({PORT: [MAC]}, disabled=[PORT])
    path = switch_config(bench)
    [check] = of(run_checks(path, **edges()), "switch")
    assert check.status is Status.WARN
    assert f"port {PORT} (bay B) admin OFF, disabled: PoE disabled on port {PORT}" in check.message
    assert bench.admin() == 2  # doctor switched nothing on


# -- the fleet -----------------------------------------------------------------------------


def fleet_config(tmp_path: Path, fleet: dict[str, Any] | None) -> Path:
    doc: dict[str, Any] = {
        "station": {"name": "doc-bench", "data_dir": str(tmp_path / "records")},
        "network": {"sadp_target": f"127.0.0.1:{free_port()}"},
    }
    if fleet is not None:
        doc["fleet"] = fleet
    path = tmp_path / "rig.toml"
    path.write_text(tomli_w.dumps(doc))
    return path


def fleet_checks(path: Path) -> list[Check]:
    config = load_config(path, need_bays=False)
    return doctor.check_fleet(config, Path(config.station.data_dir or ""))


def test_no_fleet_is_a_skip_line(tmp_path: Path) -> None:
    [check] = fleet_checks(fleet_config(tmp_path, None))
    assert check.status is Status.SKIP and check.message.startswith("fleet: not configured")


def test_fleet_servers_up_pass_with_schema_and_backlog(
    tmp_path: Path,
    pg_url: str,
    broker: MosquittoBroker,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("RIG_MQTT_PASSWORD", MQTT_PASSWORD)
    fleet = {
        "postgres": pg_url,
        "mqtt": broker.url,
        "mqtt_username": "rig",
        "mqtt_password_env": "RIG_MQTT_PASSWORD",
    }
    path = fleet_config(tmp_path, fleet)
    label = pg_url.removeprefix("postgresql://")
    db, mq = fleet_checks(path)
    assert db.line() == (
        f"PASS fleet database {label}: reachable, no rig schema yet: it will be created at the"
        " first upload; no records yet"
    )
    assert mq.line() == f"PASS fleet MQTT {broker.url}: connected and disconnected"
    assert not (tmp_path / "records" / DB_NAME).exists()  # doctor made no records here
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert conn.execute("SELECT to_regnamespace('rig')").fetchone() == (None,)  # untouched
        ensure_schema(conn)
    RecordStore(tmp_path / "records").close()
    with sqlite3.connect(tmp_path / "records" / DB_NAME) as records:
        records.execute(
            "INSERT INTO outbox (kind, ref, queued_wall) VALUES ('job', 1, ?), ('step', 1, ?)",
            (time.time() - 30, time.time()),
        )
    db, _ = fleet_checks(path)
    assert db.status is Status.PASS
    assert f"reachable, rig schema {VERSION}; outbox 2 waiting (oldest " in db.message
    assert db.details["outbox_pending"] == 2
    _code, text, rows = doctor_json(path, capsys)
    assert [r["status"] for r in rows if r["check"] == "fleet"] == ["PASS", "PASS"]
    assert PG_PASSWORD not in text and MQTT_PASSWORD not in text


def test_fleet_servers_down_fail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pg_port, mqtt_port = free_port(), free_port()
    fleet = {
        "postgres": f"postgresql://rig@127.0.0.1:{pg_port}/lab",
        "mqtt": f"mqtt://127.0.0.1:{mqtt_port}",
    }
    path = fleet_config(tmp_path, fleet)
    db, mq = fleet_checks(path)
    assert db.status is Status.FAIL
    assert db.message.startswith(f"fleet database rig@127.0.0.1:{pg_port}/lab: unreachable (")
    assert db.message.endswith("; no records yet")
    assert mq.status is Status.FAIL
    assert mq.message.startswith(f"fleet MQTT mqtt://127.0.0.1:{mqtt_port}: unreachable (")
    code, _text, rows = doctor_json(path, capsys)
    assert code == 1
    assert [r["status"] for r in rows if r["check"] == "fleet"] == ["FAIL", "FAIL"]


def test_a_wrong_database_password_fails_without_showing_it(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGPASSWORD", "not-the-Pw-4k")
    db, _ = fleet_checks(fleet_config(tmp_path, {"postgres": pg_url}))
    assert db.status is Status.FAIL and "password authentication failed" in db.message
    assert "not-the-Pw-4k" not in db.message and PG_PASSWORD not in db.message
    monkeypatch.delenv("PGPASSWORD")
    monkeypatch.delenv("RIG_PG", raising=False)
    path = fleet_config(tmp_path, {"postgres": pg_url, "postgres_password_env": "RIG_PG"})
    db, mq = fleet_checks(path)
    assert db.status is Status.FAIL and "RIG_PG is not set" in db.message
    assert mq.line() == "SKIP fleet MQTT: not configured"


def test_the_mqtt_check_leaves_the_stations_session_alone(
    tmp_path: Path, broker: MosquittoBroker
) -> None:
    """The station's client ("rig-STATION", with its will) stays connected and its will is
    never published: doctor connects as a client of its own."""
    will_topic = "rig/doc-bench/status"
    wills: list[bytes] = []
    dropped = threading.Event()
    marker = threading.Event()

    watcher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="doctor-test-watcher")
    subscribed = threading.Event()
    watcher.on_subscribe = lambda *a: subscribed.set()

    def on_message(c: Any, u: Any, message: mqtt.MQTTMessage) -> None:
        if message.payload == b"offline":
            wills.append(message.payload)
        elif message.payload == b"marker":
            marker.set()

    watcher.on_message = on_message
    watcher.connect("127.0.0.1", broker.port)
    watcher.loop_start()
    station = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="rig-doc-bench")
    station.will_set(will_topic, "offline", qos=1)
    connected = threading.Event()
    station.on_connect = lambda *a: connected.set()
    station.on_disconnect = lambda *a: dropped.set()
    station.connect("127.0.0.1", broker.port)
    station.loop_start()
    try:
        watcher.subscribe(will_topic, qos=1)
        assert subscribed.wait(10) and connected.wait(10)
        _, mq = fleet_checks(fleet_config(tmp_path, {"mqtt": broker.url}))
        assert mq.status is Status.PASS
        station.publish(will_topic, "marker", qos=1)  # after doctor's goodbye, in order
        assert marker.wait(10)
        assert not dropped.is_set() and wills == []
    finally:
        station.disconnect()
        station.loop_stop()
        watcher.disconnect()
        watcher.loop_stop()
