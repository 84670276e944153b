"""The SADP poller: probes in a background thread and tracks which units are present.

It is how rig sees a unit go (power cut) and come back (booted after the reset), by MAC.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Literal, Protocol, runtime_checkable

from rig.errors import NetworkError
from rig.network.sadp.message import SadpReply

__all__ = [
    "DEFAULT_FAST_POLL_S",
    "DEFAULT_MISSES_TO_VANISH",
    "EventKind",
    "Prober",
    "SadpEvent",
    "SadpPoller",
]

log = logging.getLogger(__name__)

#: The poll period while a unit is expected to go or come back (`[network] sadp_fast_poll_s`).
DEFAULT_FAST_POLL_S = 0.1
#: Silent polls in a row before a unit counts as gone.
DEFAULT_MISSES_TO_VANISH = 2
#: Polls after start() made at the fast rate: the first unit of a station waits for two.
WARM_UP_POLLS = 2


class Prober(Protocol):
    """What the poller needs of a client (a SadpClient, or a fake in tests)."""

    def probe(
        self, window_s: float, on_reply: Callable[[SadpReply], None] | None = None
    ) -> list[SadpReply]: ...


@runtime_checkable
class Wakeable(Protocol):
    """A prober whose window another thread can end (SadpClient.wake): the one in progress,
    or the next one if it has not started yet; clear_wake() drops a wake no window took."""

    def wake(self) -> bool: ...

    def clear_wake(self) -> None: ...


EventKind = Literal["appeared", "vanished"]


@dataclass(frozen=True)
class SadpEvent:
    kind: EventKind
    mac: str
    reply: SadpReply  # for "vanished", the last reply seen before it went
    at: float  # monotonic seconds


class SadpPoller:
    """Probes in a background thread and tracks which units are present.

    Two rates. At `poll_s` (slow) while nobody waits for a unit: an idle LAN sees one probe
    per `poll_s`. At `fast_poll_s` while someone is `expecting()` a unit to go or come back
    (a power cut, a boot), and for the first polls after start() (identify waits for two):
    detection then lags the wire by a fast period, not a slow one. Entering `expecting()`
    ends a slow window in flight at once (a client with `wake()`, like SadpClient) and the
    first fast probe goes out immediately.

    A unit vanishes after `misses_to_vanish` consecutive polls without it: one lost UDP
    datagram must not look like a power cut. A poll whose probe could not be sent is not a
    miss (it proves nothing about the units); it is counted in `errors`. Neither is a slow
    window cut short by a wake before it listened a fast window's worth: its silence proves
    nothing, its answers still count as presence. An answer to an earlier probe (late) is
    presence too: the unit is there, whichever probe it answers.

    The client is borrowed, not owned: closing it is the caller's job.
    """

    # A long run of a flapping unit must not grow memory without bound.
    _MAX_EVENTS = 10_000

    def __init__(
        self,
        client: Prober,
        *,
        poll_s: float = 0.5,
        fast_poll_s: float | None = None,
        window_s: float | None = None,
        misses_to_vanish: int = DEFAULT_MISSES_TO_VANISH,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if poll_s <= 0:
            raise ValueError(f"poll_s must be positive, got {poll_s}")
        if fast_poll_s is None:
            fast_poll_s = min(DEFAULT_FAST_POLL_S, poll_s)
        if not 0 < fast_poll_s <= poll_s:
            raise ValueError(f"fast_poll_s must be in (0, poll_s={poll_s}], got {fast_poll_s}")
        if misses_to_vanish < 1:
            raise ValueError(f"misses_to_vanish must be at least 1, got {misses_to_vanish}")
        self._client = client
        self.poll_s = poll_s
        self.fast_poll_s = fast_poll_s
        # Cameras answer within milliseconds; listening the whole period keeps polling simple
        # and catches the slow ones (and a late answer still counts, in the next window).
        self.window_s = poll_s if window_s is None else window_s
        self.fast_window_s = min(self.window_s, fast_poll_s)
        self.misses_to_vanish = misses_to_vanish
        self._monotonic = monotonic
        self._cond = threading.Condition(threading.RLock())
        self._present: dict[str, SadpReply] = {}
        self._misses: dict[str, int] = {}
        self._heard: set[str] = set()  # answered (on time or late) since the last poll
        self._events: collections.deque[SadpEvent] = collections.deque(maxlen=self._MAX_EVENTS)
        self._subscribers: list[Callable[[SadpEvent], None]] = []
        self._polls = 0
        self._fast_polls = 0
        self._slow_polls = 0
        self._probes = 0  # probes the thread tried to send since start()
        self._errors = 0
        self._last_error: str | None = None
        self._expecting: collections.Counter[str] = collections.Counter()
        self._slow_in_flight = False  # the thread is inside a slow window
        self._woken = False  # ... and expecting() ended it early
        self._stop = threading.Event()
        # Ends the thread's wait between polls: a stop, or someone starting to expect.
        self._nudge = threading.Event()
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
    def fast_polls(self) -> int:
        """Polls the thread made at the fast rate (expected units, warm-up)."""
        with self._cond:
            return self._fast_polls

    @property
    def slow_polls(self) -> int:
        """Polls the thread made at `poll_s`."""
        with self._cond:
            return self._slow_polls

    @property
    def probes(self) -> int:
        """Probes the thread tried to send since start() (a failed send included)."""
        with self._cond:
            return self._probes

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

    def events_since(self, since: float) -> list[SadpEvent]:
        """The events at or after monotonic `since`, oldest first (cheap for recent ones)."""
        with self._cond:
            recent: list[SadpEvent] = []
            for event in reversed(self._events):
                if event.at < since:
                    break
                recent.append(event)
            return recent[::-1]

    # --- the rate --------------------------------------------------------------------------

    @property
    def fast(self) -> bool:
        """Is the fast rate in force (someone expecting, or still warming up)?"""
        with self._cond:
            return self._fast_locked()

    def _fast_locked(self) -> bool:
        return bool(self._expecting) or self._probes < WARM_UP_POLLS

    @property
    def period_s(self) -> float:
        """The poll period in force now."""
        return self.fast_poll_s if self.fast else self.poll_s

    @property
    def expected(self) -> dict[str, int]:
        """Who is expecting a unit now: reason -> how many (for the status and the tests)."""
        with self._cond:
            return dict(self._expecting)

    @contextlib.contextmanager
    def expecting(self, reason: str = "") -> Iterator[SadpPoller]:
        """Poll fast while inside: someone expects a unit to go or come back.

        Re-entrant and counted across threads: the rate is fast while any is inside. The first
        to enter ends a slow window in flight and a fast probe goes out at once.
        """
        with self._cond:
            self._expecting[reason] += 1
            if sum(self._expecting.values()) == 1:
                self._nudge.set()  # the thread may be between polls: probe now
                # End a slow window in flight: the fast probe must not wait for it.
                longer = self._slow_in_flight and self.window_s > self.fast_window_s
                if longer and isinstance(self._client, Wakeable) and self._client.wake():
                    self._woken = True
        try:
            yield self
        finally:
            with self._cond:
                self._expecting[reason] -= 1
                if self._expecting[reason] <= 0:
                    del self._expecting[reason]

    def notify_waiters(self) -> None:
        """Re-check every wait_for() now (something its predicate reads changed)."""
        with self._cond:
            self._cond.notify_all()

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
        """Start polling (the first WARM_UP_POLLS fast); a no-op if already running."""
        with self._cond:
            if self.running:
                return
            self._stop.clear()
            self._probes = 0
            self._thread = threading.Thread(target=self._run, name="sadp-poller", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float | None = None) -> None:
        """Stop polling and wait for the thread (at most the window plus `timeout_s`)."""
        self._stop.set()
        self._nudge.set()
        with self._cond:
            if self._slow_in_flight and isinstance(self._client, Wakeable):
                self._woken = self._client.wake()  # a long window need not run out
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
            with self._cond:
                if self._stop.is_set():
                    break  # stop() came before this window: it could not end it
                self._nudge.clear()
                fast = self._fast_locked()
                window_s = self.fast_window_s if fast else self.window_s
                period_s = self.fast_poll_s if fast else self.poll_s
                self._slow_in_flight, self._woken = not fast, False
                self._probes += 1
            started = time.monotonic()
            replies: list[SadpReply] | None = None
            try:
                replies = self._client.probe(window_s, on_reply=self._arrived)
            except Exception as exc:
                self._record_error(exc)
            with self._cond:
                woken, self._slow_in_flight = self._woken, False
                if woken and isinstance(self._client, Wakeable):
                    # A wake sent as the window was closing would end the next one at once.
                    self._client.clear_wake()
            if replies is not None:
                if woken and time.monotonic() - started < self.fast_window_s:
                    # Cut short before it listened as long as a fast poll: not a poll.
                    for reply in replies:
                        self._arrived(reply)
                else:
                    self._fold(replies, fast)
            now = time.monotonic()
            # A failed send is retried at the slow rate whatever is expected: no log storm.
            next_at += self.poll_s if replies is None else period_s
            if woken or next_at < now:
                next_at = now  # fell behind (slow window), or woken: poll now, never in a burst
            if self._nudge.wait(next_at - now):
                next_at = time.monotonic()  # someone started expecting: probe at once

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
        """A unit answered mid-window (or late): present from now on, and not a miss of the
        poll in progress (misses are counted per poll)."""
        with self._cond:
            new_events: list[SadpEvent] = []
            if reply.mac not in self._present:
                new_events.append(SadpEvent("appeared", reply.mac, reply, self._monotonic()))
                self._events.extend(new_events)
            self._present[reply.mac] = reply
            self._misses[reply.mac] = 0
            self._heard.add(reply.mac)
            if new_events:
                # Only a newcomer changes who is present mid-window; the others' waiters
                # are woken at the poll's end (48 units answering twice a second, each
                # waking every waiter, were much of an idle station's CPU).
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

        The thread folds every probe this way; tests and callers with their own loop may
        call it directly.
        """
        return self._fold(replies, None)

    def _fold(self, replies: list[SadpReply], fast: bool | None) -> list[SadpEvent]:
        """poll_once; `fast`: the rate of the thread's poll (None: a caller's own)."""
        with self._cond:
            now = self._monotonic()
            seen = {reply.mac: reply for reply in replies}
            # Heard since the last poll (a late answer to an earlier probe): present, no miss.
            for mac in self._heard:
                if mac not in seen and mac in self._present:
                    seen[mac] = self._present[mac]
            self._heard.clear()
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
            if fast is not None:
                self._fast_polls += fast
                self._slow_polls += not fast
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
                f"SadpPoller(poll_s={self.poll_s}, fast_poll_s={self.fast_poll_s}, "
                f"present={len(self._present)}, polls={self._polls}, "
                f"expecting={sum(self._expecting.values())}, running={self.running})"
            )
