"""Time, injected: procedures take a Clock so an 18 s hold runs in milliseconds under test.

`SystemClock` is the real one. `FakeClock` advances only when someone sleeps on it, and fires
the timers that fall due on the way, in order, so safety timers (the 60 s press guard) are
tested on the fake clock too.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never jumps (steps are recorded on it)."""

    def wall(self) -> float:
        """Seconds since the epoch, for the record a person reads."""

    def sleep(self, seconds: float) -> None: ...

    def sleep_until(self, deadline: float) -> None:
        """Sleep until monotonic() >= deadline (no drift from repeated short sleeps)."""

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> Timer:
        """Run `callback` once after `delay_s`, unless cancelled first."""


class SystemClock:
    """The real clock. `sleep_until` spins the last 2 ms so a hold lands within a millisecond."""

    _SPIN_S = 0.002

    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        self.sleep_until(time.monotonic() + seconds)

    def sleep_until(self, deadline: float) -> None:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            # time.sleep can overshoot by the scheduler's slice; stop short and spin the rest.
            time.sleep(remaining - self._SPIN_S if remaining > self._SPIN_S else 0)

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> Timer:
        timer = threading.Timer(max(0.0, delay_s), callback)
        timer.daemon = True
        timer.start()
        return timer


class _FakeTimer:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """A clock for tests: time moves only when code sleeps; due timers fire on the way."""

    def __init__(self, start: float = 1000.0, wall_start: float = 1_790_000_000.0) -> None:
        self._now = start
        self._wall_offset = wall_start - start
        self._timers: list[tuple[float, int, _FakeTimer, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._lock = threading.RLock()

    def monotonic(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._now + self._wall_offset

    def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))

    def sleep_until(self, deadline: float) -> None:
        self.sleep(max(0.0, deadline - self._now))

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> Timer:
        timer = _FakeTimer()
        with self._lock:
            heapq.heappush(self._timers, (self._now + delay_s, next(self._seq), timer, callback))
        return timer

    def advance(self, seconds: float) -> None:
        """Move time forward, firing every timer that falls due, at its own moment."""
        end = self._now + seconds
        while True:
            with self._lock:
                if not self._timers or self._timers[0][0] > end:
                    break
                due, _, timer, callback = heapq.heappop(self._timers)
            self._now = max(self._now, due)
            if not timer.cancelled:
                callback()
        self._now = end


class Alarm(threading.Event):
    """A `threading.Event` that also sets the events listening to it (`also_set`).

    threading has no wait for any of several events: a wait that must end on any of them
    waits on one Event that each of them sets (StoppableClock's waits, below).
    """

    def __init__(self) -> None:
        super().__init__()
        self._also: list[threading.Event] = []
        self._also_lock = threading.Lock()

    def also_set(self, event: threading.Event) -> None:
        """Set `event` whenever this alarm is set (at once, if it is set already)."""
        with self._also_lock:
            self._also.append(event)
        if self.is_set():
            event.set()

    def set(self) -> None:
        super().set()
        with self._also_lock:
            also = list(self._also)
        for event in also:
            event.set()


class Tripwire(Protocol):
    """Something a worker's waits watch, which ends them when it trips (a bay's board link,
    rig.hardware.board: unplugged or rebooted, it raises `HardwareFault`)."""

    def check(self) -> None:
        """Raise the error the wait must end with, once tripped; return while all is well."""

    def also_set(self, event: threading.Event) -> None:
        """Set `event` (from any thread) every time this trips."""


class StoppableClock:
    """A clock whose waits end at once, raising `Aborted`, when the station is stopping, and,
    raising the tripwire's own error, when a tripwire it watches trips.

    The station's bays run in worker threads; a signal lands on the main thread, which makes
    every bay safe and sets `stop`. Each worker then leaves its hold or boot wait here instead
    of finishing a procedure whose actuators are already released. A bay's clock also watches
    the board links of its actuators: a board that vanishes or reboots mid-hold ends the hold
    (and the job, `hardware_fault`) at once, rather than when the planned hold is over.

    Every source rings one Event a wait sleeps on: `stop` itself when nothing else is watched;
    with tripwires, an Event of this clock that they and `stop` (then an `Alarm`) set.
    """

    _SPIN_S = 0.002

    def __init__(
        self,
        clock: Clock,
        stop: threading.Event,
        reason: Callable[[], str],
        *,
        tripwires: Sequence[Tripwire] = (),
    ) -> None:
        self._clock = clock
        self._stop = stop
        self._reason = reason
        self._tripwires = tuple(tripwires)
        self._wake = stop
        if self._tripwires:
            if not isinstance(stop, Alarm):
                raise TypeError("a StoppableClock with tripwires needs an Alarm as its stop")
            self._wake = threading.Event()
            stop.also_set(self._wake)
            for tripwire in self._tripwires:
                tripwire.also_set(self._wake)

    def _check(self) -> None:
        if self._wake is not self._stop:
            # Cleared before the checks, so a trip between them and the wait is not lost.
            self._wake.clear()
        if self._stop.is_set():
            from rig.errors import Aborted

            raise Aborted(self._reason())
        for tripwire in self._tripwires:
            tripwire.check()

    def monotonic(self) -> float:
        return self._clock.monotonic()

    def wall(self) -> float:
        return self._clock.wall()

    def sleep(self, seconds: float) -> None:
        self.sleep_until(self._clock.monotonic() + seconds)

    def sleep_until(self, deadline: float) -> None:
        if not isinstance(self._clock, SystemClock):
            self._check()
            self._clock.sleep_until(deadline)
            self._check()
            return
        while True:
            self._check()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if remaining > self._SPIN_S:
                self._wake.wait(remaining - self._SPIN_S)

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> Timer:
        return self._clock.call_later(delay_s, callback)
