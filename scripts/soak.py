"""A long soak of the simulated station: units through `rig run`'s Station, with faults.

    .venv/bin/python scripts/soak.py                  # 100 units over 4 bays, mock GPIO pins
    .venv/bin/python scripts/soak.py --board          # each bay on a simulated firmware board
    .venv/bin/python scripts/soak.py --units 8 --seed 3 --quiet

The station runs in this process exactly as `rig run` builds it (`rig.station.Station`), over
gpiozero's mock pins or simulated boards, with a simulated camera per unit on a simulated LAN
(127.0.0.1 only). An operator loads each unit into the first bay that says it is ready and
scans its label. Every unit carries a fault drawn at random (seeded, so a run can be repeated),
each kind at least once when there are enough units:

    none                         -> reset_verified
    dead camera                  -> no_response
    reboot loop                  -> reboot_loop
    not enough hold (escalates)  -> not_reset, then reset_verified with the longer hold
    not enough hold (never)      -> not_reset, not_reset
    relay does not cut           -> hardware_fault (power did not cut)
    board reboot mid-hold        -> hardware_fault (--board only; the operator restarts the
                                    station afterwards, as a bench would)

Two counts decide the run, and it exits 1 unless both are 0:

- records lost: a unit scanned without a finished job per attempt whose outcomes are the ones
  its fault predicts, each ending with the safe step that found the bay safe;
- unsafe moments: a watcher thread samples every bay's actuators every 2 ms. Unsafe is a
  solenoid down outside its job's press/hold steps or longer than its press limit, or a relay
  energised outside its job's power-off window, or either after the station stopped. The
  steps are read from the station's own progress (the stage each bay announces); a condition
  counts once it has lasted TOLERANCE_S, because a stage is announced just before a press and
  just after a cut (a board's relay switches before its answer is back).

Timings are scaled down (off 0.5 s, hold 1 s, boot 0.3 s, SADP poll 0.1 s) so 100 units take a
few minutes; power cuts stay the station's 1 s apart.
"""

from __future__ import annotations

import argparse
import io
import logging
import queue
import random
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Any

from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPWMPin
from rich.console import Console

from rig.clock import SystemClock
from rig.config import parse_config
from rig.outcomes import Outcome
from rig.procedures.bay import GUARD_MARGIN_S
from rig.progress import Progress
from rig.records.store import RecordStore
from rig.sim.bench import board_bay, gpio_bay, relay_feeds_power, rig_toml
from rig.sim.board import SimBoard
from rig.sim.camera import CameraSpec, SimCamera
from rig.sim.network import SimNetwork
from rig.station import Station

# (relay, solenoid) GPIOs of up to eight bays, all on the 40-pin header's GPIO 2-27.
PINS = [(17, 27), (22, 23), (5, 6), (12, 13), (16, 20), (19, 26), (24, 25), (2, 3)]

OFF_S = 0.5
HOLD_S = 1.0
LONGER_HOLD_S = 1.8  # the escalation's second attempt
BOOT_S = 0.3
BOOT_TIMEOUT_S = 5.0  # the config's minimum
POLL_S = 0.1
SETTLE_S = 0.6  # longer than a looping unit's up time plus the two polls that see it go

SAMPLE_S = 0.002
TOLERANCE_S = 0.050
PRESS_LIMIT_S = LONGER_HOLD_S + GUARD_MARGIN_S  # the longest press the procedure ever asks for
PRESS_STAGES = frozenset({"pressing", "holding"})
CUT_STAGES = frozenset({"power off", "pressing"})  # power returns at the end of "pressing"


class Fault(StrEnum):
    NONE = "none"
    DEAD = "dead camera"
    REBOOT_LOOP = "reboot loop"
    NEEDS_LONGER_HOLD = "not enough hold (escalates)"
    WILL_NOT_RESET = "not enough hold (never)"
    RELAY_STUCK = "relay does not cut"
    BOARD_REBOOT = "board reboot mid-hold"


