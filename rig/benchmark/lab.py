"""The station against a simulated lab, in real time: what a bay achieves against its floor.

The simulated lab (boards behind ptys, PoE switch through snmpsim, cameras on a loopback SADP
network) runs in its own process (rig.sim.farm), and each measured station runs in a fresh
process of its own (`in_own_process`): the CPU seconds and the peak RSS are the station's
alone, as on a Pi whose cameras are real.

A bay's floor per unit is what the procedure and the camera mandate: `off_s`, the plunger's
travel, the hold, the camera's boot, and the `settle_s` the config asks a unit to stay up
before it is judged. Everything beyond it is what the rig adds.
"""

from __future__ import annotations

import itertools
import multiprocessing
import queue
import resource
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import tomli_w
from rich.console import Console

from rig.clock import SystemClock
from rig.config import parse_config
from rig.outcomes import Outcome
from rig.procedures.power_cycle_hold import TRAVEL_S
from rig.progress import Progress
from rig.records.store import RecordStore
from rig.sim.farm import PSE_DETECT_S, FarmBay, SimFarm
from rig.station import Station

#: The model most bays hold, and the one of a mixed lot that needs a longer hold.
MODEL = "DS-2CD2143G2-I"
LONGER_MODEL = "DS-2CD2386G2-ISU/SL"

T = TypeVar("T")


@dataclass(frozen=True)
class Timing:
    off_s: float
    hold_s: float
    boot_s: float
    rounds: int  # units per bay
    settle_s: float = 0.5  # the shipped [network] settle_s

    @property
    def reset_hold_s(self) -> float:
        """What the usual model needs: a little less than the hold given."""
        return round(self.hold_s * 0.8, 3)

    @property
    def longer_hold_s(self) -> float:
        """The escalation hold: what a mixed lot's other model needs, and gets on escalation."""
        return round(self.hold_s * 1.75, 3)

    def floor_s(self, hold_s: float, *, switch: bool = False) -> float:
        """One unit's floor; on a switch port, also the PSE's detection of the unit before
        power flows (802.3af: a few tens of ms, the simulated PSE's `PSE_DETECT_S`)."""
        return (
            self.off_s
            + TRAVEL_S
            + hold_s
            + self.boot_s
            + self.settle_s
            + (PSE_DETECT_S if switch else 0.0)
        )


@dataclass(frozen=True)
class Lot:
    """What the station is given: `bays` bays, the last `switch_bays` of them on the PoE
    switch (the others on boards of four), and every `longer_every`-th bay holding units of
    the model that needs the longer hold (0: none)."""

    bays: int
    switch_bays: int = 0
    longer_every: int = 0

    def farm_bays(self, timing: Timing) -> list[FarmBay]:
        out = []
        for i in range(self.bays):
            longer = self.longer_every > 0 and i % self.longer_every == self.longer_every - 1
            on_switch = i >= self.bays - self.switch_bays
            out.append(
                FarmBay(
                    name=_bay_name(i),
                    power="switch" if on_switch else "board",
                    model=LONGER_MODEL if longer else MODEL,
                    # Between the two holds: the first attempt fails, the escalation verifies.
                    reset_hold_s=(timing.hold_s + timing.longer_hold_s) / 2
                    if longer
                    else timing.reset_hold_s,
                    boot_s=timing.boot_s,
                    # A mixed lot is many units of each model (learning counts units).
                    distinct_units=self.longer_every > 0 and not on_switch,
                )
            )
        return out

    def describe(self) -> str:
        boards = self.bays - self.switch_bays
        parts = [f"{boards} on boards"] if boards else []
        if self.switch_bays:
            parts.append(f"{self.switch_bays} on the switch")
        return f"{self.bays} ({', '.join(parts)})"


def _bay_name(i: int) -> str:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return letters[i] if i < 26 else f"{letters[i // 26 - 1]}{letters[i % 26]}"


@dataclass
class StationRun:
    bays: int
    units: int
    verified: int
    wall_s: float  # the station's start to the end of its last job
    cpu_s: float  # the station process, while it ran
    peak_rss_mb: float
    floor_s: float  # one unit's floor at the bays' hold
    probes: int = 0  # SADP probes the station sent
    escalated: int = 0  # units that needed more than one attempt
    attempts: int = 0
    overheads_s: list[float] = field(default_factory=list)  # per job, beyond its floor
    switch_overheads_s: list[float] = field(default_factory=list)  # those of switch bays
    first_overhead_s: float | None = None  # the station's first unit
    latencies_s: list[float] = field(default_factory=list)
    release_to_press_s: list[float] = field(default_factory=list)
    rest_first_s: list[float] = field(default_factory=list)
    hold_errors_ms: list[float] = field(default_factory=list)
    spans_s: list[float] = field(default_factory=list)
    learned_starts: int = 0  # first attempts whose hold the records chose
    stop_s: float = 0.0

    @property
    def per_hour(self) -> float:
        return self.units / self.wall_s * 3600 if self.wall_s else 0.0

    @property
    def floor_per_hour(self) -> float:
        """Every bay cycling at its floor, a unit loaded the moment the last one is done."""
        return self.bays * 3600 / self.floor_s

    @property
    def cpu_s_per_unit(self) -> float:
        return self.cpu_s / max(self.units, 1)


