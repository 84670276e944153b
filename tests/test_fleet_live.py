"""The station live on a real Mosquitto (started on 127.0.0.1 by tests/servers.py): a
subscriber sees every stage of a simulated reset in order, one event per job, the station's
status retained (its last will `offline` when it is killed), Home Assistant discovery."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from gpiozero.pins.mock import MockFactory
from paho.mqtt.enums import CallbackAPIVersion

from rig.clock import FakeClock, SystemClock
from rig.config import parse_config
from rig.fleet import topics
from rig.fleet.live import LivePublisher
from rig.fleet.settings import MqttSettings
from rig.progress import BayStatus, Progress
from rig.sim.network import SimNetwork
from rig.station import Station
from tests.fakes import ScriptedOperator, wait_until
from tests.servers import MosquittoBroker, free_port
from tests.test_station import Scans, config_text, label, wire


class Subscriber:
    """A client of the broker that keeps every message it gets, in order."""

    def __init__(self, broker: MosquittoBroker, *subscriptions: str) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *a: self._subscribed.set()
        self._client.connect("127.0.0.1", broker.port)
        self._client.loop_start()
        self._client.subscribe([(s, 1) for s in subscriptions])
        assert self._subscribed.wait(10)

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((message.topic, message.payload, bool(message.retain)))

    def on(self, topic: str) -> list[bytes]:
        with self._lock:
            return [payload for t, payload, _ in self.messages if t == topic]

    def json_on(self, topic: str) -> list[dict[str, Any]]:
        return [json.loads(p) for p in self.on(topic) if p]

    def publish(self, topic: str, payload: str) -> None:
        self._client.publish(topic, payload, qos=1).wait_for_publish(10)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def retained(broker: MosquittoBroker, topic: str) -> bytes | None:
    """What a subscriber arriving now gets first on `topic` (its retained message)."""
    sub = Subscriber(broker, topic)
    try:
        wait_until(lambda: sub.on(topic), timeout_s=2)
        got = sub.on(topic)
        return got[0] if got else None
    finally:
        sub.close()


def fleet_config(text: str, broker: MosquittoBroker, extra: str = "") -> str:
    return text + f'\n[fleet]\nmqtt = "{broker.url}"\n{extra}'


def collapsed(stages: list[str]) -> list[str]:
    return [s for i, s in enumerate(stages) if i == 0 or stages[i - 1] != s]


def test_a_subscriber_sees_every_stage_of_a_reset_in_order(
    lab: tuple[MockFactory, SimNetwork], tmp_path: Path, broker: MosquittoBroker
) -> None:
    factory, network = lab
    camera = wire(factory, network, "A", 1)
    config = parse_config(fleet_config(config_text(network.target, "A"), broker))
    state_topic = topics.bay_state("lab-1", "A")
    sub = Subscriber(broker, state_topic, topics.bay_job("lab-1", "A"), topics.status("lab-1"))
    scans = Scans()
    station = Station(
        config,
        clock=SystemClock(),
        data_dir=tmp_path,
        operator=ScriptedOperator(),
        scans=scans,
        pin_factory=factory,
    )
    changes: list[BayStatus] = []
    station.progress.listen(lambda s: changes.append(s) if s.name == "A" else None)
    result: list[int] = []
    runner = threading.Thread(target=lambda: result.append(station.run()))
    runner.start()
    try:
        assert wait_until(lambda: b"online" in sub.on(topics.status("lab-1")), 30) is not None
        scans.scan(label(camera))
        scans.close()
        runner.join(120)
        assert result == [0]
        assert wait_until(lambda: b"offline" in sub.on(topics.status("lab-1")), 10) is not None
        seen = sub.json_on(state_topic)
        events = sub.json_on(topics.bay_job("lab-1", "A"))
    finally:
        scans.close()
        runner.join(10)
        sub.close()
    published = collapsed([s["stage"] for s in seen])
    made = collapsed([c.stage for c in changes])
    # Every stage from the scan on, in the order the bay went through them.
    assert published == made[-len(published) :]
    scan_at = next(i for i, c in enumerate(changes) if c.unit)
    assert len(published) >= len(collapsed([c.stage for c in changes[scan_at:]]))
    assert {"power off", "holding", "done"} <= set(published)
    done = next(s for s in seen if s["stage"] == "done")
    assert (done["station"], done["bay"], done["outcome"]) == ("lab-1", "A", "reset_verified")
    assert done["unit"] == label(camera) and done["reason"]
    # Back to ready for the next unit, the last unit's outcome still shown.
    assert (seen[-1]["stage"], seen[-1]["outcome"]) == (made[-1], "reset_verified")
    holding = next(s for s in seen if s["stage"] == "holding")
    assert holding["deadline"] is not None  # a wall-clock time: when the hold ends
    [event] = events
    [unit] = station.units
    assert event == {**event, **unit[0].as_json(), "station": "lab-1", "attempt": 1}
    assert event["outcome"] == "reset_verified" and event["mac"] == camera.spec.mac
    # The last state stays on the broker for whoever looks next.
    got = retained(broker, state_topic)
    assert got is not None and json.loads(got) == seen[-1]


STATION_CONFIG = """
[station]
name = "{station}"
data_dir = "{data_dir}"

