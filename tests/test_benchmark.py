"""`python -m rig.benchmark --quick` is the smoke test of the benchmark: every table prints,
every simulated unit is verified, and the figures are ratios against their targets. The
figures themselves are not judged here (small numbers on a loaded machine say nothing)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

TITLES = [
    "1. hold precision",
    "2. throughput against the floor",
    "3. what the rig adds",
    "4. detection",
    "5. the station process's cost",
    "6. a mixed lot",
    "7. the solenoid's rest",
    "8. the station page",
    "9. the QA pass",
    "10. a switch bay",
    "11. the reset with the fleet",
]


@pytest.fixture(scope="module")
def quick_run() -> str:
    env = {**os.environ, "COLUMNS": "400", "TERM": "dumb"}
    done = subprocess.run(
        [sys.executable, "-m", "rig.benchmark", "--quick"],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout


def _rows(output: str, title: str) -> list[list[str]]:
    """The body rows of the table titled `title...` (cells split on the box's bars)."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(title))
    rows, in_body = [], False
    for line in lines[start + 1 :]:
        if line.startswith(("┡", "├")):
            in_body = True
            continue
        if line.startswith("└"):
            break
        if in_body and line.startswith("│"):
            rows.append([cell.strip() for cell in line.strip("│").split("│")])
    return rows


@pytest.mark.timeout(900)
def test_every_table_prints(quick_run: str) -> None:
    for title in TITLES:
        assert any(line.strip().startswith(title) for line in quick_run.splitlines()), title
    assert "Traceback" not in quick_run


@pytest.mark.timeout(900)
def test_every_unit_of_the_throughput_rows_is_verified(quick_run: str) -> None:
    rows = _rows(quick_run, "2. throughput")
    assert len(rows) == 3
    for row in rows:
        bays = int(row[0].split()[0])
        units, verified = int(row[1]), int(row[2])
        assert units == bays and verified == units, row  # one unit per bay in --quick
        floor, achieved = float(row[3]), float(row[4])
        assert floor > 0 and achieved > 0
        assert float(row[5]) == pytest.approx(achieved / floor, abs=0.002)


@pytest.mark.timeout(900)
def test_targets_are_shown_as_ratios(quick_run: str) -> None:
    ratio = re.compile(r"^\d+\.\d\d (met|MISSED)$")
    for title, columns in (("3. what the rig adds", (3, 4)), ("4. detection", (4,))):
        for row in _rows(quick_run, title):
            for column in columns:
                assert ratio.match(row[column]), (title, row)


@pytest.mark.timeout(900)
def test_the_mixed_lot_runs_with_learning_off_and_on(quick_run: str) -> None:
    rows = _rows(quick_run, "6. a mixed lot")
    assert [row[0] for row in rows] == ["off", "on"]
    off, on = rows
    assert int(off[5]) == 0  # nothing learned with learning off
    assert int(off[2]) == int(off[1]) and int(on[2]) == int(on[1])  # every unit verified