# How often each fault is drawn, and the outcome of each attempt it must end with.
WEIGHTS = {
    Fault.NONE: 40,
    Fault.DEAD: 8,
    Fault.REBOOT_LOOP: 10,
    Fault.NEEDS_LONGER_HOLD: 12,
    Fault.WILL_NOT_RESET: 8,
    Fault.RELAY_STUCK: 10,
    Fault.BOARD_REBOOT: 8,
}
PREDICTED: dict[Fault, list[Outcome]] = {
    Fault.NONE: [Outcome.RESET_VERIFIED],
    Fault.DEAD: [Outcome.NO_RESPONSE],
    Fault.REBOOT_LOOP: [Outcome.REBOOT_LOOP],
    Fault.NEEDS_LONGER_HOLD: [Outcome.NOT_RESET, Outcome.RESET_VERIFIED],
    Fault.WILL_NOT_RESET: [Outcome.NOT_RESET, Outcome.NOT_RESET],
    Fault.RELAY_STUCK: [Outcome.HARDWARE_FAULT],
    Fault.BOARD_REBOOT: [Outcome.HARDWARE_FAULT],
}


def camera_spec(n: int, fault: Fault) -> CameraSpec:
    """Unit number `n` (its own MAC and serial), behaving as its fault says."""
    spec: dict[str, object] = {"boot_s": BOOT_S, "reset_hold_s": round(HOLD_S * 0.7, 3)}
    if fault is Fault.DEAD:
        spec["dead"] = True
    elif fault is Fault.REBOOT_LOOP:
        spec.update(reboot_loop=True, up_s=0.2, down_s=0.4)
    elif fault is Fault.NEEDS_LONGER_HOLD:
        spec["reset_hold_s"] = (HOLD_S + LONGER_HOLD_S) / 2
    elif fault is Fault.WILL_NOT_RESET:
        spec["reset_hold_s"] = LONGER_HOLD_S + 0.8
    elif fault is Fault.RELAY_STUCK:
        spec["ignores_power_cut"] = True
    return CameraSpec.sample(n, **spec)


@dataclass
class UnitPlan:
    n: int
    fault: Fault
    spec: CameraSpec = field(init=False)

    def __post_init__(self) -> None:
        self.spec = camera_spec(self.n, self.fault)

    @property
    def label(self) -> str:
        return self.spec.device_sn[-13:]  # the serial printed on the unit's label


def plan_units(units: int, seed: int, board: bool) -> list[UnitPlan]:
    """Seeded faults, each kind at least once if there are enough units."""
    rng = random.Random(seed)
    kinds = [f for f in Fault if board or f is not Fault.BOARD_REBOOT]
    faults = list(kinds[:units])
    weights = [WEIGHTS[k] for k in kinds]
    faults += rng.choices(kinds, weights=weights, k=units - len(faults))
    rng.shuffle(faults)
    return [UnitPlan(n, fault) for n, fault in enumerate(faults, start=1)]


# -- the bench: bays, their actuators, the units in them ------------------------------------------


