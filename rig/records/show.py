"""A job's record as a person reads it at the bench: the steps, their timing, the verdict."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table

from rig.job import HARD_PROCEDURES
from rig.records.units import bay_label, iso

_COLOURS = {"reset_verified": "green", "aborted": "yellow"}


def render_job(job: dict[str, Any]) -> Panel:
    steps = Table(expand=False, show_edge=False)
    for column in ("step", "started", "took", "details"):
        steps.add_column(column)
    for step in job["steps"]:
        took = (
            f"{step['ended_mono'] - step['started_mono']:.3f} s"
            if step["ended_mono"] is not None
            else "-"
        )
        details = ", ".join(
            f"{k}={v}"
            for k, v in step["details"].items()
            if k not in ("sadp_xml", "thumbnail_jpeg_b64") and v is not None  # bulk, not text
        )
        if step["error"]:
            details = f"[red]error: {step['error']}[/] " + details
        steps.add_row(step["name"], (iso(step["started_wall"]) or "")[11:23], took, details)
    outcome = job["outcome"] or "running"
    colour = _COLOURS.get(outcome, "red")
    hold = f"{job['hold_s']:.3f} s" if job["hold_s"] is not None else "-"
    held = f"hold {hold} (target {job['target_hold_s']:g} s)  "
    head = (
        f"[bold]job {job['job_id']}[/] {bay_label(job['bay'])} on {job['station']}: "
        f"[bold {colour}]{outcome}[/] ({job['reason']})\n"
        f"unit {job['serial'] or '?'}  MAC {job['mac'] or '?'}  model {job['model'] or '?'}  "
        f"firmware {job['firmware'] or '?'}\n"
        f"{held if job['procedure'] in HARD_PROCEDURES else ''}started {iso(job['started_wall'])}"
    )
    if job.get("qa"):
        head += f"\nQA pass: {job['qa']}" + (f" ({job['qa_check']})" if job.get("qa_check") else "")
    return Panel(Group(head, steps), title="reset record", expand=False)


def print_job(job: dict[str, Any], console: Console) -> None:
    console.print(render_job(job))
