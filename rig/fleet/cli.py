"""`rig fleet`, `rig fleet status` and `rig report --fleet`: the fleet's side of the command
line (rig.cli parses the arguments and calls these)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from rich.console import Console

from rig.config import RigConfig
from rig.errors import RigError, UsageError

EXIT_OK, EXIT_FAILED = 0, 1


def _no_fleet(config: RigConfig, what: str) -> UsageError:
    return UsageError(f"{config.source}: fleet.{what}: not set: {_HINT[what]}")


_HINT = {
    "postgres": 'the lab\'s records need [fleet] postgres = "postgresql://rig@host/db"',
    "any": 'add [fleet] postgres = "postgresql://..." and/or mqtt = "mqtt://host:1883"',
}


def fleet_jobs_for(config: RigConfig, *, since_wall: float | None) -> list[dict[str, Any]]:
    """Every station's jobs from the fleet database (`rig report --fleet`)."""
    import psycopg

    from rig.fleet.queries import fleet_jobs, open_fleet
    from rig.fleet.sender import why

    if config.fleet.postgres is None:
        raise _no_fleet(config, "postgres")
    try:
        with open_fleet(config.fleet.postgres) as conn:
            return fleet_jobs(conn, since_wall=since_wall)
    except (psycopg.Error, OSError) as exc:
        raise RigError(f"fleet database: {why(exc)}") from None


def run_fleet(
    config: RigConfig,
    data_dir: Path,
    *,
    action: str | None,
    as_json: bool,
    window_s: float,
    console: Console,
    watch_view: bool = False,
    web: str | None = None,
) -> int:
    from rig.fleet.view import backlog_report, fleet_snapshot, render, render_backlog, watch

    if not config.fleet.enabled:
        raise UsageError(f"{config.source}: no [fleet]: {_HINT['any']}")
    if action == "status":
        if config.fleet.postgres is None:
            raise _no_fleet(config, "postgres")
        report = backlog_report(config.fleet, config.station.name, data_dir)
        if as_json:
            print(json.dumps(_backlog_json(report), sort_keys=True))
        else:
            console.print(render_backlog(report))
        return EXIT_FAILED if report.problems else EXIT_OK
    if web is not None:
        return _serve_web(config, web, action=action, as_json=as_json, watch_view=watch_view)
    if watch_view:
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a watch ends
            watch(config.fleet, console)
        return EXIT_OK
    snapshot = fleet_snapshot(config.fleet, window_s=window_s)
    if as_json:
        print(json.dumps(snapshot.as_json(), sort_keys=True))
    else:
        console.print(render(snapshot))
    return EXIT_FAILED if snapshot.problems else EXIT_OK


def _serve_web(
    config: RigConfig, listen: str, *, action: str | None, as_json: bool, watch_view: bool
) -> int:
    """`rig fleet --web`: the fleet page until Ctrl-C (the address checked first)."""
    from rig.web.fleet_app import DEFAULT_PORT, serve_fleet
    from rig.web.serve import WebOption

    if action is not None or as_json or watch_view:
        raise UsageError("--web: the page is the live view: not with status, --json or --watch")
    option = WebOption.from_args(listen, default_port=DEFAULT_PORT)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how the page ends
        serve_fleet(config.fleet, option, tell=lambda line: print(line, flush=True))
    return EXIT_OK


def _backlog_json(report: Any) -> dict[str, Any]:
    return {
        "station": report.local_station,
        "outbox_pending": report.local_pending,
        "outbox_oldest_queued_wall": report.local_oldest_wall,
        "stations": [
            {
                "station": row.station,
                "seen_at": row.seen_at.isoformat(),
                "outbox_pending": row.outbox_pending,
                "oldest_pending_at": (
                    row.oldest_pending_at.isoformat() if row.oldest_pending_at else None
                ),
                "jobs": row.jobs,
                "last_job_at": row.last_job_at.isoformat() if row.last_job_at else None,
                "rig_version": row.rig_version,
            }
            for row in report.rows
        ],
        "problems": report.problems,
    }
