"""Exports of the records, one row or object per unit (its escalation attempts grouped, by
rig.records.units): JSON with each unit's attempts, CSV one row per unit. A job without a bay
(a software reset) has an empty `bay` cell in the CSV and `"bay": null` in the JSON. The HTML
page is rig.records.report."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from typing import Any

from rig.records.units import units_from_jobs

# `job_id` is the unit's last job, whose outcome and hold the row reports; `job_ids` are all.
CSV_COLUMNS = (
    "job_id",
    "station",
    "bay",
    "serial",
    "scanned_serial",
    "mac",
    "model",
    "firmware_before",
    "firmware_after",
    "profile",
    "procedure",
    "outcome",
    "reason",
    "attempts",
    "target_hold_s",
    "hold_s",
    "started",
    "ended",
    "job_ids",
    "qa",  # the QA pass: passed / failed / empty (none)
    "qa_check",  # the first QA check that failed
)

# A spreadsheet runs a cell that starts with one of these as a formula, and serials, models
# and reasons are whatever a device on the bench LAN put in its SADP reply.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_json(jobs: Iterable[Mapping[str, Any]]) -> str:
    """A list of units, each with its attempts (no evidence bodies)."""
    return json.dumps([u.as_dict() for u in units_from_jobs(jobs)], indent=2, sort_keys=True)


def to_csv(jobs: Iterable[Mapping[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for unit in units_from_jobs(jobs):
        row = unit.as_dict()
        row["attempts"] = len(unit.attempts)
        row["job_ids"] = " ".join(map(str, unit.job_ids))
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return buffer.getvalue()
