"""What every run that moves actuators holds while it runs: the data directory's lock, the
records, the safe-state guard, the boards and (when a bay verifies over the network) the one
SADP poller. `rig reset` and `rig run` open it the same way, in this order: the records first,
so a disk that cannot take them stops the run before anything moves."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from rig.config import BayConfig, RigConfig
from rig.hardware.board import BoardPool
from rig.operator import Operator
from rig.records.lock import DataDirLock
from rig.records.store import RecordStore
from rig.safety import SafeGuard
from rig.verify.base import Verifier
from rig.verify.network import NetworkWatch


@dataclass
class Session:
    store: RecordStore
    guard: SafeGuard
    boards: BoardPool
    network: NetworkWatch | None

    def verifier(
        self, bay: BayConfig, operator: Operator, cancel: threading.Event | None = None
    ) -> Verifier:
        """A fresh verifier for one job of `bay`, as its config says."""
        if bay.verify == "manual":
            from rig.verify.manual import ManualVerifier

            return ManualVerifier(operator, bay=bay.name)
        assert self.network is not None, "opened without the network a bay verifies with"
        return self.network.verifier(cancel=cancel)


@contextmanager
def open_session(config: RigConfig, bays: list[BayConfig], data_dir: Path) -> Iterator[Session]:
    needs_network = any(bay.verify == "network" for bay in bays)
    with (
        DataDirLock(data_dir),
        RecordStore(data_dir) as store,
        SafeGuard() as guard,
        BoardPool(config.boards) as boards,
        NetworkWatch(config.network) if needs_network else nullcontext() as network,
    ):
        yield Session(store, guard, boards, network)
