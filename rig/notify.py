"""`rig run` under systemd: sd_notify with the stdlib, and a watchdog that pings only while the
station proves it is alive.

**sd_notify.** `$NOTIFY_SOCKET` names a datagram socket (a path, or `@name` for the abstract
namespace); each message is `KEY=VALUE` lines in one datagram. `Notifier` sends `READY=1`
(the station is up), `STATUS=...` (shown by `systemctl status rig`), `STOPPING=1` and
`WATCHDOG=1`. Without `$NOTIFY_SOCKET` (a terminal, a test) every call is a no-op, and a failed
send is logged once and never raised: the station must not stop because systemd went away.

**The watchdog.** With `WatchdogSec=` systemd sets `$WATCHDOG_USEC` (and `$WATCHDOG_PID`, which
must be our pid, else the watchdog is someone else's) and kills the service when no
`WATCHDOG=1` came for that long. A thread that pinged on a timer would prove only that the
interpreter runs; `Watchdog` pings, every half interval, only while `Liveness` says every party
of the station is alive.

**The liveness rule.** Each thread that does the station's work (the main loop reading scans,
one worker per bay) is a `Party`, always in one of three states:

- *working*: `beat()`; alive for `grace_s` from that moment. Every stage a bay enters beats,
  and so does every turn of the main loop's short waits.
- *waiting until T*: `wait_until(T)`, a wait whose end is known (the 18 s hold, the 180 s boot
  wait, the solenoid's rest: the stages that carry a deadline); alive until T plus `grace_s`.
- *idle*: `idle()`, blocked until someone else gives it work (a bay waiting for a scan, the
  main loop waiting for the operator's next scan); alive for as long as it stays so, since
  waiting for input is no sign of a hang.

The station is healthy while every open party is within its time and its thread (if it named
one) is running. A party that stays past its time, a deadlock or a blocking call without
timeout, stops the pings, and systemd restarts the station `WatchdogSec` later (the unit's
`WatchdogSignal=SIGTERM` makes every bay safe first). `grace_s` must exceed the longest step
that has no deadline (an identification, a few HTTP calls to the unit); the station derives it
from its config (`rig.station.liveness_grace_s`). A hang is reported in the log once, with the
stuck threads' stacks, before systemd acts. A process that is wedged as a whole (the watchdog
thread itself stuck) stops pinging too.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)

#: The least time a working party counts as alive after it beat.
DEFAULT_GRACE_S = 60.0


# -- sd_notify ---------------------------------------------------------------------------


def _socket_address(value: str | None) -> str | None:
    """`$NOTIFY_SOCKET` as an AF_UNIX address: a path, or `@name` for the abstract namespace."""
    if not value:
        return None
    if value.startswith("@"):
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    log.warning("NOTIFY_SOCKET=%r: not a path or an abstract socket; not notifying", value)
    return None


def _watchdog_s(environ: Mapping[str, str], pid: int) -> float | None:
    """The watchdog interval systemd asked for, if it is ours."""
    usec = environ.get("WATCHDOG_USEC", "")
    if not usec.isascii() or not usec.isdigit() or int(usec) == 0:
        return None
    owner = environ.get("WATCHDOG_PID")
    if owner is not None and (not owner.isascii() or not owner.isdigit() or int(owner) != pid):
        return None  # meant for another process (a parent that passed its environment on)
    return int(usec) / 1_000_000


class Notifier:
    """Messages to systemd's notification socket; no-ops when there is none."""

    def __init__(self, address: str | None = None, *, watchdog_s: float | None = None) -> None:
        self.address = address
        self.watchdog_s = watchdog_s if address is not None else None
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._failed = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, pid: int | None = None) -> Notifier:
        env = os.environ if environ is None else environ
        return cls(
            _socket_address(env.get("NOTIFY_SOCKET")),
            watchdog_s=_watchdog_s(env, os.getpid() if pid is None else pid),
        )

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *assignments: str) -> bool:
        """One datagram of `KEY=VALUE` lines; True if it was sent."""
        if self.address is None or not assignments:
            return False
        data = "\n".join(a.replace("\n", " ") for a in assignments).encode()
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._sock.sendto(data, self.address)
            except OSError as exc:
                if not self._failed:
                    log.warning("systemd notify failed (%s); carrying on without it", exc)
                    self._failed = True
                return False
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text}")

    def stopping(self, status: str | None = None) -> bool:
        return self.send("STOPPING=1", *([f"STATUS={status}"] if status else []))

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None


# -- liveness ----------------------------------------------------------------------------