[[bays]]
name = "A"
power = {{ gpio = 17, active_high = false }}
presser = {{ gpio = 27 }}
verify = "manual"

[fleet]
mqtt = "{url}"
"""


def start_station(tmp_path: Path, broker: MosquittoBroker, station: str) -> subprocess.Popen[str]:
    path = tmp_path / "rig.toml"
    path.write_text(
        STATION_CONFIG.format(station=station, data_dir=tmp_path / "records", url=broker.url)
    )
    return subprocess.Popen(
        [sys.executable, "-m", "rig", "run", "--config", str(path)],
        env={**os.environ, "GPIOZERO_PIN_FACTORY": "mock"},
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def test_a_station_killed_leaves_its_status_offline_by_its_last_will(
    tmp_path: Path, broker: MosquittoBroker
) -> None:
    status = topics.status("killed-1")
    sub = Subscriber(broker, status)
    proc = start_station(tmp_path, broker, "killed-1")
    try:
        assert wait_until(lambda: sub.on(status) == [b"online"], timeout_s=60) is not None
        proc.send_signal(signal.SIGKILL)  # no handler runs: only the broker can say it
        proc.wait(timeout=10)
        assert wait_until(lambda: sub.on(status)[-1:] == [b"offline"], timeout_s=60) is not None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sub.close()
    assert retained(broker, status) == b"offline"


def test_a_station_that_stops_says_offline_itself(tmp_path: Path, broker: MosquittoBroker) -> None:
    status = topics.status("clean-1")
    sub = Subscriber(broker, status)
    proc = start_station(tmp_path, broker, "clean-1")
    try:
        assert wait_until(lambda: sub.on(status) == [b"online"], timeout_s=60) is not None
        assert proc.stdin is not None
        proc.stdin.write("q\n")
        proc.stdin.flush()
        assert proc.wait(timeout=60) == 0
        # A clean disconnect fires no will: this `offline` is the station's own.
        assert wait_until(lambda: sub.on(status)[-1:] == [b"offline"], timeout_s=10) is not None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sub.close()


def test_home_assistant_discovery_is_sent_again_when_home_assistant_starts(
    broker: MosquittoBroker,
) -> None:
    sub = Subscriber(broker, "homeassistant/sensor/rig_ha-1/#")
    progress = Progress(FakeClock())
    progress.stage("A", "ready")
    settings = MqttSettings("127.0.0.1", broker.port, home_assistant=True)
    publisher = LivePublisher(settings, station="ha-1", bays=["A", "B"], progress=progress).start()
    try:
        assert publisher.connected.wait(10)
        assert wait_until(lambda: len(sub.messages) == 8, timeout_s=10) is not None
        configs = {t: json.loads(p) for t, p, _ in sub.messages}
        stage = configs["homeassistant/sensor/rig_ha-1/bay_A_stage/config"]
        assert stage["state_topic"] == "rig/ha-1/bay/A/state"
        assert stage["availability_topic"] == "rig/ha-1/status"
        assert stage["device"]["identifiers"] == ["rig_ha-1"]
        deadline = configs["homeassistant/sensor/rig_ha-1/bay_B_deadline/config"]
        assert deadline["device_class"] == "timestamp"
        sub.publish("homeassistant/status", "online")  # Home Assistant's birth message
        assert wait_until(lambda: len(sub.messages) == 16, timeout_s=10) is not None
    finally:
        publisher.close()
        sub.close()


def test_a_broker_that_comes_later_gets_every_bay_as_it_is_then(tmp_path: Path) -> None:
    broker = MosquittoBroker(port=free_port())
    clock = FakeClock()
    progress = Progress(clock)
    settings = MqttSettings("127.0.0.1", broker.port)
    publisher = LivePublisher(settings, station="late-1", bays=["A"], progress=progress).start()
    try:
        # The broker is down: the bay goes on (how long a stage takes then is benchmark 7).
        progress.stage("A", "holding", clock.monotonic() + 18)
        progress.unit("A", "AAWRJ12345678")
        progress.stage("A", "waiting for boot", clock.monotonic() + 120)
        assert not publisher.connected.is_set()
        broker.start()
        assert publisher.connected.wait(60)
        got = retained(broker, topics.bay_state("late-1", "A"))
        assert got is not None
        state = json.loads(got)
        assert (state["stage"], state["unit"]) == ("waiting for boot", "AAWRJ12345678")
        assert retained(broker, topics.status("late-1")) == b"online"
    finally:
        publisher.close()
        broker.close()


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('mqtt = "mqtt://rig:secret@broker:1883"', "fleet.mqtt: holds a user or password"),
        ('mqtt = "http://broker:1883"', "fleet.mqtt: must be"),
        ('mqtt = "mqtt://broker:1883"\nmqtt_ca_file = "ca.pem"', "fleet.mqtt_ca_file: is for TLS"),
        ("home_assistant = true", "fleet.home_assistant: given without fleet.mqtt"),
        ('mqtt = "mqtt://broker"\nmqtt_password_env = "no such"', "fleet.mqtt_password_env"),
        ('mqtt = "mqtt://broker"\nretain = true', "fleet.retain: unknown key"),
    ],
)
def test_bad_mqtt_settings_are_one_line_naming_the_key(line: str, problem: str) -> None:
    with pytest.raises(Exception) as refused:
        parse_config(f"[fleet]\n{line}\n", need_bays=False)
    assert problem in str(refused.value)
    assert "secret" not in str(refused.value)


def test_mqtts_url_means_tls_and_the_default_port() -> None:
    config = parse_config('[fleet]\nmqtt = "mqtts://broker.lab"\n', need_bays=False)
    assert config.fleet.mqtt == MqttSettings(
        "broker.lab", 8883, tls=True, label=config.fleet.mqtt.label
    )


def test_the_example_configs_fleet_lines_are_real_keys() -> None:
    from rig.config import EXAMPLE_CONFIG

    lines = EXAMPLE_CONFIG.splitlines()
    start = lines.index("# [fleet]")
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("# home_assistant"))
    text = "\n".join(
        line.removeprefix("# ") if start <= i <= end else line for i, line in enumerate(lines)
    )
    config = parse_config(text)
    assert config.fleet.postgres is not None and config.fleet.mqtt is not None
    assert config.fleet.postgres.password_env == "RIG_PG_PASSWORD"
    assert (config.fleet.mqtt.host, config.fleet.mqtt.port) == ("broker.lab", 1883)
    assert config.fleet.mqtt.home_assistant


def test_tls_and_a_password_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.servers import tls_broker

    broker, ca_file = tls_broker(user="rig", password="mqtt-Secret-9")
    broker.start()
    try:
        config = parse_config(
            f'[fleet]\nmqtt = "mqtts://127.0.0.1:{broker.port}"\nmqtt_username = "rig"\n'
            f'mqtt_password_env = "LAB_MQTT_PASSWORD"\nmqtt_ca_file = "{ca_file}"\n',
            need_bays=False,
        )
        settings = config.fleet.mqtt
        assert settings is not None and settings.tls
        monkeypatch.setenv("LAB_MQTT_PASSWORD", "mqtt-Secret-9")
        progress = Progress(FakeClock())
        progress.stage("A", "ready")
        publisher = LivePublisher(settings, station="tls-1", bays=["A"], progress=progress)
        publisher.start()
        try:
            assert publisher.connected.wait(30)
            from rig.fleet.view import live_states

            statuses, states = live_states(settings, window_s=2)
            assert statuses["tls-1"] == "online"
            assert states[("tls-1", "A")]["stage"] == "ready"
        finally:
            publisher.close()
        # A wrong password is refused by the broker, said in the log, never shown.
        monkeypatch.setenv("LAB_MQTT_PASSWORD", "Not-The-One-4")
        wrong = LivePublisher(settings, station="tls-2", bays=["A"], progress=progress)
        with caplog.at_level(logging.WARNING, logger="rig.fleet.live"):
            wrong.start()
            try:
                assert wait_until(lambda: "refused" in caplog.text, timeout_s=30) is not None
                assert not wrong.connected.is_set()
            finally:
                wrong.close()
        assert "mqtt-Secret-9" not in caplog.text and "Not-The-One-4" not in caplog.text
    finally:
        broker.close()


def test_a_live_fleet_view_follows_the_bays_as_they_change(broker: MosquittoBroker) -> None:
    from rig.fleet.settings import FleetConfig
    from rig.fleet.view import LiveFleet, fleet_snapshot, render

    settings = MqttSettings("127.0.0.1", broker.port)
    live = LiveFleet(settings).open()
    clock = FakeClock()
    progress = Progress(clock)
    publisher = LivePublisher(settings, station="watch-1", bays=["A"], progress=progress).start()
    try:
        assert publisher.connected.wait(10)

        def stage() -> str | None:
            return live.copy()[1].get(("watch-1", "A"), {}).get("stage")

        for name in ("power off", "holding", "waiting for the unit to boot"):
            progress.stage("A", name, clock.monotonic() + 5)
            assert wait_until(lambda n=name: stage() == n, timeout_s=10) is not None
        assert live.copy()[0]["watch-1"] == "online"
        snapshot = fleet_snapshot(FleetConfig(mqtt=settings), live=live)
        assert snapshot.stations["watch-1"].bays["A"]["stage"] == "waiting for the unit to boot"
        assert render(snapshot) is not None
    finally:
        publisher.close()
    assert wait_until(lambda: live.copy()[0]["watch-1"] == "offline", timeout_s=10) is not None
    live.close()
