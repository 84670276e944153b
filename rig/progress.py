"""The live progress display on stderr: the stage each bay is in and the countdown.

stdout stays clean for `--json`. On a terminal it is a rich Live table refreshed a few times a
second; elsewhere (a log file, CI, the journal of `rig run` as a service) each stage is one
plain line, never wrapped and free of control codes, that starts with what it is about
(`bay A: holding (12.0 s left)`, `station: units done ...`). Rows are bays (`rig reset`,
`rig run`) or, for a software reset that uses no bay, the units as the operator named them.

The same state feeds every other live view (a web page, MQTT): `listen(fn)` calls `fn` with the
row's new `BayStatus` after each change, from the thread that made it; `snapshot()` is every row
now. A listener must be quick and must not raise (one that does is logged and dropped).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from rich.console import Console
from rich.live import Live
from rich.table import Table

from rig.clock import Clock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BayStatus:
    """One row as a live view shows it. `deadline` is on the progress clock's monotonic scale
    (None: the stage has no countdown); `outcome` and `reason` are the last unit's."""

    name: str
    stage: str = "waiting"
    deadline: float | None = None
    unit: str = ""
    outcome: str = ""
    reason: str = ""


Listener = Callable[[BayStatus], None]


class Progress:
    def __init__(self, clock: Clock, console: Console | None = None, *, rows: str = "bay") -> None:
        self._clock = clock
        self._rows = rows  # what a row is: "bay", or "unit" when jobs use no bay
        self.console = console or Console(stderr=True)
        self._bays: dict[str, BayStatus] = {}
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self._live: Live | None = None
        self._summary = ""

    def __enter__(self) -> Progress:
        if self.console.is_terminal:
            self._live = Live(
                get_renderable=self._render, console=self.console, refresh_per_second=8
            )
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    @property
    def clock(self) -> Clock:
        return self._clock

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` after every change of a row; returns what stops it."""
        with self._lock:
            self._listeners.append(listener)

        def stop() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return stop

    def snapshot(self) -> list[BayStatus]:
        with self._lock:
            return list(self._bays.values())

    @property
    def summary_line(self) -> str:
        with self._lock:
            return self._summary

    def stage(self, bay: str, name: str, deadline: float | None = None) -> None:
        self._update(bay, stage=name, deadline=deadline)
        if self._live is None:
            left = self._left(deadline)
            self._line(f"{self._rows} {bay}: {name}" + (f" ({left})" if left else ""))

    def unit(self, bay: str, unit: str) -> None:
        self._update(bay, unit=unit)

    def outcome(self, bay: str, outcome: str, reason: str = "") -> None:
        self._update(bay, outcome=outcome, reason=reason, stage="done", deadline=None)
        if self._live is None:
            # Off a terminal (a service's journal, a log file) `rig run` has no other line that
            # says how a unit ended; on one, the live table's outcome column shows it.
            self._line(f"{self._rows} {bay}: {outcome}")

    def summary(self, line: str) -> None:
        with self._lock:
            self._summary = line
        if self._live is None:
            self._line(f"station: {line}")

    def _update(self, bay: str, **change: object) -> None:
        with self._lock:
            status = replace(self._bays.get(bay) or BayStatus(bay), **change)  # type: ignore[arg-type]
            self._bays[bay] = status
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(status)
            except Exception:
                # A live view must never stop a bay: drop the listener, keep resetting.
                log.exception("progress listener %r failed; dropped", listener)
                with self._lock:
                    if listener in self._listeners:
                        self._listeners.remove(listener)

    def _line(self, text: str) -> None:
        # One journal entry per line: as it is (no markup, no highlighting), never wrapped at
        # the 80 columns rich assumes off a terminal.
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def _left(self, deadline: float | None) -> str:
        if deadline is None:
            return ""
        return f"{max(0.0, deadline - self._clock.monotonic()):5.1f} s left"

    def _render(self) -> Table:
        table = Table(title="reset rig", caption=self._summary or None, expand=False)
        columns: tuple[str, ...] = (self._rows, "stage", "countdown", "outcome")
        if self._rows == "bay":
            columns = ("bay", "unit", *columns[1:])
        for column in columns:
            table.add_column(column)
        with self._lock:
            for bay, s in self._bays.items():
                cells = [s.stage, self._left(s.deadline), s.outcome]
                table.add_row(bay, *([s.unit] if self._rows == "bay" else []), *cells)
        return table
