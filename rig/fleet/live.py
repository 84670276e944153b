"""The station live on the lab's MQTT broker (paho-mqtt 2; topics in rig.fleet.topics).

- Each bay's state, retained: what a subscriber that comes later sees first. It is the latest
  only, so it is sent at QoS 0 and never queued while the broker is away: on every (re)connect
  the publisher sends every bay's state as it is then, and a state queued during an outage can
  never arrive after it and leave a stale one retained.
- One event per finished job (each attempt of a unit), QoS 1, not retained: queued by paho
  while the broker is away (up to `MAX_QUEUED`) and delivered when it is back.
- The station's status `online`, retained, and `offline` as its last will (the broker sends it
  when the station dies or drops off) and, by hand, before a clean exit (a clean disconnect
  fires no will).

Publishing never blocks a bay: paho queues the message for its own network thread, which
connects and reconnects in the background (the station starts with the broker down as well).
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from rig.fleet import discovery, topics
from rig.fleet.settings import MqttSettings
from rig.job import JobReport
from rig.outcomes import Outcome
from rig.progress import BayStatus, Progress

log = logging.getLogger(__name__)

#: Job events kept while the broker is away; beyond that the oldest live feed is lost (the
#: records are not: they go to PostgreSQL through the outbox).
MAX_QUEUED = 1000
_OUTCOMES = {o.value for o in Outcome}


def iso(wall: float | None) -> str | None:
    return None if wall is None else datetime.fromtimestamp(wall, UTC).isoformat()


def make_client(settings: MqttSettings, client_id: str) -> mqtt.Client:
    """A paho client with the fleet's TLS and login (the password read from the environment)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    if settings.tls:
        client.tls_set(
            ca_certs=str(settings.ca_file) if settings.ca_file else None,
            cert_reqs=ssl.CERT_REQUIRED,
        )
    if settings.username is not None:
        client.username_pw_set(settings.username, settings.password())
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    return client


class LivePublisher:
    """The station's bays, live on MQTT, for as long as it is open."""

    def __init__(
        self,
        settings: MqttSettings,
        *,
        station: str,
        bays: list[str],
        progress: Progress,
    ) -> None:
        self._settings = settings
        self._station = station
        self._bays = bays
        self._progress = progress
        self._lock = threading.Lock()  # the order states are handed to paho is the order made
        self._latest: dict[str, BayStatus] = {}
        self._stop_listening: Any = None
        self.connected = threading.Event()
        self._client = make_client(settings, client_id=f"rig-{station}")
        self._client.max_queued_messages_set(MAX_QUEUED)
        self._client.will_set(topics.status(station), topics.OFFLINE, qos=1, retain=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._said_down = False

    # -- life -------------------------------------------------------------------------------

    def start(self) -> LivePublisher:
        for status in self._progress.snapshot():
            self._latest[status.name] = status
        self._stop_listening = self._progress.listen(self._bay_changed)
        self._client.connect_async(self._settings.host, self._settings.port, keepalive=30)
        self._client.loop_start()
        return self

    def close(self, *, timeout_s: float = 3.0) -> None:
        """`offline` by hand (a clean disconnect sends no will), then disconnect."""
        if self._stop_listening is not None:
            self._stop_listening()
        if self._client.is_connected():
            info = self._client.publish(
                topics.status(self._station), topics.OFFLINE, qos=1, retain=True
            )
            try:
                info.wait_for_publish(timeout_s)
            except (RuntimeError, ValueError):
                log.warning("fleet: MQTT: could not say offline before leaving")
        self._client.disconnect()
        self._client.loop_stop()

    # -- what is published ------------------------------------------------------------------

    def state_payload(self, status: BayStatus) -> str:
        clock = self._progress.clock
        deadline = None
        if status.deadline is not None:
            # The progress deadline is on the monotonic scale: the wall clock's for the lab.
            deadline = clock.wall() + (status.deadline - clock.monotonic())
        outcome, _, detail = status.outcome.partition(" ")
        state = {
            "station": self._station,
            "bay": status.name,
            "unit": status.unit or None,
            "stage": status.stage,
            "deadline": iso(deadline),
            "outcome": outcome if outcome in _OUTCOMES else status.outcome or None,
            "outcome_detail": detail.strip("()") or None,
            "reason": status.reason or None,
            "at": iso(clock.wall()),
        }
        return json.dumps(state, sort_keys=True)

    def _bay_changed(self, status: BayStatus) -> None:
        with self._lock:
            self._latest[status.name] = status
            if self._client.is_connected():
                self._publish_state(status)

    def _publish_state(self, status: BayStatus) -> None:
        self._client.publish(
            topics.bay_state(self._station, status.name),
            self.state_payload(status),
            qos=0,
            retain=True,
        )

    def unit_done(self, bay: str, reports: list[JobReport]) -> None:
        """One event per job of the unit (every attempt), as Station.unit_listeners calls it."""
        for n, report in enumerate(reports, start=1):
            event = {
                **report.as_json(),  # passed through whole: keys added later travel too
                "station": self._station,
                "bay": bay,
                "attempt": n,
                "attempts": len(reports),
                "at": iso(self._progress.clock.wall()),
            }
            info = self._client.publish(
                topics.bay_job(self._station, bay),
                json.dumps(event, sort_keys=True, default=str),
                qos=1,
                retain=False,
            )
            if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
                log.warning(
                    "fleet: MQTT: job %s event dropped: broker away too long", report.job_id
                )

    # -- paho's callbacks (its network thread) ------------------------------------------------

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            if not self._said_down:  # once, not at every retry (a wrong password, say)
                log.warning("fleet: MQTT broker refused the station: %s", reason)
                self._said_down = True
            return
        client.publish(topics.status(self._station), topics.ONLINE, qos=1, retain=True)
        with self._lock:
            for status in self._latest.values():
                self._publish_state(status)
        if self._settings.home_assistant:
            client.subscribe(discovery.BIRTH_TOPIC, qos=1)
            self._send_discovery()
        if self._said_down:
            log.warning("fleet: MQTT broker back")
            self._said_down = False
        self.connected.set()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        self.connected.clear()
        if not self._said_down and reason != 0:
            log.warning("fleet: MQTT broker lost (%s); reconnecting", reason)
            self._said_down = True

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        # Home Assistant (re)started: it forgot what it was told, tell it again.
        if message.topic == discovery.BIRTH_TOPIC and message.payload == b"online":
            self._send_discovery()

    def _send_discovery(self) -> None:
        for topic, payload in discovery.discovery_messages(self._station, self._bays):
            self._client.publish(topic, payload, qos=1, retain=True)