class Party:
    """One thread's proof of life (see the module's rule). Thread-safe: plain assignments."""

    def __init__(
        self, liveness: Liveness, name: str, thread: threading.Thread | None, now: float
    ) -> None:
        self._liveness = liveness
        self.name = name
        self.thread = thread
        self.doing = "starting"
        self.since = now  # when it last showed a sign of life
        self.until = now + liveness.grace_s  # alive until then
        self.closed = False

    def beat(self, doing: str | None = None) -> None:
        """Working: alive for `grace_s` from now."""
        now = self._liveness.now()
        self.doing = doing or self.doing
        self.since, self.until = now, now + self._liveness.grace_s

    def wait_until(self, deadline: float | None, doing: str | None = None) -> None:
        """A wait that ends at `deadline` (the station's monotonic clock): alive until then,
        plus `grace_s`. No deadline is a beat."""
        now = self._liveness.now()
        self.doing = doing or self.doing
        end = now if deadline is None else max(now, deadline)
        self.since, self.until = now, end + self._liveness.grace_s

    def idle(self, doing: str | None = None) -> None:
        """Blocked until another party gives it work: alive for as long as it stays idle."""
        self.doing = doing or self.doing
        self.since, self.until = self._liveness.now(), math.inf

    def close(self) -> None:
        """Done for good (a clean end): no longer watched."""
        self.closed = True
        self._liveness.forget(self)


class Liveness:
    """The parties of the station; healthy while each is alive by the module's rule."""

    def __init__(
        self, *, grace_s: float = DEFAULT_GRACE_S, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.grace_s = grace_s
        self.now = monotonic
        self._parties: dict[str, Party] = {}
        self._lock = threading.Lock()

    def party(self, name: str, thread: threading.Thread | None = None) -> Party:
        """Register `name` (working from now). Registering a name again replaces it.
        `thread`: the thread it runs in; the party is dead if that thread ends unclosed."""
        party = Party(self, name, thread, self.now())
        with self._lock:
            self._parties[name] = party
        return party

    def forget(self, party: Party) -> None:
        with self._lock:
            if self._parties.get(party.name) is party:
                del self._parties[party.name]

    def parties(self) -> list[Party]:
        with self._lock:
            return list(self._parties.values())

    def stuck(self) -> list[tuple[Party, str]]:
        """Each party that is not alive, with why; none: healthy."""
        now = self.now()
        found = []
        for party in self.parties():
            if party.thread is not None and not party.thread.is_alive():
                found.append((party, f"{party.name}: its thread ended ({party.doing})"))
            elif now > party.until:
                found.append(
                    (party, f"{party.name}: stuck for {now - party.since:.0f} s ({party.doing})")
                )
        return found

    def problems(self) -> list[str]:
        return [why for _, why in self.stuck()]


# -- the watchdog ------------------------------------------------------------------------


class Watchdog:
    """Pings systemd every half interval while `liveness` is healthy (a daemon thread).

    Unhealthy, it stops pinging, logs what is stuck (with the stuck threads' stacks) and puts
    it in the unit's STATUS, once per change; pings resume if every party is alive again.
    Does nothing when systemd asked for no watchdog.
    """

    def __init__(
        self, notifier: Notifier, liveness: Liveness, *, interval_s: float | None = None
    ) -> None:
        self.notifier = notifier
        self.liveness = liveness
        self.interval_s = interval_s if interval_s is not None else notifier.watchdog_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._reported: list[str] = []

    @property
    def active(self) -> bool:
        return self._thread is not None

    def start(self) -> Watchdog:
        if self.interval_s is None or self.interval_s <= 0 or self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._thread = None

    def __enter__(self) -> Watchdog:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def check(self) -> bool:
        """One turn: ping if healthy, else report what is stuck (once per change)."""
        stuck = self.liveness.stuck()
        problems = [why for _, why in stuck]
        if not stuck:
            if self._reported:
                log.warning("watchdog: every part of the station is alive again")
                self.notifier.status("running (recovered from a stall)")
                self._reported = []
            self.notifier.watchdog()
            return True
        if problems != self._reported:
            self._reported = problems
            log.error(
                "watchdog: not pinging systemd (it restarts the station if this lasts): %s%s",
                "; ".join(problems),
                _stacks([party.thread for party, _ in stuck]),
            )
            self.notifier.status("stalled: " + "; ".join(problems))
        return False

    def _run(self) -> None:
        assert self.interval_s is not None
        period = self.interval_s / 2
        while not self._stop.wait(period):
            try:
                self.check()
            except Exception:  # the watchdog must not die of a bug and take the pings along
                log.exception("watchdog: check failed")


def _stacks(threads: list[threading.Thread | None]) -> str:
    frames = sys._current_frames()
    out = []
    for thread in threads:
        if thread is None or thread.ident is None or thread.ident not in frames:
            continue
        stack = "".join(traceback.format_stack(frames[thread.ident]))
        out.append(f"\nthread {thread.name}:\n{stack.rstrip()}")
    return "".join(out)


__all__ = ["DEFAULT_GRACE_S", "Liveness", "Notifier", "Party", "Watchdog"]
