"""The fleet page (`rig fleet --web [ADDR:PORT]`): every station of the lab in one browser
page, live. The bays come from MQTT (one `LiveFleet` subscription: a change is on the page
within a second), the day's units from PostgreSQL, read again every `DAY_REFRESH_S` as
`rig fleet --watch` does. It is what `rig fleet` shows (rig.fleet.view.fleet_snapshot), served
the way the station page is (rig.web.serve: uvicorn in a thread, the token gate of rig.web.app).

Routes:

- `GET /`: the page (static HTML, CSS and JS, package data), phone-sized screens too.
- `GET /events`: server-sent events, one `state` event (JSON) now and after every change.
- `GET /state`: the same state, once (scripts, `curl`).
- `GET /report`: the day's fleet report (`rig report --fleet --format html`); with
  `?station=NAME` that station's only, whose certificates are anchored `#certificate-JOB` (job
  ids are counted per station: two stations' certificates may share one).

The page holds station, bay and unit names and the servers' problems, never a server's address
with a login nor a password: the fleet's settings hold none (rig.fleet.settings refuses one).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from rig.fleet.settings import FleetConfig
from rig.fleet.view import DAY_REFRESH_S, LiveFleet, day_units, fleet_snapshot
from rig.records.units import UnitRecord, tally_by_model
from rig.web.app import TokenGate, live_page_routes
from rig.web.changes import PageFeed
from rig.web.feed import unit_row
from rig.web.serve import DEFAULT_HOST, WebOption, WebServer

log = logging.getLogger(__name__)

#: Beside the station page's 8765: a rig may serve both.
DEFAULT_PORT = 8766
DEFAULT_LISTEN = f"{DEFAULT_HOST}:{DEFAULT_PORT}"
#: The page lists the day's latest units; every one of them is in the report.
UNITS_SHOWN = 200


def _day_start(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def _left_s(deadline: str | None, now: datetime) -> float | None:
    """Seconds left of a bay's countdown by this server's clock (the page counts down from
    there on its own, so a phone's clock that is off does not matter)."""
    if not deadline:
        return None
    try:
        return max(0.0, (datetime.fromisoformat(deadline) - now).total_seconds())
    except ValueError:
        return None


def certificate_link(unit: UnitRecord) -> str | None:
    """The unit's certificate in the served report, if it has one."""
    if not unit.verified:
        return None
    return f"/report?station={quote(unit.last.station)}#certificate-{unit.last.job_id}"


class FleetFeed(PageFeed):
    """What the fleet page shows, and the news that it changed: MQTT's changes as they come
    (LiveFleet calls back), PostgreSQL's day read by a thread of its own."""

    def __init__(
        self,
        fleet: FleetConfig,
        *,
        live: LiveFleet | None,
        refresh_s: float = DAY_REFRESH_S,
        wall: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__()
        self.fleet = fleet
        self.live = live
        self.refresh_s = refresh_s
        self._wall = wall or (lambda: datetime.now(UTC))
        self._day = self._wall().date()
        self._units: list[UnitRecord] = []
        self._problems: list[str] = []  # PostgreSQL's, from its last read
        self._reader = threading.Thread(target=self._read_days, name="fleet-day", daemon=True)
        if live is not None:
            live.listen(self.changed)

    @property
    def day(self) -> date:
        """The day shown (UTC), as of PostgreSQL's last read."""
        with self._lock:
            return self._day

    def start(self) -> FleetFeed:
        self.refresh_day()  # the first page has the day already
        self._reader.start()
        return self

    def _read_days(self) -> None:
        while not self.closed.wait(self.refresh_s):
            self.refresh_day()

    def refresh_day(self) -> None:
        """The day's units from PostgreSQL; while it does not answer the last ones read stay,
        with the reason beside them (as `rig fleet --watch` does)."""
        today = self._wall().date()
        if self.fleet.postgres is None:  # no records: only the date moves on
            with self._lock:
                self._day = today
            return
        import psycopg

        from rig.fleet.sender import why

        try:
            units, problems = day_units(self.fleet.postgres, today), []
        except (psycopg.Error, OSError) as exc:
            units, problems = self._units if today == self._day else [], [f"PostgreSQL: {why(exc)}"]
        with self._lock:
            same = (today, problems, units) == (self._day, self._problems, self._units)
            self._day, self._units, self._problems = today, units, problems
        if not same:
            self.changed()

    def close(self) -> None:
        """The page is going: its streams end."""
        self.end_streams()

    def state(self) -> dict[str, Any]:
        """Everything the page shows, now."""
        with self._lock:
            day, units, problems = self._day, list(self._units), list(self._problems)
        # Never a server asked from here (this runs on the event loop): the bays are the
        # subscription's, the units the last read's.
        fleet = self.fleet if self.live is not None else replace(self.fleet, mqtt=None)
        snapshot = fleet_snapshot(fleet, day=day, live=self.live, units=units)
        snapshot.problems += problems
        problem = self.live.problem() if self.live is not None else None
        if problem is not None:
            snapshot.problems.append(problem)
        now = self._wall()
        stations = []
        for name, view in sorted(snapshot.stations.items()):
            bays = [
                {
                    "name": bay,
                    "unit": s.get("unit"),
                    "stage": s.get("stage") or "",
                    "left_s": _left_s(s.get("deadline"), now),
                    "outcome": s.get("outcome"),
                    "outcome_detail": s.get("outcome_detail"),
                    "reason": s.get("reason"),
                }
                for bay, s in sorted(view.bays.items())
            ]
            stations.append(
                {
                    "name": name,
                    "status": view.status,
                    "bays": bays,
                    "units": view.day.units,
                    "verified": view.day.verified,
                    "yield": view.day.yield_text(),
                }
            )
        latest = sorted(units, key=lambda u: u.last.started_wall, reverse=True)[:UNITS_SHOWN]
        return {
            "day": day.isoformat(),
            "stations": stations,
            "models": [
                {"model": m, "units": t.units, "verified": t.verified, "yield": t.yield_text()}
                for m, t in tally_by_model(units).items()
            ],
            "units": [
                {**unit_row(u), "station": u.last.station, "certificate": certificate_link(u)}
                for u in latest
            ],
            "units_total": len(units),
            "postgres": self.fleet.postgres is not None,
            "problems": snapshot.problems,
            "ended": self.closed.is_set(),
        }


def make_fleet_app(feed: FleetFeed, *, token: str | None = None) -> ASGIApp:
    """The fleet page's ASGI app, behind the station page's token gate."""

    def report(request: Request) -> Response:
        # A plain function: Starlette runs it in a worker thread, off the event loop that
        # keeps the pages' streams going, while PostgreSQL answers.
        import psycopg

        from rig.fleet.queries import fleet_jobs, open_fleet
        from rig.fleet.sender import why
        from rig.records.report import DEFAULT_TITLE, render_html

        if feed.fleet.postgres is None:
            return PlainTextResponse("rig: no report: [fleet] postgres is not set\n", 404)
        since = feed.day
        try:
            with open_fleet(feed.fleet.postgres) as conn:
                jobs = fleet_jobs(conn, since_wall=_day_start(since))
        except (psycopg.Error, OSError) as exc:
            return PlainTextResponse(f"rig: fleet database: {why(exc)}\n", 503)
        station = request.query_params.get("station")
        if station is not None:
            jobs = [j for j in jobs if j.get("station") == station]
        title = f"{DEFAULT_TITLE}: {station}" if station else DEFAULT_TITLE
        return HTMLResponse(render_html(jobs, title=title, since=since))

    routes = [*live_page_routes(feed, "fleet.html"), Route("/report", report)]
    return TokenGate(Starlette(routes=routes), token, what="this fleet page")


@contextmanager
def fleet_web(fleet: FleetConfig, option: WebOption) -> Iterator[WebServer]:
    """The fleet page, served while the block runs (one MQTT subscription for every page)."""
    # Not waiting for the broker: a page up before it shows why its bays are missing.
    live = LiveFleet(fleet.mqtt).start() if fleet.mqtt is not None else None
    feed = FleetFeed(fleet, live=live)
    server: WebServer | None = None
    try:
        feed.start()
        server = WebServer(make_fleet_app(feed, token=option.token), option.host, option.port)
        server.start()
        yield server
    finally:
        feed.close()  # first: the open streams end, so the server stops at once
        if server is not None:
            server.stop()
        if live is not None:
            live.close()


def serve_fleet(fleet: FleetConfig, option: WebOption, tell: Callable[[str], None]) -> None:
    """`rig fleet --web`: the page until Ctrl-C."""
    with fleet_web(fleet, option) as server:
        tell(f"fleet page: {server.url}" + (" (token)" if option.token else ""))
        threading.Event().wait()  # Ctrl-C (KeyboardInterrupt) ends it
