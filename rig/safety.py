"""The one place that owns the safe state: every exit path goes through here.

`SafeGuard` knows every bay in use. Used as a context manager around a job it puts each bay
in its safe state (solenoid up, relay de-energised) on a normal end and on an exception; its
SIGTERM/SIGINT handler makes the bays safe *first* and only then raises `Aborted` into the
main thread, so the pins are safe even if the code being interrupted never returns; and an
atexit hook covers whatever is left (an unexpected crash of the interpreter's main thread).
"""

from __future__ import annotations

import atexit
import logging
import signal
import threading
from types import FrameType, TracebackType
from typing import Any

from rig.errors import Aborted
from rig.hardware.bay import BayHardware

log = logging.getLogger(__name__)

_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class SafeGuard:
    def __init__(self, bays: list[BayHardware] | None = None) -> None:
        self._bays: list[BayHardware] = list(bays or [])
        self._lock = threading.RLock()
        self._previous: dict[int, Any] = {}
        self.signalled: str | None = None

    def add(self, bay: BayHardware) -> None:
        with self._lock:
            self._bays.append(bay)

    def make_all_safe(self) -> list[str]:
        problems: list[str] = []
        with self._lock:
            for bay in self._bays:
                problems += bay.make_safe()
        return problems

    # -- signals ------------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        self.make_all_safe()  # before anything else: a signal may be a last warning
        if self.signalled is None:
            self.signalled = name
            raise Aborted(f"stopped by {name}")

    def __enter__(self) -> SafeGuard:
        atexit.register(self.make_all_safe)
        if threading.current_thread() is threading.main_thread():
            for sig in _SIGNALS:
                self._previous[sig] = signal.signal(sig, self._on_signal)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            problems = self.make_all_safe()
            if problems:
                log.error("safe state incomplete: %s", "; ".join(problems))
        finally:
            for sig, previous in self._previous.items():
                signal.signal(sig, previous)
            self._previous.clear()
            atexit.unregister(self.make_all_safe)