class Bench:
    """The station's bays on mock pins or simulated boards (one per bay, so a board's reboot
    touches one unit and every outcome stays predictable), and the LAN the units answer on."""

    def __init__(self, bays: int, *, board: bool) -> None:
        self.names = [chr(ord("A") + i) for i in range(bays)]
        self.network = SimNetwork().start()
        self.loaded: dict[str, SimCamera] = {}
        self.boards: dict[str, SimBoard] = {}
        self.factory: MockFactory | None = None
        self.power_is_on: dict[str, Callable[[], bool]] = {}
        self.pin_is_down: dict[str, Callable[[], bool]] = {}
        if board:
            for name in self.names:
                sim = self.boards[name] = SimBoard(channels=1)
                sim.start()
                self.power_is_on[name] = partial(sim.power_is_on, 1)
                self.pin_is_down[name] = partial(sim.pin_is_down, 1)
        else:
            self.factory = MockFactory(pin_class=MockPWMPin)
            Device.pin_factory = self.factory
            for name, (relay, solenoid) in zip(self.names, PINS, strict=False):
                self.power_is_on[name] = partial(relay_feeds_power, self.factory.pin(relay))
                self.pin_is_down[name] = partial(self._down, self.factory.pin(solenoid))

    @staticmethod
    def _down(pin: object) -> bool:
        return bool(getattr(pin, "state", 0))

    def config(self) -> str:
        timing = {
            "profile": "DS-2CD2143G2-I",
            "off_s": OFF_S,
            "hold_s": HOLD_S,
            "escalation_holds_s": [HOLD_S, LONGER_HOLD_S],
            "boot_timeout_s": BOOT_TIMEOUT_S,
        }
        bays = [
            board_bay(name, board=f"b{name}", channel=1, **timing)
            if self.boards
            else gpio_bay(name, relay=relay, solenoid=solenoid, **timing)
            for name, (relay, solenoid) in zip(self.names, PINS, strict=False)
        ]
        return rig_toml(
            target=self.network.target,
            station="soak",
            network={"sadp_poll_s": POLL_S, "settle_s": SETTLE_S},
            boards={f"b{n}": b.port for n, b in self.boards.items()},
            bays=bays,
        )

    def load(self, bay: str, unit: UnitPlan) -> None:
        """Take the last unit out of the bay, put this one in (running), and wait until the
        station's SADP poller has asked twice since: it sees the unit before the scan."""
        self.unload(bay)
        camera = SimCamera(unit.spec).start()
        camera.watch(self.power_is_on[bay], self.pin_is_down[bay])
        asked = self.network.requests_seen
        self.network.add(camera)
        self.loaded[bay] = camera
        deadline = time.monotonic() + 10
        while self.network.requests_seen < asked + 2:
            if time.monotonic() > deadline:
                raise RuntimeError("the station's SADP poller stopped asking")
            time.sleep(0.01)

    def unload(self, bay: str) -> None:
        camera = self.loaded.pop(bay, None)
        if camera is not None:
            camera.unwatch()
            self.network.remove(camera)
            camera.stop()

    def close(self) -> None:
        for bay in list(self.loaded):
            self.unload(bay)
        self.network.stop()
        for sim in self.boards.values():
            sim.stop()
        if self.factory is not None:
            Device.pin_factory = None
            self.factory.reset()


# -- what the station says: stages, readiness, outcomes ------------------------------------------


class Stages(Progress):
    """The station's progress, kept rather than shown: the stage each bay is in (for the
    watcher), the bays that are ready for a unit (for the operator), the units done."""

    def __init__(self, on_outcome: Callable[[str, str], None]) -> None:
        super().__init__(SystemClock(), Console(file=io.StringIO()))
        self._now: dict[str, str] = {}
        self._guard = threading.Lock()
        self.ready: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._on_outcome = on_outcome

    def stage(self, bay: str, name: str, deadline: float | None = None) -> None:
        with self._guard:
            self._now[bay] = name
        if name.startswith("ready"):
            self.ready.put(bay)

    def now(self, bay: str) -> str:
        with self._guard:
            return self._now.get(bay, "")

    def outcome(self, bay: str, outcome: str, reason: str = "") -> None:
        with self._guard:
            self._now[bay] = "done"
        self._on_outcome(bay, outcome)

    def summary(self, line: str) -> None:
        pass


class QuietOperator:
    def __init__(self) -> None:
        self.told: list[str] = []

    def tell(self, message: str) -> None:
        self.told.append(message)

    def wait_enter(self, message: str) -> None:
        self.told.append(message)

    def confirm(self, question: str) -> bool:
        raise RuntimeError(f"the soak's operator was asked: {question}")


# -- the watcher -----------------------------------------------------------------------------


@dataclass
class UnsafeMoment:
    bay: str
    what: str
    at_s: float  # since the soak started
    stage: str


