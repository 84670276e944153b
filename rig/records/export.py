"""Exports of the records: JSON (everything) and CSV (one row per unit job)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

CSV_COLUMNS = (
    "job_id",
    "station",
    "bay",
    "serial",
    "scanned_serial",
    "mac",
    "model",
    "firmware_before",
    "firmware",
    "profile",
    "procedure",
    "attempt",
    "outcome",
    "reason",
    "target_hold_s",
    "hold_s",
    "started",
    "ended",
)


def iso(wall: float | None) -> str | None:
    if wall is None:
        return None
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds")


def _with_times(job: dict[str, Any]) -> dict[str, Any]:
    return dict(job, started=iso(job["started_wall"]), ended=iso(job["ended_wall"]))


def to_json(jobs: list[dict[str, Any]]) -> str:
    out = [
        dict(job, started=iso(job["started_wall"]), ended=iso(job["ended_wall"])) for job in jobs
    ]
    return json.dumps(out, indent=2, sort_keys=True)


def to_csv(jobs: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for job in jobs:
        writer.writerow(_with_times(job))
    return buffer.getvalue()
