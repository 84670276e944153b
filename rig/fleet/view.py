"""The fleet view: every station's bays as they are now (their retained states on MQTT) and the
day's records of the lab (PostgreSQL), as one snapshot a terminal table (`rig fleet`) or a web
page can show; and how far each rig's outbox is behind (`rig fleet status`).

A server that does not answer leaves its half of the snapshot empty, with the reason in
`problems`: the other half is still shown.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table

from rig.fleet import topics
from rig.fleet.settings import FleetConfig, MqttSettings, PostgresSettings
from rig.records.units import Tally, UnitRecord, tally, units_from_jobs

#: `rig fleet --watch` reads the day's records from PostgreSQL again this often.
DAY_REFRESH_S = 10.0


@dataclass
class StationView:
    name: str
    status: str = "unknown"  # online | offline (MQTT), unknown: never heard there
    bays: dict[str, dict[str, Any]] = field(default_factory=dict)  # bay -> its state
    day: Tally = field(default_factory=Tally)  # the day's units (PostgreSQL)


@dataclass
class FleetSnapshot:
    day: date
    stations: dict[str, StationView] = field(default_factory=dict)
    units: list[UnitRecord] = field(default_factory=list)  # the day's, every station
    problems: list[str] = field(default_factory=list)

    def station(self, name: str) -> StationView:
        return self.stations.setdefault(name, StationView(name))

    def as_json(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "stations": {
                name: {
                    "status": s.status,
                    "bays": s.bays,
                    "units": s.day.units,
                    "done": s.day.done,
                    "verified": s.day.verified,
                    "yield_pct": s.day.yield_pct,
                }
                for name, s in sorted(self.stations.items())
            },
            "problems": self.problems,
        }


class LiveFleet:
    """A subscription to every station's status and bays, kept up to date as they change
    (the retained ones arrive first): what a live fleet view reads."""

    def __init__(self, settings: MqttSettings) -> None:
        from rig.fleet.live import make_client

        self._settings = settings
        self._lock = threading.Lock()
        self.statuses: dict[str, str] = {}
        self.states: dict[tuple[str, str], dict[str, Any]] = {}
        self.last_message = time.monotonic()
        self._subscribed = threading.Event()
        self._failed: list[str] = []
        # Called (from paho's thread) after each change: a web page's stream waits on them.
        self._listeners: list[Callable[[], None]] = []
        self.where = f"MQTT broker {settings.host}:{settings.port}"
        self._client = make_client(settings, client_id=f"rig-view-{uuid.uuid4().hex[:8]}")
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._client.on_disconnect = self._on_disconnect

    def open(self, timeout_s: float = 5.0) -> LiveFleet:
        where = self.where
        try:
            self._client.connect(self._settings.host, self._settings.port, keepalive=10)
        except OSError as exc:
            raise ConnectionError(f"{where}: {exc}") from None
        self._client.loop_start()
        if not self._subscribed.wait(timeout_s) or self._failed:
            self.close()
            raise ConnectionError(f"{where}: {self._failed[0] if self._failed else 'no answer'}")
        return self

    def start(self) -> LiveFleet:
        """As `open()`, without waiting for the broker: paho connects, and reconnects, in the
        background (a view that runs for hours starts with the broker away too); `problem()`
        says why there is nothing yet."""
        self._client.connect_async(self._settings.host, self._settings.port, keepalive=10)
        self._client.loop_start()
        return self

    def problem(self) -> str | None:
        """While the broker is away (or refuses us), why: the bays are as last heard."""
        if self._client.is_connected():
            return None
        why = self._failed[-1] if self._failed else "not connected"
        return f"{self.where}: {why}, reconnecting: bays as last heard"

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def settle(self, window_s: float, quiet_s: float = 0.3) -> None:
        """Wait for the retained messages: until `quiet_s` without one, at most `window_s`."""
        end = time.monotonic() + window_s
        while time.monotonic() < end and time.monotonic() - self.last_message < quiet_s:
            time.sleep(0.05)

    def copy(self) -> tuple[dict[str, str], dict[tuple[str, str], dict[str, Any]]]:
        with self._lock:
            return dict(self.statuses), dict(self.states)

    def listen(self, callback: Callable[[], None]) -> None:
        """`callback()` after every status or bay that changed, and when the broker goes or
        comes back; from paho's network thread, so it must not block."""
        self._listeners.append(callback)

    def _changed(self) -> None:
        for callback in list(self._listeners):
            callback()

    def _on_connect(self, c: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self._failed.append(str(reason))
            self._subscribed.set()
            self._changed()
            return
        self._failed.clear()
        c.subscribe([(topics.ALL_STATUS, 1), (topics.ALL_STATES, 1)])

    def _on_subscribe(self, *args: Any) -> None:
        self.last_message = time.monotonic()
        self._subscribed.set()
        self._changed()  # (again) subscribed: a page that said "broker away" may say live

    def _on_disconnect(self, *args: Any) -> None:
        self._changed()

    def _on_message(self, c: Any, userdata: Any, message: Any) -> None:
        self.last_message = time.monotonic()
        try:
            station, bay, what = topics.parse(message.topic)
            with self._lock:
                if what == "status":
                    self.statuses[station] = message.payload.decode("utf-8", "replace")
                elif bay is not None and message.payload:
                    self.states[(station, bay)] = json.loads(message.payload)
                elif bay is not None:
                    self.states.pop((station, bay), None)  # an empty retained: bay removed
        except ValueError:
            return  # not one of ours, or not JSON: a view shows what it can read
        self._changed()


def live_states(
    settings: MqttSettings, *, window_s: float = 1.0
) -> tuple[dict[str, str], dict[tuple[str, str], dict[str, Any]]]:
    """Every station's status and every bay's state retained on the broker now."""
    live = LiveFleet(settings).open(max(window_s, 5.0))
    try:
        live.settle(window_s)
        return live.copy()
    finally:
        live.close()


def day_units(settings: PostgresSettings, day: date) -> list[UnitRecord]:
    from rig.fleet.queries import fleet_jobs, open_fleet

    start = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
    with open_fleet(settings) as conn:
        jobs = fleet_jobs(conn, since_wall=start)
    return [u for u in units_from_jobs(jobs) if u.day == day]


def fleet_snapshot(
    fleet: FleetConfig,
    *,
    day: date | None = None,
    window_s: float = 1.0,
    live: LiveFleet | None = None,
    units: list[UnitRecord] | None = None,
) -> FleetSnapshot:
    """The lab now: what a fleet page shows (a web page may call this as it is). `live`: a
    subscription kept open (else one is made for `window_s`); `units`: the day's units when
    the caller has them already (else they are read from PostgreSQL)."""
    snapshot = FleetSnapshot(day=day or datetime.now(UTC).date())
    if fleet.mqtt is not None:
        try:
            statuses, states = (
                live.copy() if live is not None else live_states(fleet.mqtt, window_s=window_s)
            )
        except ConnectionError as exc:
            snapshot.problems.append(str(exc))
        else:
            for station, status in statuses.items():
                snapshot.station(station).status = status
            for (station, bay), state in sorted(states.items()):
                snapshot.station(station).bays[bay] = state
    if units is not None:
        snapshot.units = units
    elif fleet.postgres is not None:
        import psycopg

        from rig.fleet.sender import why

        try:
            snapshot.units = day_units(fleet.postgres, snapshot.day)
        except (psycopg.Error, OSError) as exc:
            snapshot.problems.append(f"PostgreSQL: {why(exc)}")
    for station in {u.last.station for u in snapshot.units}:
        snapshot.station(station).day = tally(
            u for u in snapshot.units if u.last.station == station
        )
    return snapshot


def watch(fleet: FleetConfig, console: Console, *, refresh_s: float = 1.0) -> None:
    """`rig fleet --watch`: the view kept live until Ctrl-C: the bays as they change (one
    subscription), the day's units read again every `DAY_REFRESH_S`."""
    import psycopg
    from rich.live import Live

    from rig.fleet.sender import why

    live = LiveFleet(fleet.mqtt).open() if fleet.mqtt is not None else None
    units: list[UnitRecord] = []
    problems: list[str] = []
    read_at = float("-inf")
    try:
        with Live(console=console, refresh_per_second=4) as screen:
            while True:
                today = datetime.now(UTC).date()
                if fleet.postgres is not None and time.monotonic() - read_at >= DAY_REFRESH_S:
                    read_at = time.monotonic()
                    try:
                        units, problems = day_units(fleet.postgres, today), []
                    except (psycopg.Error, OSError) as exc:
                        problems = [f"PostgreSQL: {why(exc)}"]
                snapshot = fleet_snapshot(fleet, day=today, live=live, units=units)
                snapshot.problems += problems
                screen.update(render(snapshot))
                time.sleep(refresh_s)
    finally:
        if live is not None:
            live.close()


def _left(deadline: str | None, now: datetime) -> str:
    if not deadline:
        return ""
    try:
        left = (datetime.fromisoformat(deadline) - now).total_seconds()
    except ValueError:
        return ""
    return f"{max(0.0, left):5.1f} s"


def render(snapshot: FleetSnapshot, now: datetime | None = None) -> RenderableType:
    """Two tables: the stations (status, the day's tally) and every bay (stage, countdown)."""
    now = now or datetime.now(UTC)
    stations = Table(title=f"fleet: {len(snapshot.stations)} station(s), {snapshot.day}")
    for column in ("station", "status", "bays", "units today", "verified", "yield"):
        stations.add_column(column)
    bays = Table(title="bays")
    for column in ("station", "bay", "unit", "stage", "countdown", "last outcome"):
        bays.add_column(column)
    for name, s in sorted(snapshot.stations.items()):
        stations.add_row(
            name,
            s.status,
            str(len(s.bays)),
            str(s.day.units),
            str(s.day.verified),
            s.day.yield_text(),
        )
        for bay, state in s.bays.items():
            bays.add_row(
                name,
                bay,
                state.get("unit") or "",
                state.get("stage") or "",
                _left(state.get("deadline"), now),
                state.get("outcome") or "",
            )
    parts: list[RenderableType] = [stations, bays]
    parts += [f"[yellow]{problem}[/]" for problem in snapshot.problems]
    return Group(*parts)


# -- `rig fleet status` ---------------------------------------------------------------------


@dataclass
class BacklogReport:
    local_station: str
    local_pending: int | None  # this rig's outbox now (None: no records here yet)
    local_oldest_wall: float | None
    rows: list[Any] = field(default_factory=list)  # rig.fleet.queries.StationBacklog
    now: datetime | None = None
    problems: list[str] = field(default_factory=list)


def backlog_report(fleet: FleetConfig, station: str, data_dir: Path) -> BacklogReport:
    """This rig's outbox as it is now (from its own records, the server up or not), and every
    rig's as the fleet database last heard of it."""
    from rig.fleet.outbox import Outbox
    from rig.records.store import DB_NAME

    report = BacklogReport(station, None, None)
    if (data_dir / DB_NAME).exists():
        from rig.records.store import RecordStore

        RecordStore(data_dir).close()  # a file from before the outbox gets one
        with Outbox(data_dir) as outbox:
            backlog = outbox.backlog()
        report.local_pending, report.local_oldest_wall = backlog.pending, backlog.oldest_queued_wall
    if fleet.postgres is not None:
        import psycopg

        from rig.fleet.queries import now, open_fleet, station_backlogs
        from rig.fleet.sender import why

        try:
            with open_fleet(fleet.postgres) as conn:
                report.rows = station_backlogs(conn)
                report.now = now(conn)
        except (psycopg.Error, OSError) as exc:
            report.problems.append(f"PostgreSQL: {why(exc)}")
    return report


def render_backlog(report: BacklogReport) -> RenderableType:
    from rig.fleet.queries import seen_ago

    parts: list[RenderableType] = []
    if report.local_pending is not None:
        oldest = ""
        if report.local_pending and report.local_oldest_wall is not None:
            age = max(0, int(time.time() - report.local_oldest_wall))
            oldest = f", the oldest queued {age} s ago"
        parts.append(
            f"this rig ({report.local_station}): {report.local_pending} record(s) waiting"
            f" in its outbox{oldest}"
        )
    table = Table(title="every rig, as the fleet database last heard of it")
    for column in ("station", "last heard", "outbox", "jobs uploaded", "last job", "rig"):
        table.add_column(column)
    for row in report.rows:
        assert report.now is not None
        table.add_row(
            row.station,
            seen_ago(report.now, row.seen_at),
            row.behind(report.now),
            str(row.jobs),
            row.last_job_at.strftime("%Y-%m-%d %H:%M") if row.last_job_at else "-",
            row.rig_version or "?",
        )
    if report.rows or not report.problems:
        parts.append(table)
    parts += [f"[yellow]{problem}[/]" for problem in report.problems]
    return Group(*parts)
