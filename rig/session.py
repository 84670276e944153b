"""What every run that resets units holds while it runs: the data directory's lock, the
records, the safe-state guard, the boards and (when a job verifies over the network) the one
SADP poller. `rig reset`, `rig reset --software` and `rig run` open it the same way, in this
order: the lock and the records first, so a second rig or a disk that cannot take the records
stops the run before anything moves; then the jobs a crash left running are closed `aborted`
(reason `interrupted`), since holding the lock proves nobody is running them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from rig.clock import Clock
from rig.config import BayConfig, RigConfig
from rig.hardware.board import BoardPool
from rig.hardware.switch import SwitchPool, restore_ports_left_cut
from rig.holds import HoldLearner
from rig.operator import Operator
from rig.records.lock import DataDirLock, StationBusy
from rig.records.store import RecordError, RecordStore
from rig.runner import JobRunner
from rig.safety import SafeGuard
from rig.verify.base import Verifier
from rig.verify.network import NetworkWatch

log = logging.getLogger(__name__)


@dataclass
class Session:
    config: RigConfig
    store: RecordStore
    guard: SafeGuard
    boards: BoardPool
    network: NetworkWatch | None
    interrupted: list[int] = field(default_factory=list)  # jobs closed as `interrupted`
    switches: SwitchPool | None = None  # the managed PoE switches of switch bays

    def runner(self, clock: Clock) -> JobRunner:
        return JobRunner(self.store, clock, station=self.config.station.name)

    def hold_learner(self) -> HoldLearner | None:
        """Each unit's starting hold from its model's records, when `[station] learn_holds`
        (rig.holds); None: every unit starts at its bay's hold_s."""
        station = self.config.station
        if not station.learn_holds:
            return None
        return HoldLearner(self.store, min_units=station.learn_min_units)

    def verifier(
        self, bay: BayConfig, operator: Operator, cancel: threading.Event | None = None
    ) -> Verifier:
        """A fresh verifier for one job of `bay`, as its config says."""
        if bay.verify == "manual":
            from rig.verify.manual import ManualVerifier

            return ManualVerifier(operator, bay=bay.name)
        assert self.network is not None, "opened without the network a bay verifies with"
        return self.network.verifier(cancel=cancel)


def _close_orphans(store: RecordStore, clock: Clock, operator: Operator | None) -> list[int]:
    ids = store.mark_interrupted(clock.wall())
    if operator is not None:
        for job_id in ids:
            operator.tell(f"job {job_id} was interrupted by a crash: marked aborted")
    return ids


@contextmanager
def open_session(
    config: RigConfig,
    bays: list[BayConfig],
    data_dir: Path,
    *,
    clock: Clock,
    operator: Operator | None = None,
    network: bool | None = None,
) -> Iterator[Session]:
    """`network`: open the SADP poller (default: when some bay verifies over the network)."""
    if network is None:
        network = any(bay.verify == "network" for bay in bays)
    with (
        DataDirLock(data_dir),
        RecordStore(data_dir) as store,
    ):
        interrupted = _close_orphans(store, clock, operator)
        with (
            SwitchPool(config.switches, ledger=store) as switches,
            SafeGuard() as guard,
            BoardPool(config.boards) as boards,
            NetworkWatch(config.network) if network else nullcontext() as watch,
        ):
            # A rig that died mid-cut left a switch port off: on again before anything moves.
            restore_ports_left_cut(switches, operator.tell if operator else log.warning)
            yield Session(config, store, guard, boards, watch, interrupted, switches)


@contextmanager
def open_records(
    data_dir: Path, clock: Clock, config: RigConfig | None = None
) -> Iterator[RecordStore]:
    """The records for a command that only reads them (`rig report`, `rig status`).

    If no rig holds the lock, the jobs a crash left running are closed first (nobody can be
    running them), and the switch ports a dead rig left cut are enabled (given the `config`
    that names the switches); the lock is let go before the reading, so a station may start
    meanwhile.
    """
    with RecordStore(data_dir) as store:
        lock = DataDirLock(data_dir)
        try:
            lock.acquire()
        except (StationBusy, RecordError):
            pass  # a rig is running those jobs, or the records are read-only: leave them
        else:
            try:
                _close_orphans(store, clock, None)
                if config is not None and config.switches:
                    with SwitchPool(config.switches, ledger=store) as switches:
                        restore_ports_left_cut(switches, log.warning)
            finally:
                lock.release()
        yield store
