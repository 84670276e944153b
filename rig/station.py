"""`rig run`: the station loop a lab runs all day, every bay of the config at once.

Each bay has a worker thread: it waits for the next unit, runs it (escalating to longer holds
while it ends `not_reset`), shows the outcome and waits again. The operator loads a unit and
scans its label: a scanned serial goes to the first idle bay, or to the bay it names
(`B AAWRJ1234567`). One SADP poller serves every bay. Power cuts that must name their unit as
"the one that vanished" are at least `cut_spacing_for()` apart (a few fast SADP polls), so that
always names one unit; a unit already known by its MAC is cut whenever its bay is ready.

Crash safety: at start, jobs a dead station left running are marked `aborted` (interrupted)
and every bay is put in its safe state before anything else happens.

Boards that come back: a bay's jobs run on a clock that watches the bay's board links, so a
board that vanishes or reboots mid-job ends the job's wait (the hold) at once, `hardware_fault`.
Every bay on that board is then held back (it takes no unit; a scan for it is refused or goes
to another bay) while the board's `BoardKeeper` reconnects it between jobs: the same port,
HELLO, SAFE, and only then do its bays take units again, without a restart.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from rig.autostart import WAITING, AutoStart
from rig.clock import Alarm, Clock, StoppableClock
from rig.config import BayConfig, NetworkConfig, RigConfig
from rig.errors import Aborted, UsageError
from rig.fleet.link import fleet_link
from rig.hardware.bay import BayHardware
from rig.hardware.board import BoardKeeper, BoardLink, board_links
from rig.hardware.factory import build_bay
from rig.hardware.gpio import pins_in_use
from rig.hardware.switch import SwitchPort, SwitchPowerSwitch
from rig.identity import check_serial
from rig.job import JobReport, Result
from rig.jobs import carry_over_rest, run_unit
from rig.network.sadp.poller import DEFAULT_MISSES_TO_VANISH
from rig.notify import DEFAULT_GRACE_S, Liveness, Notifier, Party, Watchdog
from rig.operator import Operator
from rig.outcomes import Outcome
from rig.progress import Progress
from rig.qa.setup import QaRequest, QaRun
from rig.runner import JobRunner
from rig.session import Session, open_session
from rig.verify.network import NetworkWatch

log = logging.getLogger(__name__)

#: What the spacing of power cuts adds to the poller's own delay: a loaded machine's polls run
#: late, and a cut must not land inside the previous cut's "one more poll".
CUT_MARGIN_S = 0.2


def cut_spacing_for(network: NetworkConfig) -> float:
    """Minimum time between two power cuts that each need a slot: long enough for the SADP
    poller, polling fast while a cut is expected, to see one unit vanish (the poll in
    flight, then `misses` silent ones) before the next may."""
    return network.sadp_fast_poll_s * (DEFAULT_MISSES_TO_VANISH + 1) + CUT_MARGIN_S


#: The spacing at the default network settings.
CUT_SPACING_S = cut_spacing_for(NetworkConfig())


def liveness_grace_s(config: RigConfig) -> float:
    """How long a bay may work with no new stage before the watchdog calls it stuck
    (rig.notify): longer than any step without a deadline (identifying waits a few SADP polls,
    judging makes a few HTTP calls of up to `http_timeout_s` each), never under a minute."""
    net = config.network
    return max(DEFAULT_GRACE_S, 4 * net.http_timeout_s + 8 * net.sadp_poll_s + net.settle_s + 10)


def unit_outcome(reports: list[JobReport]) -> tuple[Result, str]:
    """A unit's verdict and its line for the live views: the last reset attempt's outcome, how
    many attempts it took, and the QA pass's result when there was one
    (`reset_verified (1 attempt(s)), qa failed: qa_picture`). A QA pass is its own job but not
    an attempt at the reset: a unit it failed is still reset, and counts as such."""
    attempts = [r for r in reports if r.result.qa is None] or reports
    last = attempts[-1].result
    shown = f"{last.outcome.value} ({len(attempts)} attempt(s))"
    qa = next((r.result for r in reversed(reports) if r.result.qa is not None), None)
    if qa is not None:
        shown += f", qa {qa.qa}" + (f": {qa.qa_check}" if qa.qa_check else "")
    return last, shown


class CutGate:
    """Hands out power-cut slots at least `spacing_s` apart, to one bay at a time (only the
    cuts whose unit is to be named by its vanishing ask for one: Verifier.needs_cut_slot)."""

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
        cut_spacing_s: float | None = None,  # default: from the config's fast SADP poll
        notifier: Notifier | None = None,
        liveness: Liveness | None = None,
        qa: QaRequest | None = None,
        autostart_poll_s: float = 1.0,
    ) -> None:
        self.qa = qa  # the QA pass after each proven reset, for the bays that want it
        # systemd (rig.notify): READY=1 at "station ready", STOPPING=1 at the end, and the
        # watchdog's pings while every party of `liveness` (the main loop, each bay) is alive.
        self.notifier = notifier or Notifier()
        self.liveness = liveness or Liveness(
            grace_s=liveness_grace_s(config), monotonic=clock.monotonic
        )
        self._main: Party = self.liveness.party("station")
        self._parties: dict[str, Party] = {}  # bay -> its worker's party
        self.config = config
        self.clock = clock
        self.data_dir = data_dir
        self.operator = operator
        self.scans = scans
        self.progress = progress or Progress(clock)
        self.pin_factory = pin_factory
        self.retry = retry
        # An Alarm: it also ends the waits of each bay's clock, which watch the bay's boards.
        self.stop = Alarm()
        self._stop_reason = "the station is stopping"
        self.workers_clock = StoppableClock(clock, self.stop, lambda: self._stop_reason)
        spacing_s = cut_spacing_for(config.network) if cut_spacing_s is None else cut_spacing_s
        self.gate = CutGate(self.workers_clock, spacing_s)
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
        # Boards that come back (rig.hardware.board.BoardKeeper): the board links of each
        # bay, the bays running a unit (a board is reconnected only while none of its bays
        # is), one keeper per board, and what each idle bay shows.
        self._links: dict[str, list[BoardLink]] = {}
        self._in_job: set[str] = set()
        self._keepers: dict[str, BoardKeeper] = {}
        self._idle_shown: dict[str, str | None] = {}
        # Called with (bay, every attempt's report) when a unit is done: live views (web,
        # MQTT) add theirs; one that raises is logged, never stops the bay.
        self.unit_listeners: list[Callable[[str, list[JobReport]], None]] = []
        # Switch bays whose units start themselves ([station] autostart, rig.autostart).
        self.autostart_poll_s = autostart_poll_s
        self._autostart: set[str] = set()
        self.autostart: AutoStart | None = None  # while the station runs, if it autostarts
        self.network: NetworkWatch | None = None  # the SADP watch, once the station runs

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
            self.network = session.network  # its SADP client's counters (the benchmark)
            bays: list[tuple[BayConfig, BayHardware]] = []
            for bay in self.config.bays:
                hw = build_bay(
                    bay,
                    self.config,
                    self.clock,
                    self.operator,
                    pin_factory=self.pin_factory,
                    boards=session.boards,
                    switches=session.switches,
                )
                session.guard.add(hw)
                hw.make_safe()
                carry_over_rest(store, hw, self.clock)
                bays.append((bay, hw))
            if session.switches is not None:
                on_switches = {
                    b.power.switch for b in self.config.bays if isinstance(b.power, SwitchPort)
                }
                for problem in session.switches.learn_port_maps(sorted(on_switches)):
                    log.warning("%s", problem)
            parts = [part for _, hw in bays for part in (hw.power, hw.presser)]
            if (pins := pins_in_use(parts)) is not None:
                self.operator.tell(pins)
            self.operator.tell(
                "station ready: load a unit, scan its label (or type BAY SERIAL); q to finish"
            )
            self._main = self.liveness.party("station", threading.current_thread())
            watchdog = Watchdog(self.notifier, self.liveness)
            self.notifier.ready(f"ready: {len(bays)} bay(s), waiting for scans")
            workers = [
                threading.Thread(
                    target=self._watched_worker,
                    args=(bay, hw, session, session.runner(self._bay_clock(bay.name, hw))),
                    name=f"bay-{bay.name}",
                    daemon=True,
                )
                for bay, hw in bays
            ]
            try:
                watchdog.start()
                with (
                    self.progress,
                    self._keeping_boards(),
                    self._autostarting(bays, session),
                    # [fleet]: records to PostgreSQL, the bays live on MQTT (rig.fleet).
                    fleet_link(
                        self.config,
                        self.data_dir,
                        self.progress,
                        unit_listeners=self.unit_listeners,
                    ),
                ):
                    for worker in workers:
                        worker.start()
                    self._read_scans()
                    self._finish(workers)
            except (Aborted, KeyboardInterrupt) as exc:
                self._stop_reason = str(exc) or "interrupted by Ctrl-C"
                self.stop.set()
                for inbox in self._queues.values():
                    inbox.put(None)  # an idle worker waits on its inbox: wake it to leave
                for worker in workers:
                    worker.join(timeout=10)
            finally:
                watchdog.stop()
                self.notifier.stopping(f"stopping: {self.tally.line(self.clock.monotonic())}")
                for _, hw in bays:
                    hw.close()
        ok = all(unit[-1].result.outcome is Outcome.RESET_VERIFIED for unit in self.units)
        ok = ok and not any(r.result.qa == "failed" for unit in self.units for r in unit)  # QA
        return 0 if ok and not self.stop.is_set() else 1

    def _read_scans(self) -> None:
        for line in self._awaiting_scans():
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

    def _awaiting_scans(self) -> Iterator[str]:
        """The scans; the main loop is idle (alive, rig.notify) while it waits for each."""
        lines = iter(self.scans)
        while True:
            self._main.idle("waiting for a scan")
            line = next(lines, None)
            if line is None:
                return
            self._main.beat("handling a scan")
            yield line

    def _route(self, text: str) -> tuple[str | None, str]:
        """`SERIAL` -> the first idle bay (waiting for one); `BAY SERIAL` -> that bay. A bay
        whose board is lost takes no unit: a scan for it is refused (UsageError), and one for
        any bay waits for another, or is refused when no bay is left that could take it."""
        head, _, rest = text.partition(" ")
        if rest and head in self._queues:
            serial = check_serial(rest, f"scan {text!r}")
            self._wait_idle(lambda: not self._busy[head] or self._lost(head) is not None)
            with self._lock:
                if (lost := self._lost(head)) is not None:
                    raise UsageError(f"bay {head}: {lost}: scan {serial} again when it is ready")
            return head, serial
        text = check_serial(text, "scan")
        self._wait_idle(lambda: self._available() is not None or not any(self._busy.values()))
        with self._lock:
            idle = self._available()
            held = [f"bay {b}: {lost}" for b in self._busy if (lost := self._lost(b))]
        if idle is None and held and not self.stop.is_set():
            raise UsageError(f"no bay can take {text} now ({'; '.join(held)})")
        return idle, text

    def _available(self) -> str | None:
        """The first bay ready for a unit: idle, its boards up (the caller holds the lock)."""
        return next((b for b, busy in self._busy.items() if not busy and not self._lost(b)), None)

    def _lost(self, bay: str) -> str | None:
        """Why the bay is held back (a board of its lost, being reconnected), or None."""
        lost = [link.name for link in self._links.get(bay, ()) if link.fault is not None]
        return f"board {', '.join(lost)} lost: reconnecting" if lost else None

    def _wait_idle(self, predicate: Callable[[], bool]) -> None:
        # Short waits in a loop keep the main thread responsive to SIGTERM and Ctrl-C.
        with self._idle:
            while not (predicate() or self.stop.is_set()):
                self._main.beat("waiting for an idle bay")
                self._idle.wait(0.2)

    def _finish(self, workers: list[threading.Thread]) -> None:
        """No more scans: let the running units end, then stop the workers."""
        for q in self._queues.values():
            q.put(None)
        for worker in workers:
            while worker.is_alive():
                self._main.beat("letting the running units end")
                worker.join(timeout=0.2)  # short joins keep the main thread open to signals

    # -- one bay ----------------------------------------------------------------------------

    def _watched_worker(self, bay: BayConfig, *args: Any) -> None:
        """The bay's worker as a party of the station's liveness (rig.notify). One that ends
        cleanly is watched no more; one that died of an exception stays, dead: unhealthy."""
        party = self.liveness.party(f"bay {bay.name}", threading.current_thread())
        self._parties[bay.name] = party
        self._worker(bay, *args)
        party.close()

    def _stage(self, bay: str, name: str, deadline: float | None = None) -> None:
        """A bay's new stage: proof of life (until its deadline, if it has one), and shown."""
        if (party := self._parties.get(bay)) is not None:
            party.wait_until(deadline, name)
        self.progress.stage(bay, name, deadline)

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
            with self._lock:
                self._show_idle(bay.name)
            serial = inbox.get()
            if serial is None or self.stop.is_set():
                return
            self._set_busy(bay.name, True)
            if (lost := self._start_job(bay.name)) is not None:
                # Lost between the scan and now: nothing is sent to a board in doubt.
                self.operator.tell(
                    f"bay {bay.name}: {lost}: {serial} not started; scan it again when ready"
                )
                continue
            try:
                reports = run_unit(
                    runner,
                    bay=bay,
                    hw=hw,
                    make_verifier=partial(session.verifier, bay, self.operator, self.stop),
                    scanned_serial=serial or None,  # "": a unit that started itself
                    retry=self.retry,
                    on_stage=partial(self._stage, bay.name),
                    before_cut=self.gate.wait_turn,
                    qa=QaRun(self.qa, session.network) if self.qa and session.network else None,
                    learner=session.hold_learner(),
                )
            except Exception as exc:  # a bay must never take the station down
                log.exception("bay %s: unexpected failure", bay.name)
                self.operator.tell(f"bay {bay.name}: failed: {exc}")
                hw.make_safe()
                self._end_job(bay.name)
                continue
            last, shown = unit_outcome(reports)
            with self._lock:
                self.units.append(reports)
                self.tally.add(last.outcome)
            self.progress.outcome(bay.name, shown, last.reason)
            self.progress.summary(self.tally.line(self.clock.monotonic()))
            self._unit_done(bay.name, reports)
            self._end_job(bay.name)

    def _unit_done(self, bay: str, reports: list[JobReport]) -> None:
        for listener in list(self.unit_listeners):
            try:
                listener(bay, reports)
            except Exception:
                log.exception("bay %s: unit listener %r failed", bay, listener)

    # -- units that start themselves (rig.autostart) -------------------------------------------

    def _autostarting(
        self, bays: list[tuple[BayConfig, BayHardware]], session: Session
    ) -> AbstractContextManager[object]:
        """Watch the switch bays' ports for units plugged in, when the config asks for it."""
        if not self.config.station.autostart or session.network is None:
            return nullcontext()
        ports = [(b.name, hw.power) for b, hw in bays if isinstance(hw.power, SwitchPowerSwitch)]
        self._autostart = {name for name, _ in ports}
        with self._lock:
            for name in self._autostart:
                if not self._busy[name]:
                    self._show_idle(name)
        self.autostart = AutoStart(
            ports,
            idle=lambda bay: not self._busy[bay] and self._lost(bay) is None,
            start=self._start_detected,
            present=session.network.poller.present,
            show=self.progress.stage,
            poll_s=self.autostart_poll_s,
        )
        return self.autostart

    def _start_detected(self, bay: str, mac: str) -> bool:
        """The unit on the bay's port is up: its job starts with no scan, if the bay is still
        free (a scan may have taken it meanwhile)."""
        with self._idle:
            if self._busy[bay] or self._lost(bay) is not None or self.stop.is_set():
                return False
            self._busy[bay] = True
            self._idle.notify_all()
        self.progress.unit(bay, mac)
        self._queues[bay].put("")
        return True

    # -- boards that come back ----------------------------------------------------------------

    def _bay_clock(self, bay: str, hw: BayHardware) -> StoppableClock:
        """The clock of a bay's jobs: its waits end when the station stops (`Aborted`) and when
        a board of the bay's actuators faults (`HardwareFault`: the hold ends at once)."""
        links = self._links[bay] = board_links((hw.power, hw.presser))
        return StoppableClock(self.clock, self.stop, lambda: self._stop_reason, tripwires=links)

    @contextmanager
    def _keeping_boards(self) -> Iterator[None]:
        """One keeper per board of the bays (rig.hardware.board.BoardKeeper), for the run."""
        links = {link.name: link for bay_links in self._links.values() for link in bay_links}
        self._keepers = {
            name: BoardKeeper(
                link,
                may_reconnect=partial(self._board_free, name),
                on_change=self._board_changed,
            )
            for name, link in links.items()
        }
        for keeper in self._keepers.values():
            keeper.start()
        try:
            yield
        finally:
            for keeper in self._keepers.values():
                keeper.close()

    def _bays_on(self, board: str) -> list[str]:
        return [bay for bay, links in self._links.items() if any(k.name == board for k in links)]

    def _board_free(self, board: str) -> bool:
        """May the board be reconnected: is none of its bays running a unit?"""
        with self._lock:
            return not self._in_job.intersection(self._bays_on(board))

    def _board_changed(self, keeper: BoardKeeper) -> None:
        """A board was lost or is back: its idle bays show it, a waiting scan looks again."""
        with self._idle:
            for bay in self._bays_on(keeper.link.name):
                if not self._busy[bay]:
                    self._show_idle(bay)
            self._idle.notify_all()

    def _show_idle(self, bay: str) -> None:
        """What an idle bay shows, when it changes: ready, or held back while a board of its is
        reconnected (the caller holds the lock)."""
        ready = WAITING if bay in self._autostart else "ready: load a unit and scan its label"
        shown = self._lost(bay) or ready
        if self._idle_shown.get(bay) != shown:
            self._idle_shown[bay] = shown
            self.progress.stage(bay, shown)

    def _start_job(self, bay: str) -> str | None:
        """The bay starts a unit, unless a board of its is lost (then why, and nothing starts)."""
        with self._lock:
            if (lost := self._lost(bay)) is not None:
                return lost
            self._in_job.add(bay)
            self._idle_shown[bay] = None
            return None

    def _end_job(self, bay: str) -> None:
        """The unit is done: a lost board of the bay may now be reconnected."""
        with self._lock:
            self._in_job.discard(bay)
        for link in self._links.get(bay, ()):
            if (keeper := self._keepers.get(link.name)) is not None:
                keeper.poke()

    def _set_busy(self, bay: str, busy: bool) -> None:
        with self._idle:
            self._busy[bay] = busy
            self._idle.notify_all()
        if (party := self._parties.get(bay)) is not None:
            if busy:
                party.beat("starting a unit")
            else:
                party.idle("ready: waiting for a unit")
                self.notifier.status(self.tally.line(self.clock.monotonic()))
