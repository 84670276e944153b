"""`python -m rig.benchmark`: what the rig achieves in real time, against simulated cameras,
each figure beside its target as a ratio (ratios hold on a noisy machine; seconds do not).

1. hold precision: target vs applied hold, on mock pins and through the simulated board;
2. throughput on 1, 16 and 48 bays (boards and PoE-switch bays mixed): the floor's units per
   hour (every bay cycling at off + travel + hold + boot + settle), what was achieved, the
   ratio, and 48 bays against one (target: at least 45x);
3. what the rig adds to each unit beyond its floor (target: 0.3 s median, 0.5 s worst), the
   station's first unit against the others (no warm-up);
4. detection: from the camera answering again to the rig noticing (target: 0.15 s median);
5. cost and its growth with bays: CPU per unit, CPU while running and idle (target: idle below
   1 % of a core), peak RSS, and the SADP probes an idle station sends (no more than before);
6. a mixed lot (half its units need the longer hold) with holds learned per model off and on:
   units per hour and escalations per 100 units;
7. the solenoid's rest overlapping the next unit (release -> next press);
8. the station page: a stage change to the browser's event, against its one-second budget;
9. the QA pass per unit against its floor;
10. a switch bay's cut and power-on through a real SNMP agent (snmpsim on 127.0.0.1);
11. the reset with the fleet's servers away, against no fleet.

The simulated lab runs in its own process and each station in a fresh one (rig.benchmark.lab):
CPU and RSS are the station's own. `--quick` runs small numbers (a smoke test for `make test`,
not figures to quote).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
from dataclasses import dataclass, replace

from rig.benchmark.lab import (
    Idle,
    Lot,
    StationRun,
    Timing,
    idle_station,
    in_own_process,
    run_station,
)
from rig.benchmark.precision import hold_on_mock_pins, hold_on_sim_board
from rig.benchmark.report import at_least, at_most, console, med_worst, med_worst_abs, table
from rig.benchmark.switch import switch_port_times
from rig.config import NetworkConfig

__all__ = ["Lot", "StationRun", "Timing", "main", "run_station", "switch_port_times"]

#: Issue 17's targets.
SCALE_TARGET = 45.0  # 48 bays against one
ADDED_MEDIAN_S, ADDED_WORST_S = 0.3, 0.5
DETECTION_MEDIAN_S = 0.15
IDLE_SHARE = 0.01


@dataclass(frozen=True)
class Sizes:
    presses: int
    timing: Timing
    lots: tuple[Lot, ...]  # the throughput rows; the first is the one-bay reference
    mixed: Lot
    mixed_timing: Timing
    learn_min_units: int
    idle_s: float
    page_changes: int
    qa_units: int
    switch_cycles: int


FULL = Sizes(
    presses=20,
    timing=Timing(off_s=2.0, hold_s=8.0, boot_s=10.0, rounds=6),
    lots=(Lot(1), Lot(16, switch_bays=4), Lot(48, switch_bays=16)),
    mixed=Lot(8, longer_every=2),
    mixed_timing=Timing(off_s=0.8, hold_s=2.0, boot_s=2.0, rounds=10),
    learn_min_units=5,
    idle_s=10.0,
    page_changes=200,
    qa_units=5,
    switch_cycles=20,
)
QUICK = Sizes(
    presses=4,
    timing=Timing(off_s=0.6, hold_s=1.5, boot_s=0.5, rounds=1),
    lots=(Lot(1), Lot(4, switch_bays=1), Lot(8, switch_bays=2)),
    mixed=Lot(4, longer_every=2),
    mixed_timing=Timing(off_s=0.6, hold_s=1.5, boot_s=0.5, rounds=3),
    learn_min_units=2,
    idle_s=2.0,
    page_changes=20,
    qa_units=2,
    switch_cycles=3,
)


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rig.benchmark", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small numbers, a smoke test")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    console.print(f"rig benchmark{' --quick' if args.quick else ''} on {machine()}")
    _precision_table(sizes.presses)
    runs = [in_own_process(run_station, lot, sizes.timing) for lot in sizes.lots]
    _throughput_table(sizes, runs)
    _added_table(sizes, runs)
    _detection_table(runs)
    idles = [in_own_process(idle_station, lot, sizes.idle_s) for lot in sizes.lots]
    _growth_table(sizes, runs, idles)
    _mixed_lot_table(sizes)
    _rest_table(sizes.timing)
    _page_table(sizes.page_changes)
    _qa_table(quick=args.quick, units=sizes.qa_units)
    _switch_table(sizes.switch_cycles)
    from rig.benchmark.fleet import fleet_down

    fleet_down(replace(sizes.timing, rounds=max(1, sizes.timing.rounds // 2)))
    return 0


# -- the tables --------------------------------------------------------------------------------


def _precision_table(presses: int) -> None:
    gpio = hold_on_mock_pins(presses, hold_s=1.0)
    board = hold_on_sim_board(presses, hold_s=1.0)
    t = table(f"1. hold precision: {presses} presses of 1.000 s", "path", "median ms", "worst ms")
    t.add_row("mock pins (direct GPIO)", *med_worst_abs(gpio))
    t.add_row("simulated board (pty)", *med_worst_abs(board))
    console.print(t)


def _timing_line(timing: Timing) -> str:
    net = NetworkConfig()
    return (
        f"off {timing.off_s:g} s, hold {timing.hold_s:g} s, boot {timing.boot_s:g} s, settle "
        f"{timing.settle_s:g} s; SADP poll {net.sadp_poll_s:g} s idle, "
        f"{net.sadp_fast_poll_s:g} s while a bay expects its unit"
    )


def _throughput_table(sizes: Sizes, runs: list[StationRun]) -> None:
    one = runs[0]
    t = table(
        f"2. throughput against the floor, {sizes.timing.rounds} unit(s) per bay "
        f"({_timing_line(sizes.timing)}; floor {one.floor_s:.2f} s per unit per bay)",
        "bays",
        "units",
        "verified",
        "floor units/h",
        "achieved units/h",
        "achieved / floor",
        "x one bay",
        f"x one bay / {SCALE_TARGET:g}",
    )
    for lot, run in zip(sizes.lots, runs, strict=True):
        scale = run.per_hour / one.per_hour if one.per_hour else 0.0
        t.add_row(
            lot.describe(),
            str(run.units),
            str(run.verified),
            f"{run.floor_per_hour:.0f}",
            f"{run.per_hour:.0f}",
            f"{run.per_hour / run.floor_per_hour:.3f}",
            f"{scale:.1f}",
            at_least(scale, SCALE_TARGET * lot.bays / 48) if lot.bays > 1 else "-",
        )
    console.print(t)


def _added_table(sizes: Sizes, runs: list[StationRun]) -> None:
    t = table(
        "3. what the rig adds to a unit beyond its floor (identify to safe, less the floor and "
        "the solenoid's rest)",
        "bays",
        "median s",
        "worst s",
        f"median / {ADDED_MEDIAN_S:g} s",
        f"worst / {ADDED_WORST_S:g} s",
        "first unit s",
        "first / median of the rest",
    )
    for lot, run in zip(sizes.lots, runs, strict=True):
        rest = list(run.overheads_s)
        first = run.first_overhead_s
        if first is not None and first in rest:
            rest.remove(first)
        first_cells = (
            "-" if first is None else f"{first:.3f}",
            "-" if first is None or not rest else f"{first / statistics.median(rest):.2f}",
        )
        t.add_row(lot.describe(), *_added_cells(run.overheads_s), *first_cells)
        if lot.switch_bays:
            on_boards = list(run.overheads_s)
            for value in run.switch_overheads_s:
                on_boards.remove(value)
            t.add_row("  of them on boards", *_added_cells(on_boards), "", "")
            t.add_row("  of them on the switch", *_added_cells(run.switch_overheads_s), "", "")
    console.print(t)


def _added_cells(values: list[float]) -> tuple[str, str, str, str]:
    if not values:
        return "-", "-", "-", "-"
    med, worst = statistics.median(values), max(values)
    return (
        f"{med:.3f}",
        f"{worst:.3f}",
        at_most(med, ADDED_MEDIAN_S),
        at_most(worst, ADDED_WORST_S),
    )


def _detection_table(runs: list[StationRun]) -> None:
    t = table(
        "4. detection: the camera answering again -> the rig noticing",
        "bays",
        "units",
        "median s",
        "worst s",
        f"median / {DETECTION_MEDIAN_S:g} s",
    )
    for run in runs:
        med, worst = med_worst(run.latencies_s)
        t.add_row(
            str(run.bays),
            str(len(run.latencies_s)),
            med,
            worst,
            at_most(statistics.median(run.latencies_s), DETECTION_MEDIAN_S)
            if run.latencies_s
            else "-",
        )
    console.print(t)


def _growth_table(sizes: Sizes, runs: list[StationRun], idles: list[Idle]) -> None:
    net = NetworkConfig()
    before = 60 / net.sadp_poll_s  # probes a minute: the fixed poll of earlier releases
    one_run = runs[0]
    t = table(
        "5. the station process's cost as bays grow (the simulated lab runs in its own process)",
        "bays",
        "CPU s/unit",
        "CPU running, % core",
        "idle CPU, % core",
        f"idle / {IDLE_SHARE * 100:g} %",
        "peak RSS MB",
        "RSS per bay beyond one, MB",
        "idle probes/min",
        f"idle probes / {before:g} (fixed poll)",
        "probes/unit running",
    )
    for lot, run, idle in zip(sizes.lots, runs, idles, strict=True):
        extra_bays = lot.bays - 1
        per_bay = (run.peak_rss_mb - one_run.peak_rss_mb) / extra_bays if extra_bays else 0.0
        t.add_row(
            lot.describe(),
            f"{run.cpu_s_per_unit:.3f}",
            f"{100 * run.cpu_s / run.wall_s:.1f}",
            f"{100 * idle.cpu_share:.2f}",
            at_most(idle.cpu_share, IDLE_SHARE),
            f"{run.peak_rss_mb:.0f}",
            "-" if not extra_bays else f"{per_bay:.2f}",
            f"{idle.probes_per_min:.0f}",
            at_most(idle.probes_per_min, before),
            f"{run.probes / max(run.units, 1):.0f}",
        )
    console.print(t)


def _mixed_lot_table(sizes: Sizes) -> None:
    timing, lot = sizes.mixed_timing, sizes.mixed
    off = in_own_process(run_station, lot, timing, learn=False)
    on = in_own_process(run_station, lot, timing, learn=True, learn_min_units=sizes.learn_min_units)
    t = table(
        f"6. a mixed lot: {lot.bays} bays, every {lot.longer_every}nd bay's units need the "
        f"longer hold ({timing.hold_s:g} s fails, {timing.longer_hold_s:g} s verifies); "
        f"{timing.rounds} units per bay; learned from {sizes.learn_min_units} units",
        "holds learned",
        "units",
        "verified",
        "units/h",
        "escalations per 100 units",
        "first attempts at a learned hold",
        "units/h against learning off",
    )
    for name, run in (("off", off), ("on", on)):
        t.add_row(
            name,
            str(run.units),
            str(run.verified),
            f"{run.per_hour:.0f}",
            f"{100 * run.escalated / max(run.units, 1):.0f}",
            str(run.learned_starts),
            f"{run.per_hour / off.per_hour:.2f}" if off.per_hour else "-",
        )
    console.print(t)


def _rest_table(timing: Timing) -> None:
    # A boot shorter than the rest: the next unit's identification and power-off fall inside
    # the solenoid's rest instead of after it.
    rest_timing = Timing(off_s=timing.off_s, hold_s=timing.hold_s, boot_s=0.5, rounds=3)
    rest = in_own_process(run_station, Lot(1), rest_timing)
    t = table(
        f"7. the solenoid's rest overlaps the next unit (one bay, hold {timing.hold_s:g} s, "
        f"off {timing.off_s:g} s, boot 0.5 s, the next unit waiting)",
        "release -> next press",
        "median s",
        "worst s",
    )
    t.add_row("as run (rest overlaps identify + power-off)", *med_worst(rest.release_to_press_s))
    t.add_row("rest waited out before identifying", *med_worst(rest.rest_first_s))
    console.print(t)


def _page_table(changes: int) -> None:
    from rig.web.bench import BUDGET_S, page_latency

    page = page_latency(changes)
    t = table(
        "8. the station page: a stage change to the browser's event (4 bays)",
        "changes",
        "median s",
        "worst s",
        "worst / budget",
    )
    t.add_row(str(len(page)), *med_worst(page), at_most(max(page, default=0), BUDGET_S))
    console.print(t)


def _qa_table(*, quick: bool, units: int) -> None:
    """The QA pass per unit (rig.qa.bench) against its floor: one more boot + the checks."""
    from rig.qa.bench import measure_qa_pass

    net = NetworkConfig()
    boot_s = 2.0 if quick else 10.0
    cost = measure_qa_pass(units, boot_s=boot_s, poll_s=net.sadp_poll_s, settle_s=net.settle_s)
    t = table(
        f"9. the QA pass per unit ({len(cost.passes_s)} units, {cost.passed} passed; boot "
        f"{boot_s:g} s, snapshot gap {cost.gap_s:g} s, settle {net.settle_s:g} s)",
        "measure",
        "median s",
        "worst s",
    )
    t.add_row("QA pass, find to restore proven", *med_worst(cost.passes_s))
    t.add_row("floor: one more boot + snapshot gap + settle", f"{cost.floor_s:.3f}", "")
    t.add_row("rig adds beyond the floor", *med_worst(cost.added_s))
    t.add_row("pass / floor", f"{statistics.median(cost.passes_s) / cost.floor_s:.2f}", "")
    for step in ("qa_activate", "qa_picture", "wait_down"):
        t.add_row(f"  of which {step}", *med_worst(cost.steps_s.get(step, [])))
    console.print(t)


def _switch_table(cycles: int) -> None:
    detect_s = 0.1
    try:
        cuts, ons = switch_port_times(cycles, detect_s)
    except RuntimeError as exc:  # snmpsim missing (a dev dependency): say so, go on
        console.print(f"10. switch bay: skipped ({exc})")
        return
    t = table(
        f"10. a switch bay through snmpsim: {cycles} cuts and power-ons of one port "
        f"(simulated PSE detection {detect_s:g} s)",
        "step",
        "median s",
        "worst s",
        "median / PSE detection",
    )
    t.add_row("cut: SET, checked, not delivering", *med_worst(cuts), "-")
    t.add_row(
        "power-on: SET, checked, delivering",
        *med_worst(ons),
        f"{statistics.median(ons) / detect_s:.2f}",
    )
    console.print(t)