class _Quiet:
    """The operator of a station nobody watches (it notes when the station says it is ready)."""

    def __init__(self) -> None:
        self.ready = threading.Event()

    def tell(self, message: str) -> None:
        if message.startswith("station ready"):
            self.ready.set()

    def wait_enter(self, message: str) -> None:
        pass

    def confirm(self, question: str) -> bool:
        return True


class _Lab(Progress):
    """The operator: reloads a bay (the next unit off the pile) the moment it says ready."""

    def __init__(self, farm: SimFarm, bays: list[str], rounds: int) -> None:
        super().__init__(SystemClock(), Console(quiet=True))
        self.farm = farm
        self.left = dict.fromkeys(bays, rounds)
        self.scans: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._guard = threading.Lock()
        self.done = threading.Event()

    def stage(self, bay: str, name: str, deadline: float | None = None) -> None:
        if not name.startswith("ready"):
            return
        with self._guard:
            if self.left[bay] <= 0:
                if not any(self.left.values()) and not self.done.is_set():
                    self.done.set()
                    self.scans.put(None)
                return
            self.left[bay] -= 1
        self.scans.put(f"{bay} {self.farm.reload(bay)}")

    def summary(self, line: str) -> None:
        pass


def _drain(scans: queue.SimpleQueue[str | None]) -> Iterator[str]:
    """The operator's scans as the station reads them, until a None ends the day."""
    while (line := scans.get()) is not None:
        yield line


def _station_toml(
    farm: SimFarm,
    timing: Timing,
    *,
    learn: bool,
    network: dict[str, Any] | None,
    extra: str,
    learn_min_units: int = 5,
) -> str:
    text = farm.rig_toml(
        off_s=timing.off_s,
        hold_s=timing.hold_s,
        boot_timeout_s=max(30.0, 4 * timing.boot_s),
        escalation_holds_s=[timing.hold_s, timing.longer_hold_s],
        network={"settle_s": timing.settle_s, **(network or {})},
        station="bench",
    )
    doc = tomllib.loads(text)
    doc["station"].update(learn_holds=learn, learn_min_units=learn_min_units)
    return tomli_w.dumps(doc) + extra


def run_station(
    lot: Lot,
    timing: Timing,
    *,
    learn: bool = True,
    learn_min_units: int = 5,
    network: dict[str, Any] | None = None,
    fleet: str = "",
) -> StationRun:
    """Run `timing.rounds` units through each bay of `lot`; the figures of the run.

    `network`: [network] keys over the shipped ones; `fleet`: a [fleet] table to add."""
    farm_bays = lot.farm_bays(timing)
    with (
        tempfile.TemporaryDirectory(prefix="rig-bench-") as tmp,
        SimFarm(farm_bays, workdir=Path(tmp) / "farm") as farm,
    ):
        text = _station_toml(
            farm,
            timing,
            learn=learn,
            learn_min_units=learn_min_units,
            network=network,
            extra=fleet,
        )
        data_dir = Path(tmp) / "records"
        lab = _Lab(farm, [_bay_name(i) for i in range(lot.bays)], timing.rounds)
        operator = _Quiet()
        station = Station(
            parse_config(text, "benchmark config"),
            clock=SystemClock(),
            data_dir=data_dir,
            operator=operator,
            scans=_drain(lab.scans),
            progress=lab,
        )
        cpu0 = time.process_time()
        start_wall = time.time()
        station.run()
        stopped_wall = time.time()
        cpu = time.process_time() - cpu0
        probes = station.network.client.stats.probes if station.network else 0
        with RecordStore(data_dir) as store:
            jobs = store.jobs()
    run = StationRun(
        bays=lot.bays,
        units=len({j["first_job_id"] or j["job_id"] for j in jobs}),
        verified=0,
        # From the station's first job (it is ready: boards open, switches read) to its last.
        wall_s=max((j["ended_wall"] for j in jobs), default=start_wall)
        - min((j["started_wall"] for j in jobs), default=start_wall),
        cpu_s=cpu,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        floor_s=timing.floor_s(timing.hold_s),
        probes=probes,
        attempts=len(jobs),
    )
    switch = {b.name for b in farm_bays if b.power == "switch"}
    _fold_jobs(jobs, timing, run, switch_bays=switch)
    if jobs:  # the ends of jobs are wall times: the station's stop by the same clock
        run.stop_s = max(0.0, stopped_wall - max(j["ended_wall"] for j in jobs))
    return run


