"""The SADP poller: probes in a background thread and tracks which units are present.

It is how rig sees a unit go (power cut) and come back (booted after the reset), by MAC.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Literal, Protocol

from rig.errors import NetworkError
from rig.network.sadp.message import SadpReply

__all__ = ["EventKind", "Prober", "SadpEvent", "SadpPoller"]

log = logging.getLogger(__name__)


class Prober(Protocol):
    """What the poller needs of a client (a SadpClient, or a fake in tests)."""

    def probe(
        self, window_s: float, on_reply: Callable[[SadpReply], None] | None = None
    ) -> list[SadpReply]: ...


EventKind = Literal["appeared", "vanished"]


@dataclass(frozen=True)
class SadpEvent:
    kind: EventKind
    mac: str
    reply: SadpReply  # for "vanished", the last reply seen before it went
    at: float  # monotonic seconds


class SadpPoller:
    """Probes every `poll_s` in a background thread and tracks which units are present.

    A unit vanishes after `misses_to_vanish` consecutive polls without it: one lost UDP
    datagram must not look like a power cut. A poll whose probe could not be sent is not a
    miss (it proves nothing about the units); it is counted in `errors`.

    The client is borrowed, not owned: closing it is the caller's job.
    """

    # A long run of a flapping unit must not grow memory without bound.
    _MAX_EVENTS = 10_000

    def __init__(
        self,
        client: Prober,
        *,
        poll_s: float = 0.5,
        window_s: float | None = None,
        misses_to_vanish: int = 2,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if poll_s <= 0:
            raise ValueError(f"poll_s must be positive, got {poll_s}")
        if misses_to_vanish < 1:
            raise ValueError(f"misses_to_vanish must be at least 1, got {misses_to_vanish}")
        self._client = client
        self.poll_s = poll_s
        # Cameras answer within milliseconds; listening the whole period keeps polling simple
        # and catches the slow ones.
        self.window_s = poll_s if window_s is None else window_s
        self.misses_to_vanish = misses_to_vanish
        self._monotonic = monotonic
        self._cond = threading.Condition(threading.RLock())
        self._present: dict[str, SadpReply] = {}
        self._misses: dict[str, int] = {}
        self._events: collections.deque[SadpEvent] = collections.deque(maxlen=self._MAX_EVENTS)
        self._subscribers: list[Callable[[SadpEvent], None]] = []
        self._polls = 0
        self._errors = 0
        self._last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- state, all under the condition's lock ---------------------------------------------

    def present(self) -> dict[str, SadpReply]:
        """The latest reply of every unit currently present, by MAC."""
        with self._cond:
            return dict(self._present)

    @property
    def events(self) -> list[SadpEvent]:
        """Every appear/vanish so far, oldest first (a copy)."""
        with self._cond:
            return list(self._events)

    @property
    def polls(self) -> int:
        with self._cond:
            return self._polls

    @property
    def errors(self) -> int:
        with self._cond:
            return self._errors

    @property
    def last_error(self) -> str | None:
        with self._cond:
            return self._last_error

    def subscribe(self, callback: Callable[[SadpEvent], None]) -> Callable[[], None]:
        """Call `callback(event)` from the poller thread for each event; returns an unsubscribe.

        Callbacks run outside the poller's lock, so they may call back into the poller; one
        that raises is logged and does not stop the others or the polling.
        """
        with self._cond:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._cond:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def wait_for(self, predicate: Callable[[dict[str, SadpReply]], bool], timeout_s: float) -> bool:
        """Block until `predicate(present)` is true (re-checked after every poll) or timeout.

        Returns the predicate's last value. The predicate runs with the poller's lock held:
        keep it quick.
        """
        with self._cond:
            return self._cond.wait_for(lambda: predicate(dict(self._present)), timeout_s)

    # --- the thread -------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start polling; a no-op if already running."""
        with self._cond:
            if self.running:
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="sadp-poller", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float | None = None) -> None:
        """Stop polling and wait for the thread (at most the window plus `timeout_s`)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.window_s + (1.0 if timeout_s is None else timeout_s))
        with self._cond:
            self._cond.notify_all()

    def __enter__(self) -> SadpPoller:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                replies = self._client.probe(self.window_s, on_reply=self._arrived)
            except Exception as exc:
                self._record_error(exc)
            else:
                self.poll_once(replies)
            next_at += self.poll_s
            now = time.monotonic()
            if next_at < now:
                next_at = now  # fell behind (slow window): poll again now, never in a burst
            self._stop.wait(next_at - now)

    def _record_error(self, exc: Exception) -> None:
        if isinstance(exc, NetworkError):
            log.warning("SADP poll failed: %s", exc)
        else:
            log.exception("SADP poll failed unexpectedly")
        with self._cond:
            self._errors += 1
            self._last_error = f"{type(exc).__name__}: {exc}"
            self._cond.notify_all()

    def _arrived(self, reply: SadpReply) -> None:
        """A unit answered mid-window: present from now on (misses are counted per poll)."""
        with self._cond:
            new_events: list[SadpEvent] = []
            if reply.mac not in self._present:
                new_events.append(SadpEvent("appeared", reply.mac, reply, self._monotonic()))
                self._events.extend(new_events)
            self._present[reply.mac] = reply
            self._misses[reply.mac] = 0
            self._cond.notify_all()
            subscribers = list(self._subscribers)
        for event in new_events:
            for callback in subscribers:
                try:
                    callback(event)
                except Exception:
                    log.exception("SADP event subscriber failed on appeared %s", event.mac)

    def poll_once(self, replies: list[SadpReply]) -> list[SadpEvent]:
        """Fold one poll's replies into the state; returns (and publishes) its events.

        The thread calls this after every probe; tests and callers with their own loop may
        call it directly.
        """
        with self._cond:
            now = self._monotonic()
            seen = {reply.mac: reply for reply in replies}
            new_events: list[SadpEvent] = []
            for mac, reply in seen.items():
                if mac not in self._present:
                    new_events.append(SadpEvent("appeared", mac, reply, now))
                self._present[mac] = reply
                self._misses[mac] = 0
            for mac in [m for m in self._present if m not in seen]:
                self._misses[mac] += 1
                if self._misses[mac] >= self.misses_to_vanish:
                    gone = self._present.pop(mac)
                    del self._misses[mac]
                    new_events.append(SadpEvent("vanished", mac, gone, now))
            self._events.extend(new_events)
            self._polls += 1
            subscribers = list(self._subscribers)
            self._cond.notify_all()
        for event in new_events:
            for callback in subscribers:
                try:
                    callback(event)
                except Exception:
                    log.exception("SADP event subscriber failed on %s %s", event.kind, event.mac)
        return new_events

    def __repr__(self) -> str:
        with self._cond:
            return (
                f"SadpPoller(poll_s={self.poll_s}, present={len(self._present)}, "
                f"polls={self._polls}, running={self.running})"
            )
