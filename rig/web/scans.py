"""The station's one stream of scans with the page's scan field and stop button in it.

`rig run` reads its scans from stdin and the USB scanner (`rig.scanner.scan_lines`); with
`--web` the page types into the same stream: a scan (`SERIAL`, or `BAY SERIAL`) is a line like
any other, and the stop button is the `q` a technician would type, so the station lets its
running units end and stops. The base stream is read by a daemon thread into one queue.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterable, Iterator

from rig.errors import UsageError
from rig.identity import check_serial

log = logging.getLogger(__name__)

STOP_LINE = "q"  # what the station reads as "finish" (rig.station.Station._read_scans)

_END = object()


def check_scan(text: str, bays: Iterable[str]) -> str:
    """A scan from the page as the station will read it; UsageError (one line) if it cannot
    name a unit, or names a bay the station does not have."""
    text = " ".join(text.split())
    head, _, rest = text.partition(" ")
    if rest:
        if head not in set(bays):
            raise UsageError(f"scan {text!r}: no bay named {head!r}")
        return f"{head} {check_serial(rest, f'scan {text!r}')}"
    return check_serial(text, "scan")


class WebScans:
    """`base` (stdin, the scanner) merged with what the page sends.

    Iteration ends after the stop line, on `close()`, and, if `base_ends` (the technician at
    a terminal: Ctrl-D), when `base` ends; otherwise the base stream's end (a service's
    /dev/null, a pipe that ran out) leaves the page in charge.
    """

    def __init__(
        self, base: Iterable[str] | None = None, *, base_ends: bool = True, poll_s: float = 0.2
    ) -> None:
        self.base = base
        self.base_ends = base_ends
        self.poll_s = poll_s
        self._inbox: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._closed = threading.Event()
        self._started = False

    def put(self, line: str) -> None:
        """A line from the page (already checked with `check_scan`)."""
        self._inbox.put(line)

    def stop(self) -> None:
        """The stop button: the station finishes its running units and ends."""
        self._inbox.put(STOP_LINE)

    def close(self) -> None:
        self._closed.set()
        self._inbox.put(_END)

    def __iter__(self) -> Iterator[str]:
        if self._started:
            raise RuntimeError("WebScans is read once")
        self._started = True
        if self.base is not None:
            threading.Thread(target=self._pump, name="scans", daemon=True).start()
        while not self._closed.is_set():
            try:
                item = self._inbox.get(timeout=self.poll_s)  # short waits: open to signals
            except queue.Empty:
                continue
            if item is _END:
                if self.base_ends or self._closed.is_set():
                    return
                continue
            if isinstance(item, str):
                yield item

    def _pump(self) -> None:
        assert self.base is not None
        try:
            for line in self.base:
                if self._closed.is_set():
                    return
                self._inbox.put(line)
        except Exception:  # a source must never take the station down
            log.exception("reading scans failed")
        finally:
            if not self._closed.is_set():
                self._inbox.put(_END)