def _fold_jobs(
    jobs: list[dict[str, Any]], timing: Timing, run: StationRun, *, switch_bays: set[str]
) -> None:
    units: dict[int, list[dict[str, Any]]] = {}
    for job in jobs:
        units.setdefault(job["first_job_id"] or job["job_id"], []).append(job)
    for attempts in units.values():
        run.verified += attempts[-1]["outcome"] == Outcome.RESET_VERIFIED.value
        run.escalated += len(attempts) > 1
        basis = (attempts[0]["plan"] or {}).get("hold_basis") or ""
        run.learned_starts += str(basis).startswith("learned")
    first_job = min((j["job_id"] for j in jobs), default=None)
    for job in jobs:
        steps = {s["name"]: s for s in job["steps"]}
        if "safe" not in steps or "identify" not in steps:
            continue
        if job["outcome"] not in (Outcome.RESET_VERIFIED.value, Outcome.NOT_RESET.value):
            continue
        # The job from the scan to its verdict, less the solenoid's rest (a duty cycle, see
        # the rest table) and the waits the procedure and the camera mandate.
        span = steps["safe"]["ended_mono"] - steps["identify"]["started_mono"]
        floor_s = timing.floor_s(job["target_hold_s"], switch=job["bay"] in switch_bays)
        overhead = span - floor_s - _took(steps.get("cooldown"))
        run.overheads_s.append(overhead)
        if job["bay"] in switch_bays:
            run.switch_overheads_s.append(overhead)
        if job["job_id"] == first_job:
            run.first_overhead_s = overhead
        run.spans_s.append(span)
        if job["hold_s"] is not None:
            run.hold_errors_ms.append((job["hold_s"] - job["target_hold_s"]) * 1000)
        back = next((e for e in job["evidence"] if e["check"] == "back"), None)
        if back is not None:
            run.latencies_s.append(back["after_s"] - timing.boot_s)
    _rest_overlap(jobs, run)


def _took(step: dict[str, Any] | None) -> float:
    return 0.0 if step is None else step["ended_mono"] - step["started_mono"]


def _rest_overlap(jobs: list[dict[str, Any]], run: StationRun) -> None:
    by_bay: dict[str, list[dict[str, dict[str, Any]]]] = {}
    for job in jobs:
        by_bay.setdefault(job["bay"], []).append({s["name"]: s for s in job["steps"]})
    for steps in by_bay.values():
        for last, this in itertools.pairwise(steps):
            if "hold" not in last or "press" not in this:
                continue
            released = last["hold"]["ended_mono"]
            rest_s = last["hold"]["details"].get("pressed_s", 0.0)
            to_identify = this["identify"]["started_mono"] - released
            identify_to_press = this["press"]["started_mono"] - this["identify"]["started_mono"]
            run.release_to_press_s.append(this["press"]["started_mono"] - released)
            # Before: the rest waited out first, then the whole identification and power-off.
            run.rest_first_s.append(
                max(to_identify, rest_s) + identify_to_press - _took(this.get("cooldown"))
            )


@dataclass
class Idle:
    cpu_share: float  # of one core
    probes_per_min: float


def idle_station(lot: Lot, seconds: float) -> Idle:
    """The station with its bays configured and nothing scanned: CPU share of one core and
    the SADP probes it sends, after a second to settle into waiting."""
    timing = Timing(off_s=1.0, hold_s=2.0, boot_s=1.0, rounds=0)
    with (
        tempfile.TemporaryDirectory(prefix="rig-bench-idle-") as tmp,
        SimFarm(lot.farm_bays(timing), workdir=Path(tmp) / "farm") as farm,
    ):
        text = _station_toml(farm, timing, learn=True, network=None, extra="")
        scans: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        operator = _Quiet()
        station = Station(
            parse_config(text, "idle"),
            clock=SystemClock(),
            data_dir=Path(tmp) / "records",
            operator=operator,
            scans=_drain(scans),
            progress=Progress(SystemClock(), Console(quiet=True)),
        )
        thread = threading.Thread(target=station.run)
        thread.start()
        if not operator.ready.wait(120):
            raise RuntimeError("the idle station did not get ready within 120 s")
        time.sleep(1.0)  # its first polls
        assert station.network is not None
        probes0, cpu0 = station.network.client.stats.probes, time.process_time()
        time.sleep(seconds)
        cpu = time.process_time() - cpu0
        probes = station.network.client.stats.probes - probes0
        scans.put(None)
        thread.join()
    return Idle(cpu_share=cpu / seconds, probes_per_min=probes / seconds * 60)


def in_own_process(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` in a fresh process (spawned: nothing inherited), so its peak RSS
    and CPU are its own; the result comes back pickled."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(fn, *args, **kwargs).result()
