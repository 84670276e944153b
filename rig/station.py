"""`rig run`: the station loop a lab runs all day, every bay of the config at once.

Each bay has a worker thread: it waits for the next unit, runs it (escalating to longer holds
while it ends `not_reset`), shows the outcome and waits again. The operator loads a unit and
scans its label: a scanned serial goes to the first idle bay, or to the bay it names
(`B AAWRJ1234567`). One SADP poller serves every bay. Power cuts of different bays are at
least `CUT_SPACING_S` apart, so "the unit that vanished" always names one unit.

Crash safety: at start, jobs a dead station left running are marked `aborted` (interrupted)
and every bay is put in its safe state before anything else happens.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from rig.clock import Clock, StoppableClock
from rig.config import BayConfig, RigConfig
from rig.errors import Aborted, UsageError
from rig.hardware.bay import BayHardware
from rig.hardware.factory import build_bay
from rig.hardware.gpio import pins_in_use
from rig.identity import check_serial
from rig.job import JobReport
from rig.jobs import carry_over_rest, run_unit
from rig.operator import Operator
from rig.outcomes import Outcome
from rig.progress import Progress
from rig.runner import JobRunner
from rig.session import Session, open_session

log = logging.getLogger(__name__)

#: Minimum time between two bays' power cuts: longer than the SADP poller needs to see one
#: unit vanish before the next may.
CUT_SPACING_S = 1.0


class CutGate:
    """Hands out power-cut slots at least `spacing_s` apart, to one bay at a time."""

    def __init__(self, clock: Clock, spacing_s: float = CUT_SPACING_S) -> None:
        self._clock = clock
        self._spacing_s = spacing_s
        self._lock = threading.Lock()
        self._last = float("-inf")

    def wait_turn(self) -> None:
        with self._lock:
            self._clock.sleep_until(self._last + self._spacing_s)
            self._last = self._clock.monotonic()


@dataclass
class Tally:
    """Units done, verified, and the rate, for the summary line."""

    started: float
    done: int = 0
    verified: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: Outcome) -> None:
        self.done += 1
        self.verified += outcome is Outcome.RESET_VERIFIED
        self.outcomes[outcome.value] = self.outcomes.get(outcome.value, 0) + 1

    def line(self, now: float) -> str:
        hours = max(now - self.started, 1e-9) / 3600
        yield_pc = f"{100 * self.verified / self.done:.0f} %" if self.done else "-"
        return (
            f"units done {self.done}  verified {self.verified}  yield {yield_pc}  "
            f"{self.done / hours:.1f} units/hour"
        )


class Station:
    def __init__(
        self,
        config: RigConfig,
        *,
        clock: Clock,
        data_dir: Path,
        operator: Operator,
        scans: Iterable[str],
        progress: Progress | None = None,
        pin_factory: object = None,
        retry: bool = True,
        cut_spacing_s: float = CUT_SPACING_S,
    ) -> None:
        self.config = config
        self.clock = clock
        self.data_dir = data_dir
        self.operator = operator
        self.scans = scans
        self.progress = progress or Progress(clock)
        self.pin_factory = pin_factory
        self.retry = retry
        self.stop = threading.Event()
        self._stop_reason = "the station is stopping"
        self.workers_clock = StoppableClock(clock, self.stop, lambda: self._stop_reason)
        self.gate = CutGate(self.workers_clock, cut_spacing_s)
        self.tally = Tally(started=clock.monotonic())
        self.units: list[list[JobReport]] = []  # every attempt of every unit, in order
        self.interrupted: list[int] = []
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._queues: dict[str, queue.SimpleQueue[str | None]] = {
            bay.name: queue.SimpleQueue() for bay in config.bays
        }
        # A bay is busy until its worker says it is ready for a unit.
        self._busy: dict[str, bool] = {bay.name: True for bay in config.bays}

    # -- the loop ---------------------------------------------------------------------------

    def run(self) -> int:
        with open_session(
            self.config,
            self.config.bays,
            self.data_dir,
            clock=self.clock,
            operator=self.operator,
        ) as session:
            # A rig that died mid-job left its jobs open: the session closed them `aborted`,
            # reason interrupted, before any actuator moves.
            store = session.store
            self.interrupted = session.interrupted
            runner = session.runner(self.workers_clock)
            bays: list[tuple[BayConfig, BayHardware]] = []
            for bay in self.config.bays:
                hw = build_bay(
                    bay,
                    self.config,
                    self.clock,
                    self.operator,
                    pin_factory=self.pin_factory,
                    boards=session.boards,
                )
                session.guard.add(hw)
                hw.make_safe()
                carry_over_rest(store, hw, self.clock)
                bays.append((bay, hw))
            parts = [part for _, hw in bays for part in (hw.power, hw.presser)]
            if (pins := pins_in_use(parts)) is not None:
                self.operator.tell(pins)
            self.operator.tell(
                "station ready: load a unit, scan its label (or type BAY SERIAL); q to finish"
            )
            workers = [
                threading.Thread(
                    target=self._worker,
                    args=(bay, hw, session, runner),
                    name=f"bay-{bay.name}",
                    daemon=True,
                )
                for bay, hw in bays
            ]
            try:
                with self.progress:
                    for worker in workers:
                        worker.start()
                    self._read_scans()
                    self._finish(workers)
            except (Aborted, KeyboardInterrupt) as exc:
                self._stop_reason = str(exc) or "interrupted by Ctrl-C"
                self.stop.set()
                for worker in workers:
                    worker.join(timeout=10)
            finally:
                for _, hw in bays:
                    hw.close()
        ok = all(unit[-1].result.outcome is Outcome.RESET_VERIFIED for unit in self.units)
        return 0 if ok and not self.stop.is_set() else 1

    def _read_scans(self) -> None:
        for line in self.scans:
            text = line.strip()
            if not text:
                continue
            if text.lower() in ("q", "quit", "exit"):
                return
            try:
                bay, serial = self._route(text)
            except UsageError as exc:
                self.operator.tell(str(exc))
                continue
            if bay is None:
                self.operator.tell(f"no idle bay for {serial}: wait for a bay to finish")
                continue
            with self._lock:
                self._busy[bay] = True
            self.progress.unit(bay, serial)
            self._queues[bay].put(serial)

    def _route(self, text: str) -> tuple[str | None, str]:
        """`SERIAL` -> the first idle bay (waiting for one); `BAY SERIAL` -> that bay."""
        head, _, rest = text.partition(" ")
        if rest and head in self._queues:
            serial = check_serial(rest, f"scan {text!r}")
            self._wait_idle(lambda: not self._busy[head])
            return head, serial
        text = check_serial(text, "scan")
        self._wait_idle(lambda: not all(self._busy.values()))
        with self._lock:
            idle = next((b for b, busy in self._busy.items() if not busy), None)
        return idle, text

    def _wait_idle(self, predicate: Callable[[], bool]) -> None:
        # Short waits in a loop keep the main thread responsive to SIGTERM and Ctrl-C.
        with self._idle:
            while not (predicate() or self.stop.is_set()):
                self._idle.wait(0.2)

    def _finish(self, workers: list[threading.Thread]) -> None:
        """No more scans: let the running units end, then stop the workers."""
        for q in self._queues.values():
            q.put(None)
        for worker in workers:
            while worker.is_alive():
                worker.join(timeout=0.2)  # short joins keep the main thread open to signals

    # -- one bay ----------------------------------------------------------------------------

    def _worker(
        self,
        bay: BayConfig,
        hw: BayHardware,
        session: Session,
        runner: JobRunner,
    ) -> None:
        inbox = self._queues[bay.name]
        while not self.stop.is_set():
            self._set_busy(bay.name, False)
            self.progress.stage(bay.name, "ready: load a unit and scan its label")
            serial = inbox.get()
            if serial is None or self.stop.is_set():
                return
            self._set_busy(bay.name, True)
            try:
                reports = run_unit(
                    runner,
                    bay=bay,
                    hw=hw,
                    make_verifier=partial(session.verifier, bay, self.operator, self.stop),
                    scanned_serial=serial,
                    retry=self.retry,
                    on_stage=partial(self.progress.stage, bay.name),
                    before_cut=self.gate.wait_turn,
                )
            except Exception as exc:  # a bay must never take the station down
                log.exception("bay %s: unexpected failure", bay.name)
                self.operator.tell(f"bay {bay.name}: failed: {exc}")
                hw.make_safe()
                continue
            last = reports[-1].result
            with self._lock:
                self.units.append(reports)
                self.tally.add(last.outcome)
            self.progress.outcome(bay.name, f"{last.outcome.value} ({len(reports)} attempt(s))")
            self.progress.summary(self.tally.line(self.clock.monotonic()))

    def _set_busy(self, bay: str, busy: bool) -> None:
        with self._idle:
            self._busy[bay] = busy
            self._idle.notify_all()
