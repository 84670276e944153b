"""The two actuators of a bay, as tiny interfaces (labgrid's PowerProtocol, in our words).

The procedure talks only to these. Backends (gpio, board, manual) implement them; the safety
limits every backend shares (no press over 60 s, rest after each press, auto-release) live in
`GuardedPresser`, so a backend cannot forget them.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal

from rig.clock import Clock, Timer
from rig.errors import CooldownError, SafetyLimitError

#: No press, ever, longer than this (the board's firmware enforces the same 60000 ms).
MAX_PRESS_S = 60.0


def check_press_limit(max_s: float) -> None:
    """Refuse a press over the hard limit before anything moves."""
    if not 0 < max_s <= MAX_PRESS_S:
        raise SafetyLimitError(f"press of {max_s:g} s refused: limit is {MAX_PRESS_S:g} s")


class Rest:
    """After a press of length t the solenoid rests at least t, so its coil cools down."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._until = float("-inf")

    def remaining_s(self) -> float:
        return max(0.0, self._until - self._clock.monotonic())

    def until(self, monotonic_s: float) -> None:
        self._until = max(self._until, monotonic_s)  # a rest is never shortened

    def after(self, worked_s: float) -> None:
        self.until(self._clock.monotonic() + worked_s)


@dataclass(frozen=True)
class Release:
    """What `Presser.release()` found: how long the pin was down, by whose clock, and whether
    a guard had already let it go."""

    #: How long the pin was down; None if it was not down (or the backend cannot tell).
    held_s: float | None
    #: Whose clock measured `held_s`: the host's, or the board's own (it times the press itself).
    timed_by: Literal["host", "board"] = "host"
    #: A guard released the pin before this call: the backend's auto-release timer, the board's
    #: auto-release or its safe state. `held_s` is then the press as the guard ended it.
    early: bool = False


@dataclass(frozen=True)
class PortMacs:
    """The MACs a bay's power feeds, as its backend sees them: a switch's forwarding table
    for the bay's port. `where` names the port ("sw1 port 5"), `source` how it was read."""

    where: str
    macs: tuple[str, ...]
    source: str


class PowerSwitch(ABC):
    """The camera's PoE power. The relay is wired NC: energised = power cut."""

    name: str = "power"
    #: How long `on()` may take before the power is back (a switch waits for its port to
    #: deliver power again): the press's guard allows for it, so it does not end the hold.
    on_delay_s: float = 0.0

    @abstractmethod
    def on(self) -> None:
        """Give the camera power (relay de-energised)."""

    @abstractmethod
    def off(self) -> None:
        """Cut the camera's power (relay energised)."""

    @abstractmethod
    def is_on(self) -> bool: ...

    def make_safe(self) -> None:
        """De-energise the relay: with NC wiring the camera keeps (or gets back) its power."""
        if not self.is_on():
            self.on()

    def close(self) -> None:  # noqa: B027 - optional for backends without resources
        """Release the backend's resources; idempotent."""

    def port_macs(self, expect: str | None = None) -> PortMacs | None:
        """Which MACs this power feeds, when the backend can tell (a switch port); None for a
        relay, which cannot. `expect`: the MAC of the unit the bay is thought to hold (its
        scan): a backend may confirm just that one, faster, and say so in `source`."""
        return None


class Presser(ABC):
    """The solenoid on the camera's reset pin."""

    name: str = "presser"
    _rest: Rest | None = None  # backends that can press set one

    @abstractmethod
    def press(self, max_s: float) -> None:
        """Pin down now; released by the backend itself after `max_s` at the latest."""

    @abstractmethod
    def release(self) -> Release:
        """Pin up now, whatever the bookkeeping says. Returns what the press was: how long, by
        whose clock, and whether a guard had ended it before this call (`early`)."""

    @abstractmethod
    def is_pressed(self) -> bool: ...

    def make_safe(self) -> None:
        if self.is_pressed():
            self.release()

    def rest_remaining_s(self) -> float:
        """How much longer the solenoid must rest before it may press again."""
        return 0.0 if self._rest is None else self._rest.remaining_s()

    def rest_until(self, monotonic_s: float) -> None:
        """Carry a rest over from an earlier process (the records know the last press)."""
        if self._rest is not None:
            self._rest.until(monotonic_s)

    def close(self) -> None:  # noqa: B027 - optional for backends without resources
        """Release the backend's resources; idempotent."""


class GuardedPresser(Presser):
    """Software safety for a presser the host drives directly (gpio, manual).

    - refuses a press longer than MAX_PRESS_S;
    - refuses a press until the solenoid has rested as long as it last worked;
    - arms a timer that releases the pin after `max_s` even if the caller hangs.

    A press ended by the timer or by `make_safe()` is reported, `early`, by the next `release()`.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self._pressed_at: float | None = None
        self._rest: Rest = Rest(clock)
        self._guard: Timer | None = None
        self._guard_release: Release | None = None  # the press the guard ended, not yet reported

    @abstractmethod
    def _down(self) -> None: ...

    @abstractmethod
    def _up(self) -> None: ...

    def press(self, max_s: float) -> None:
        check_press_limit(max_s)
        with self._lock:
            if self._pressed_at is not None:
                raise SafetyLimitError(f"{self.name}: already pressed")
            remaining = self.rest_remaining_s()
            if remaining > 0:
                raise CooldownError(
                    f"{self.name}: solenoid must rest {remaining:.1f} s more", remaining
                )
            self._guard_release = None
            self._pressed_at = self._clock.monotonic()
            self._guard = self._clock.call_later(max_s, self._auto_release)
        self._down()

    def _auto_release(self) -> None:
        with self._lock:
            if self._pressed_at is not None:
                self._end_early()

    def _end_early(self) -> None:
        """Pin up by a guard, not by the caller: its next release() reports this press."""
        ended = self._pin_up()
        if ended.held_s is not None:
            self._guard_release = Release(ended.held_s, "host", early=True)

    def release(self) -> Release:
        with self._lock:
            ended = self._pin_up()
            if ended.held_s is None and self._guard_release is not None:
                ended, self._guard_release = self._guard_release, None
            return ended

    def _pin_up(self) -> Release:
        # Pin up first, bookkeeping after: safety does not wait for anything.
        self._up()
        if self._pressed_at is None:
            return Release(None, "host")
        held_s = self._clock.monotonic() - self._pressed_at
        self._pressed_at = None
        self._rest.after(held_s)
        if self._guard is not None:
            self._guard.cancel()
            self._guard = None
        return Release(held_s, "host")

    def is_pressed(self) -> bool:
        return self._pressed_at is not None

    def make_safe(self) -> None:
        # Always drive the pin up, even if our bookkeeping thinks it is already up.
        with self._lock:
            self._end_early()