class Watcher(threading.Thread):
    """Samples every bay's actuators every SAMPLE_S and notes each unsafe moment once."""

    def __init__(self, bench: Bench, started: float) -> None:
        super().__init__(name="soak-watcher", daemon=True)
        self.bench = bench
        self.started = started
        self.stages: Stages | None = None  # None: no station running
        self.moments: list[UnsafeMoment] = []
        self.samples = 0
        self._halt = threading.Event()
        self._since: dict[tuple[str, str], float] = {}  # a condition and when it began
        self._counted: set[tuple[str, str]] = set()
        self._down_since: dict[str, float] = {}

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def run(self) -> None:
        while not self._halt.wait(SAMPLE_S):
            now = time.monotonic()
            for bay in self.bench.names:
                self._sample(bay, now)
            self.samples += 1

    def _sample(self, bay: str, now: float) -> None:
        stages = self.stages
        # Stage before and after the pins: a press or a cut that happens between two stage
        # announcements is judged by either side.
        before = stages.now(bay) if stages is not None else "stopped"
        down = self.bench.pin_is_down[bay]()
        cut = not self.bench.power_is_on[bay]()
        after = stages.now(bay) if stages is not None else "stopped"
        running = stages is not None
        if down:
            self._down_since.setdefault(bay, now)
        else:
            self._down_since.pop(bay, None)
        conditions = {
            "solenoid down after the station stopped": down and not running,
            "relay energised after the station stopped": cut and not running,
            "solenoid down outside a press/hold step": (
                down and running and not {before, after} & PRESS_STAGES
            ),
            "relay energised outside a power-off window": (
                cut and running and not {before, after} & CUT_STAGES
            ),
            "solenoid down longer than its press limit": (
                down and now - self._down_since[bay] > PRESS_LIMIT_S
            ),
        }
        for what, unsafe in conditions.items():
            key = (bay, what)
            if not unsafe:
                self._since.pop(key, None)
                self._counted.discard(key)
                continue
            began = self._since.setdefault(key, now)
            if now - began >= TOLERANCE_S and key not in self._counted:
                self._counted.add(key)
                self.moments.append(UnsafeMoment(bay, what, began - self.started, after))


# -- the soak ------------------------------------------------------------------------------------


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.units = plan_units(args.units, args.seed, args.board)
        self.left: deque[UnitPlan] = deque(self.units)
        self.bench = Bench(args.bays, board=args.board)
        self.in_bay: dict[str, UnitPlan] = {}
        self.done = 0
        self._done_lock = threading.Lock()  # bays finish units on their own threads
        self.problems: list[str] = []
        self.sessions = 0
        self.reboots: list[threading.Thread] = []

    # The operator: a ready bay gets the next unit; a board reboot ends the station's run.
    def scans(self, stages: Stages) -> Iterator[str]:
        while self.left:
            try:
                bay = stages.ready.get(timeout=120)
            except queue.Empty:
                raise RuntimeError("no bay became ready for two minutes") from None
            unit = self.left.popleft()
            self.bench.load(bay, unit)
            self.in_bay[bay] = unit
            if unit.fault is Fault.BOARD_REBOOT:
                injector = threading.Thread(target=self._reboot_mid_hold, args=(bay,), daemon=True)
                injector.start()
                self.reboots.append(injector)
            yield f"{bay} {unit.label}"
            if unit.fault is Fault.BOARD_REBOOT:
                return  # let the running units end, then start the station again

    def _reboot_mid_hold(self, bay: str) -> None:
        pin_is_down = self.bench.pin_is_down[bay]
        deadline = time.monotonic() + 60
        while not pin_is_down():
            if time.monotonic() > deadline:
                self.problems.append(f"bay {bay}: the board-reboot unit was never pressed")
                return
            time.sleep(0.002)
        time.sleep(HOLD_S * 0.3)  # mid-hold
        self.bench.boards[bay].reboot("watchdog")

    def _unit_done(self, bay: str, outcome: str) -> None:
        with self._done_lock:
            self.done += 1
            done = self.done
        unit = self.in_bay.get(bay)
        if not self.args.quiet and unit is not None:
            print(
                f"[{done:3d}/{len(self.units)}] bay {bay}  {unit.label}  "
                f"{unit.fault.value:<28} -> {outcome}",
                flush=True,
            )

    def run(self, data_dir: Path) -> bool:
        """Station runs until every unit went through. False if interrupted (Ctrl-C)."""
        config = parse_config(self.bench.config(), "soak config")
        operator = QuietOperator()
        watcher = Watcher(self.bench, time.monotonic())
        self.watcher = watcher
        watcher.start()
        try:
            while self.left:
                self.sessions += 1
                stages = Stages(self._unit_done)
                station = Station(
                    config,
                    clock=SystemClock(),
                    data_dir=data_dir,
                    operator=operator,
                    scans=self.scans(stages),
                    progress=stages,
                    pin_factory=self.bench.factory,
                )
                watcher.stages = stages
                try:
                    station.run()
                finally:
                    watcher.stages = None
                for job_id in station.interrupted:
                    self.problems.append(f"job {job_id} was left open by the previous station")
                if station.stop.is_set():
                    return False  # Ctrl-C or SIGTERM: the station stopped itself
            for injector in self.reboots:
                injector.join(timeout=5)
            time.sleep(0.5)  # the watcher keeps looking at a stopped station
        finally:
            watcher.stop()
            self.problems += [m for m in operator.told if "failed" in m]
        return True

    def records_lost(self, jobs: list[dict[str, Any]]) -> list[str]:
        """Units whose records do not say, attempt by attempt, what their fault predicts."""
        by_label: dict[str, list[dict[str, Any]]] = {}
        for job in jobs:
            by_label.setdefault(str(job["scanned_serial"]), []).append(job)
        lost = []
        for unit in self.units:
            attempts = by_label.get(unit.label, [])
            outcomes = [job["outcome"] for job in attempts]
            expected = [o.value for o in PREDICTED[unit.fault]]
            safe = all(
                job["steps"]
                and job["steps"][-1]["name"] == "safe"
                and job["steps"][-1]["details"].get("safe") is True
                for job in attempts
            )
            if outcomes != expected or not safe:
                reasons = [job["reason"] for job in attempts]
                lost.append(
                    f"unit {unit.label} ({unit.fault.value}): expected {expected}, "
                    f"recorded {outcomes} {reasons}" + ("" if safe else ", no safe step")
                )
        return lost

    @staticmethod
    def outcomes(jobs: list[dict[str, Any]]) -> Counter[str]:
        """The last attempt's outcome of every unit (what the bench reports per unit)."""
        last: dict[str, str] = {}
        for job in jobs:
            last[str(job["scanned_serial"])] = str(job["outcome"])
        return Counter(last.values())


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--bays", type=int, default=4, choices=range(1, len(PINS) + 1))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--board", action="store_true", help="bays on simulated boards")
    parser.add_argument("--quiet", action="store_true", help="only the counts at the end")
    args = parser.parse_args(argv)
    if args.units < 1:
        parser.error("--units must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # rig's own warnings (a board that rebooted, say) are part of the story; one line each.
    logging.basicConfig(level=logging.WARNING, format="  log %(levelname)s %(name)s: %(message)s")
    soak = Soak(args)
    started = time.monotonic()
    backend = "simulated boards" if args.board else "mock GPIO pins"
    print(f"soak: {args.units} units over {args.bays} bays on {backend}, seed {args.seed}")
    with tempfile.TemporaryDirectory(prefix="rig-soak-") as tmp:
        data_dir = Path(tmp)
        try:
            finished = soak.run(data_dir)
        finally:
            soak.bench.close()
        with RecordStore(data_dir) as store:
            jobs = store.jobs()
    lost = soak.records_lost(jobs) + soak.problems
    outcomes = soak.outcomes(jobs)
    elapsed = time.monotonic() - started
    moments = soak.watcher.moments
    faults = Counter(unit.fault.value for unit in soak.units)
    print(
        f"units:           {len(soak.units)} ({len(jobs)} attempts, {soak.sessions} station runs)"
    )
    print("outcomes:        " + "  ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    print("faults injected: " + "  ".join(f"{k} {v}" for k, v in sorted(faults.items())))
    print(f"records lost:    {len(lost)}")
    print(
        f"unsafe moments:  {len(moments)} ({soak.watcher.samples} samples every "
        f"{SAMPLE_S * 1000:g} ms, tolerance {TOLERANCE_S * 1000:g} ms)"
    )
    print(f"time:            {elapsed:.0f} s")
    for line in lost[:20]:
        print(f"  LOST   {line}")
    for m in moments[:20]:
        print(f"  UNSAFE bay {m.bay} at {m.at_s:.3f} s: {m.what} (stage {m.stage!r})")
    if not finished:
        print("interrupted: the counts cover the units done so far")
        return 1
    return 0 if not lost and not moments else 1


if __name__ == "__main__":
    sys.exit(main())
