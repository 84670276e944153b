"""The network's proof of a reset: the same unit, back, in factory state
(docs/architecture.md, "Proving a reset").

Identity, in order of strength: the serial the operator scanned (the end of SADP's DeviceSN),
else the MAC seen answering before the cut, else the one unit that vanished when this bay's
power was cut. A procedure without a cut (running-hold) knows its unit as the one unit
answering before the press, or the one that goes down after the release and comes back.
Identity is by MAC, never by IP (reset cameras share 192.168.1.64).

Factory state is judged by what the unit itself reports. `Activated` false (SADP, confirmed by
/SDK/activateStatus where reachable) is factory state whatever the firmware number: real
replies carry the field on firmware numbered V1.5, V3.5 and V5.2. `Activated` true means still
activated, unless the firmware predates activation (cameras before 5.3): there, as for a unit
that reports no activation at all, one digest login with admin/12345 decides (no published
sample shows what such a unit sends, and a permanent `true` must not fail every reset). Never
more than one login per check: cameras lock the client out after a few failures.

The checks start the moment the unit is back and run while it must stay up (`settle_s`), so
the verdict is ready when the settle ends. SADP answers before the web server is up, so a call
that gets no HTTP answer at all (refused, timed out) is tried again, 0.1 s apart, until one
starts at or after the settle's end: never an earlier check than a single one at that moment.
A login that got any HTTP answer is never sent again.

Waits here are in real time on the SADP poller's thread (the camera keeps real time too), at
the poller's fast rate (`expecting`) from a cut until the unit is gone, and from the release
until it is back and checked.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rig.config import NetworkConfig
from rig.errors import Aborted, UnitNotIdentified
from rig.job import Unit, Verdict
from rig.network.isapi import Exchange, IsapiClient
from rig.network.sadp import SadpClient, SadpPoller, SadpReply
from rig.network.version import is_activation_firmware
from rig.outcomes import Outcome
from rig.verify.base import Verifier

# The factory login of firmware before 5.3: public knowledge, not a secret, but still kept
# out of every record (only "admin/<factory default>" is written).
FACTORY_USER, FACTORY_PASSWORD = "admin", "12345"
# Came back and went again this many times after the release: a reboot loop.
LOOP_CYCLES = 2

# A call that got no HTTP answer (the web server not up yet) is tried again this often.
RETRY_SPACING_S = 0.1

IsapiFactory = Callable[[str, int], IsapiClient]

log = logging.getLogger(__name__)


def _without(mac: str) -> Callable[[dict[str, SadpReply]], bool]:
    return lambda present: mac not in present


class MacClaims:
    """The MACs the verifiers of one poller know as their bay's unit.

    Cuts of units known by MAC take no power-cut slot, so they may overlap another bay's cut;
    a verifier that names its unit as "the one that vanished" must not take a unit another
    bay already knows as its own.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owners: dict[str, set[int]] = {}

    def claim(self, mac: str, owner: object) -> None:
        with self._lock:
            self._owners.setdefault(mac, set()).add(id(owner))

    def release(self, owner: object) -> None:
        """Everything `owner` claimed."""
        with self._lock:
            for mac in list(self._owners):
                self._owners[mac].discard(id(owner))
                if not self._owners[mac]:
                    del self._owners[mac]

    def others(self, owner: object) -> set[str]:
        """The MACs claimed by anyone but `owner`."""
        with self._lock:
            return {mac for mac, owners in self._owners.items() if owners - {id(owner)}}


@dataclass
class _Check:
    """One factory-state check of a reply: the verdict and the evidence it wrote."""

    reply: SadpReply
    verdict: Verdict
    notes: list[dict[str, Any]] = field(default_factory=list)
    # The login got an HTTP answer or carried credentials: it must never be sent again.
    logged_in: bool = False
    inactive: bool = False  # proven inactive by its activation state


class _SettleCheck:
    """The checks of a unit just back, on a thread of their own while its settle runs."""

    def __init__(
        self, run: Callable[[_SettleCheck], _Check | None], on_done: Callable[[], None]
    ) -> None:
        self.discarded = threading.Event()  # it dropped: stop trying, the result is void
        self.done = threading.Event()
        self.result: _Check | None = None
        self._run = run
        self._on_done = on_done
        self._thread = threading.Thread(target=self._main, name="settle-check", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        try:
            self.result = self._run(self)
        except Exception:
            log.exception("the factory-state check failed; judged again at the verify step")
        finally:
            self.done.set()
            self._on_done()  # wait_back waits on the poller: let it look now

    def stop(self, timeout_s: float) -> None:
        self.discarded.set()
        self._thread.join(timeout_s)


def _same_decision(a: SadpReply, b: SadpReply) -> bool:
    """Would the two replies be judged alike (same unit, firmware, activation, web address)?"""
    keys = ("mac", "device_sn", "firmware", "activated", "ipv4", "http_port")
    return all(getattr(a, k) == getattr(b, k) for k in keys)


class NetworkVerifier(Verifier):
    def __init__(
        self,
        poller: SadpPoller,
        *,
        settle_s: float = 0.5,
        http_timeout_s: float = 5.0,
        isapi: IsapiFactory | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        cancel: threading.Event | None = None,
        claims: MacClaims | None = None,
    ) -> None:
        super().__init__()
        self._poller = poller
        self._settle_s = settle_s
        self._http_timeout_s = http_timeout_s
        self._claims = claims or MacClaims()
        self._isapi = isapi or (
            lambda host, port: IsapiClient(host, port, timeout_s=http_timeout_s)
        )
        self._now = monotonic
        self._cancel = cancel or threading.Event()
        self._scanned: str | None = None
        self._mac: str | None = None
        self._method = "none"
        self._before: dict[str, SadpReply] = {}
        self._cut_at: float | None = None
        self._ambiguous: list[str] = []
        self._vanished: list[str] = []  # vanished at the cut while the scanned unit was unseen
        self._released_at: float | None = None
        self._seen_at: float | None = None  # when the picture in `_before` was taken
        self._back: SadpReply | None = None
        self._check: _SettleCheck | None = None  # the checks made in the settle window
        self._voided: list[_SettleCheck] = []  # checks of a unit that dropped, to join
        self._checks_in_settle = False

    @property
    def poller(self) -> SadpPoller:
        return self._poller

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def needs_cut_slot(self) -> bool:
        # Known by its MAC, the unit needs no "the one that vanished" at its cut.
        return self._mac is None

    def _known(self, mac: str) -> None:
        """The unit in the bay is `mac`: claimed, so no other bay takes it as theirs."""
        self._mac = mac
        self._claims.claim(mac, self)

    def close(self) -> None:
        # Nothing left running: the checks' thread ends within its HTTP call's timeout.
        self._discard_check()
        for check in self._voided:
            check.stop(self._http_timeout_s + 1.0)
        self._voided.clear()
        self._claims.release(self)

    def _one_more_poll(self) -> None:
        """Wait for the poll after this one (a second unit going now makes it ambiguous)."""
        after = self._poller.polls + 1
        self._wait(lambda _: self._poller.polls >= after, self._poll_bound_s(2))

    def _poll_bound_s(self, polls: int) -> float:
        """A bound on `polls` polls at the rate in force (plus a window in flight)."""
        poller = self._poller
        # A slow window may still be in flight (a prober that cannot be woken).
        return poller.period_s * polls + poller.window_s

    def _wait(self, predicate: Callable[[dict[str, SadpReply]], bool], timeout_s: float) -> bool:
        """The poller's wait, cut short (Aborted) when the station is stopping."""
        done = self._poller.wait_for(
            lambda present: self._cancel.is_set() or predicate(present), timeout_s
        )
        if self._cancel.is_set():
            raise Aborted("the station is stopping")
        return done

    # -- evidence ---------------------------------------------------------------------------

    def _note(self, check: str, **details: Any) -> None:
        self.evidence.append({"check": check, "at": round(self._now(), 4), **details})

    def _adopt(self, reply: SadpReply) -> None:
        self.unit = Unit(
            serial=reply.device_sn,
            mac=reply.mac,
            model=reply.model,
            firmware=reply.firmware,
            ip=reply.ipv4,
            activated=reply.activated,
        )

    def _matches(self, reply: SadpReply) -> bool:
        if self._mac is not None:
            return reply.mac == self._mac
        return self._scanned is not None and reply.matches_serial(self._scanned)

    def _ours(self, present: dict[str, SadpReply]) -> SadpReply | None:
        return next((r for r in present.values() if self._matches(r)), None)

    # -- identify, before the cut -----------------------------------------------------------

    def identify(self, scanned_serial: str | None, *, cut: bool = True) -> Unit:
        self._scanned = scanned_serial.strip() if scanned_serial else None
        # A bay's procedure judges with judge() as soon as wait_back says the unit is back, so
        # its checks may start in the settle window. (A software reset finds its unit without
        # identify(), and a basic restore judges otherwise: no ISAPI call it did not ask for.)
        self._checks_in_settle = True
        # The poller must have listened two full windows (a unit may miss one probe); at a
        # station it has been running all along and its picture is already current. Just
        # after the start, a unit already answering by the name it was given (its scanned
        # serial, its port's MAC) needs no second poll: the first unit pays no warm-up. And
        # the picture may be a slow poll old when a unit just swapped in is scanned (it
        # answers the next probe): two fast polls more before calling it silent, so its
        # model (and the hold learned for it) is known before the press.
        polls = self._poller.polls
        stale = self._scanned is not None and not self._named_unit_in(self._poller.present())
        if polls < 2 or stale:
            after = 2 if polls < 2 else polls + 2
            with self._poller.expecting("identify"):
                self._wait(
                    lambda present: self._poller.polls >= after or self._named_unit_in(present),
                    self._poll_bound_s(4),
                )
        self._before = self._poller.present()
        self._seen_at = self._now()
        self._note("present_before_cut", macs=sorted(self._before))
        if self.port is not None and self.port[1]:
            return self._identify_by_port(*self.port)
        if self.port is not None:
            # Nothing learned on the port (a unit silent since the switch aged it out): the
            # other ways below still name it.
            self._note("identity", method="switch port", port=self.port[0], macs=[])
        if self._scanned is not None:
            matches = [r for r in self._before.values() if r.matches_serial(self._scanned)]
            if len(matches) > 1:
                raise UnitNotIdentified(
                    f"serial {self._scanned!r} matches {len(matches)} units on the network"
                )
            if matches:
                self._known(matches[0].mac)
                self._method = "scanned serial"
                self._adopt(matches[0])
                self._note("identity", method=self._method, sadp_xml=matches[0].xml)
            else:
                before = "before the cut" if cut else "before the press"
                self._method = f"scanned serial (not answering {before})"
                self.unit = Unit(serial=self._scanned)
                self._note("identity", method=self._method)
            return self.unit
        if not self._before:
            before = "before the cut" if cut else "before the press"
            raise UnitNotIdentified(f"no unit answered SADP {before} and no serial was scanned")
        if cut:
            self._method = "the unit that vanishes at the power cut"
        elif len(self._before) == 1:
            # No cut to tell it by: the one unit on the network is the one in the bay.
            [reply] = self._before.values()
            self._known(reply.mac)
            self._method = "the one unit answering before the press"
            self._adopt(reply)
            self._note("identity", method=self._method, mac=reply.mac, sadp_xml=reply.xml)
            return self.unit
        else:
            self._method = "the unit that goes down after the press and comes back"
        self._note("identity", method=self._method)
        return self.unit

    def mac_of(self, serial: str | None) -> str | None:
        if not serial:
            return None
        matches = [mac for mac, r in self._poller.present().items() if r.matches_serial(serial)]
        return matches[0] if len(matches) == 1 else None

    def _named_unit_in(self, present: dict[str, SadpReply]) -> bool:
        if self.port is not None and self.port[1]:
            return any(mac in present for mac in self.port[1])
        scanned = self._scanned
        return scanned is not None and any(r.matches_serial(scanned) for r in present.values())

    @property
    def known_by(self) -> str | None:
        return None if self._method == "none" else self._method

    def _identify_by_port(self, where: str, macs: tuple[str, ...]) -> Unit:
        """The unit is the MAC the switch learned on the bay's port. A scanned serial must be
        that MAC's; several MACs on the port are told apart only by a scan naming one."""
        scanned = self._scanned
        matches = [r for r in self._before.values() if r.matches_serial(scanned)] if scanned else []
        if len(matches) > 1:
            raise UnitNotIdentified(f"serial {scanned!r} matches {len(matches)} units on SADP")
        scanned_mac = matches[0].mac if matches else None
        if len(macs) > 1:
            if scanned_mac is None or scanned_mac not in macs:
                why = f"none is the scanned {scanned}" if scanned else "scan the unit's label"
                raise UnitNotIdentified(f"{len(macs)} MACs on {where} ({', '.join(macs)}): {why}")
            mac = scanned_mac
        else:
            [mac] = macs
            if scanned_mac is not None and scanned_mac != mac:
                raise UnitNotIdentified(
                    f"the scanned {scanned} is {scanned_mac}, but the unit on {where} is {mac}"
                )
        self._known(mac)
        self._method = "switch port"
        reply = self._before.get(mac)
        if reply is not None:
            self._adopt(reply)
        else:
            self.unit = Unit(mac=mac, serial=scanned)
        self._note(
            "identity",
            method=self._method,
            mac=mac,
            port=where,
            port_macs=list(macs),
            scanned_serial=scanned,
            sadp_xml=reply.xml if reply is not None else None,
        )
        return self.unit

    # -- after the cut ------------------------------------------------------------------------

    def wait_gone(self, min_wait_s: float) -> bool:
        self._cut_at = self._now()
        with self._poller.expecting("power cut"):
            return self._wait_gone(min_wait_s)

    def _wait_gone(self, min_wait_s: float) -> bool:
        assert self._cut_at is not None
        cut_at = self._cut_at
        poller = self._poller
        # The poller needs `misses_to_vanish` silent polls (plus the one in flight) to call a
        # unit gone, at the rate in force (fast: we are expecting); the off time may be
        # shorter than that, the bound may not.
        bound_s = max(min_wait_s, self._poll_bound_s(poller.misses_to_vanish + 2))
        if self._mac is not None:
            mac = self._mac
            gone = self._wait(lambda present: mac not in present, bound_s)
            self._note("power_cut", mac=mac, vanished=gone, bound_s=round(bound_s, 3))
            return gone
        if self._scanned is not None:
            # The scanned unit was not answering: whatever vanishes now is in this bay, and if
            # it comes back with another serial, the scan and the bay disagree.
            if self._before:
                self._wait(lambda _: bool(self._vanished_since(cut_at)), bound_s)
            self._vanished = sorted(self._vanished_since(cut_at))
            self._note("power_cut", vanished_macs=self._vanished, note="scanned unit not seen")
            return True
        self._wait(lambda _: bool(self._vanished_since(cut_at)), bound_s)
        # Wait out one more (fast) poll: a second unit vanishing now makes it ambiguous.
        self._one_more_poll()
        vanished = sorted(self._vanished_since(cut_at))
        self._note("power_cut", vanished_macs=vanished, bound_s=round(bound_s, 3))
        if len(vanished) == 1:
            self._known(vanished[0])
            reply = self._before[vanished[0]]
            self._adopt(reply)
            self._note("identity", method=self._method, mac=reply.mac, sadp_xml=reply.xml)
            return True
        if len(vanished) > 1:
            self._ambiguous = vanished
            return True  # the power did cut; whose unit it was is the verdict's problem
        return False

    def _vanished_since(self, since: float) -> set[str]:
        """The units seen before the cut (or press) that have vanished since `since`, but
        for those another bay's verifier knows as its own (their cuts overlap ours)."""
        theirs = self._claims.others(self)
        return {
            e.mac
            for e in self._poller.events_since(since)
            if e.kind == "vanished" and e.mac in self._before and e.mac not in theirs
        }

    # -- after the release ------------------------------------------------------------------

    def wait_back(self, timeout_s: float) -> Verdict | None:
        if self._ambiguous:
            return Verdict(
                Outcome.WRONG_DEVICE,
                f"identity ambiguous: {len(self._ambiguous)} units vanished at the cut "
                f"({', '.join(self._ambiguous)})",
            )
        self._released_at = self._now()
        with self._poller.expecting("boot"):
            return self._wait_back(timeout_s)

    def _wait_back(self, timeout_s: float) -> Verdict | None:
        assert self._released_at is not None
        deadline = self._released_at + timeout_s
        cycles = 0  # came back, then went again
        if self._cut_at is None and self._mac is None and not self._scanned:
            # No power cut and several units up before the press: the unit in the bay is the
            # one that goes down now (it reboots itself after the release).
            verdict = self._the_one_that_reboots(timeout_s)
            if verdict is not None:
                return verdict
        elif self._cut_at is None and self._mac is not None:
            # No power cut (running-hold): the unit resets and reboots on its own once held
            # long enough; the reply of the old boot must not count as the new one. It may
            # have gone (and even come back) already, while the pin was still down.
            mac = self._mac
            gone = self._wait(
                lambda present: mac in self._went_down() or mac not in present, timeout_s
            )
            self._note("rebooting", mac=self._mac, vanished=gone)
        while True:
            remaining = deadline - self._now()
            if remaining <= 0 or not self._wait(self._ours_or_bays, remaining):
                return self._not_back(timeout_s, cycles)
            present = self._poller.present()
            reply = self._ours(present)
            if reply is None:
                if stranger := next((m for m in self._vanished if m in present), None):
                    return Verdict(
                        Outcome.WRONG_DEVICE,
                        f"the unit in the bay ({stranger}, {present[stranger].device_sn}) is not"
                        f" the scanned {self._scanned}",
                    )
                continue
            self._note("back", mac=reply.mac, after_s=round(self._now() - self._released_at, 3))
            if self._stays_up(reply):
                return None
            cycles += 1
            self._note("dropped_again", mac=reply.mac, cycles=cycles)
            if cycles >= LOOP_CYCLES:
                return Verdict(
                    Outcome.REBOOT_LOOP,
                    f"came back and went again {cycles} times",
                    {"cycles": cycles},
                )

    def _stays_up(self, reply: SadpReply) -> bool:
        """Does the unit just back stay up for the settle time (and its checks)?

        The checks start now, on a thread, and the verdict is kept for judge() if the unit
        stays up the whole settle time and until they end. The whole settle time, even past
        the boot timeout (which bounds the coming back, not the staying up): cut short, a unit
        back at the last moment that drops again would be judged, and recorded
        reset_verified. A drop meanwhile voids the checks: the unit is looping, not booted.
        """
        mac = reply.mac
        if not self._checks_in_settle:
            if self._wait(_without(mac), self._settle_s):
                return False
            self._back = self._ours(self._poller.present()) or reply
            return True
        settle_end = self._now() + self._settle_s
        self._discard_check()
        before = dataclasses.replace(self.unit)
        check = self._check = _SettleCheck(
            lambda c: self._factory_check(reply, before, settle_end=settle_end, check=c),
            self._poller.notify_waiters,
        )
        if self._wait(_without(mac), self._settle_s):
            self._discard_check()
            return False
        # Settled; the checks may still run (the web server slower than SADP): the unit must
        # stay up until they end. Each call is bounded by the HTTP timeout.
        bound_s = 2 * self._http_timeout_s + self._settle_s + 1.0
        self._wait(lambda present: mac not in present or check.done.is_set(), bound_s)
        if mac not in self._poller.present():
            self._discard_check()
            return False
        self._back = self._ours(self._poller.present()) or reply
        return True

    def _discard_check(self) -> None:
        """Void the checks in progress: they stop trying; an HTTP call in flight ends on its
        own (bounded by the timeout) and close() waits for it."""
        if self._check is not None:
            self._check.discarded.set()
            self._voided.append(self._check)
            self._check = None

    def _the_one_that_reboots(self, timeout_s: float) -> Verdict | None:
        """Name the unit that drops off SADP after the press (a unit may start its reset while
        still held, or after the release); a verdict if none or several do (then nothing
        shows which unit the bay holds)."""
        # Gone off SADP since the press, but for units other bays know as theirs (a cut there).
        went = self._wait(lambda _: bool(self._went_down()), timeout_s)
        if went:
            # Wait out one more (fast) poll: a second unit going down now makes it ambiguous.
            self._one_more_poll()
        vanished = sorted(self._went_down())
        self._note("rebooting", vanished_macs=vanished)
        if not vanished:
            return Verdict(
                Outcome.NOT_RESET,
                f"no unit went down within {timeout_s:g} s of the release: the hold reset nothing",
            )
        if len(vanished) > 1:
            return Verdict(
                Outcome.WRONG_DEVICE,
                f"identity ambiguous: {len(vanished)} units went down after the press "
                f"({', '.join(vanished)})",
            )
        self._known(vanished[0])
        reply = self._before[vanished[0]]
        self._adopt(reply)
        self._note("identity", method=self._method, mac=reply.mac, sadp_xml=reply.xml)
        return None

    def _went_down(self) -> set[str]:
        """The units seen before the press that have dropped off SADP since (running hold)."""
        assert self._seen_at is not None
        return self._vanished_since(self._seen_at)

    def _ours_or_bays(self, present: dict[str, SadpReply]) -> bool:
        return self._ours(present) is not None or any(m in present for m in self._vanished)

    def _not_back(self, timeout_s: float, cycles: int) -> Verdict:
        if cycles:
            return Verdict(
                Outcome.REBOOT_LOOP,
                f"came back and went again {cycles} time(s), not up at the end of {timeout_s:g} s",
                {"cycles": cycles},
            )
        if self._mac is not None:
            # The unit in the bay is known by its MAC and did not come back. Whoever else
            # appeared meanwhile is not evidence against it: at a station every other bay's
            # units come and go on the same LAN.
            return Verdict(Outcome.NO_RESPONSE, f"did not come back within {timeout_s:g} s")
        newcomers = sorted(
            {
                e.mac
                for e in self._poller.events
                if e.kind == "appeared"
                and self._released_at is not None
                and e.at >= self._released_at
                and e.mac not in self._before
            }
        )
        if newcomers:
            return Verdict(
                Outcome.WRONG_DEVICE,
                f"not the unit in the bay: {', '.join(newcomers)} answered instead",
                {"newcomers": newcomers},
            )
        return Verdict(Outcome.NO_RESPONSE, f"did not come back within {timeout_s:g} s")

    # -- the verdict --------------------------------------------------------------------------

    def judge(self) -> Verdict:
        check = self._settled_check()
        if check is None:
            reply = self._back or self._ours(self._poller.present())
            if reply is None:
                return Verdict(Outcome.NO_RESPONSE, "gone again before it could be checked")
            check = self._factory_check(reply, self.unit)
        self._adopt(check.reply)
        if check.inactive:
            self.unit.activated = False
        self.evidence.extend(check.notes)
        return check.verdict

    def _settled_check(self) -> _Check | None:
        """The verdict of the checks made while the unit settled, if it still stands: made of
        the reply SADP still gives (or with a login, which is never sent twice)."""
        check, self._check = self._check, None
        if check is None:
            return None
        check.stop(self._http_timeout_s + 1.0)  # ended already, unless wait_back was cut short
        result = check.result if check.done.is_set() else None
        if result is None:
            return None
        if result.logged_in or self._back is None or _same_decision(result.reply, self._back):
            return result
        return None

    def _factory_check(
        self,
        reply: SadpReply,
        before: Unit,
        *,
        settle_end: float | None = None,
        check: _SettleCheck | None = None,
    ) -> _Check:
        """Is `reply` the unit in the bay, in factory state? The evidence goes into the
        result's notes, not the job's (a check voided by a drop leaves none).

        `settle_end`: made while the unit settles; a call without an HTTP answer is tried
        again until one starts at or after it (`check` is how it is called off)."""
        result = _Check(reply, Verdict(Outcome.NO_RESPONSE, "not checked"))

        def note(what: str, **details: Any) -> None:
            result.notes.append({"check": what, "at": round(self._now(), 4), **details})

        note("sadp_after", sadp_xml=reply.xml)
        if self._scanned is not None and not reply.matches_serial(self._scanned):
            result.verdict = Verdict(
                Outcome.WRONG_DEVICE,
                f"MAC {reply.mac} came back with serial {reply.device_sn}, not {self._scanned}",
            )
            return result
        # A unit not heard on SADP before the cut (known by its port's MAC, or by the scan
        # alone) carries the label's serial, the end of the DeviceSN: checked just above.
        known_by_label = before.serial is not None and before.serial == self._scanned
        if (
            before.serial
            and reply.device_sn
            and not known_by_label
            and before.serial != reply.device_sn
        ):
            result.verdict = Verdict(
                Outcome.WRONG_DEVICE,
                f"MAC {reply.mac} came back with serial {reply.device_sn}, not {before.serial}",
            )
            return result
        evidence: dict[str, Any] = {
            "identity": self._method,
            "firmware": reply.firmware,
            "firmware_before": before.firmware,
        }
        retry = _Retry(self, settle_end, check)
        if _judged_by_activation(reply):
            result.verdict = self._judge_activation(reply, evidence, result, note, retry)
        else:
            evidence["sadp_activated"] = reply.activated
            result.verdict = self._judge_default_login(reply, evidence, result, note, retry)
        return result

    def _client(self, reply: SadpReply) -> IsapiClient | None:
        if not reply.ipv4 or not reply.http_port:
            return None
        return self._isapi(reply.ipv4, reply.http_port)

    def _judge_activation(
        self,
        reply: SadpReply,
        evidence: dict[str, Any],
        result: _Check,
        note: Callable[..., None],
        retry: _Retry,
    ) -> Verdict:
        evidence["sadp_activated"] = reply.activated
        if reply.activated is True:
            return Verdict(Outcome.NOT_RESET, "still activated (SADP)", evidence)
        activated: bool | None = None
        if reply.ipv4 and reply.http_port:
            while True:
                client = self._client(reply)
                assert client is not None
                started = self._now()
                with client:
                    activated, exchange = client.activate_status()
                if not retry.again(started, exchange):
                    break
            note("activate_status", **exchange.as_dict(), **retry.attempts_note())
            evidence["isapi_activated"] = activated
        if activated is True:
            return Verdict(Outcome.NOT_RESET, "still activated (ISAPI activateStatus)", evidence)
        if reply.activated is None and activated is None:
            return Verdict(
                Outcome.NOT_RESET, "activation state unknown: SADP and ISAPI did not say", evidence
            )
        result.inactive = True
        how = "SADP and activateStatus" if activated is False else "SADP (web port unreachable)"
        return Verdict(Outcome.RESET_VERIFIED, f"inactive: factory state ({how})", evidence)

    def _judge_default_login(
        self,
        reply: SadpReply,
        evidence: dict[str, Any],
        result: _Check,
        note: Callable[..., None],
        retry: _Retry,
    ) -> Verdict:
        if not reply.ipv4 or not reply.http_port:
            return Verdict(Outcome.NO_RESPONSE, "no web address in its SADP reply", evidence)
        while True:
            client = self._client(reply)
            assert client is not None
            started = self._now()
            with client:
                info, exchange, lock = client.device_info(FACTORY_USER, FACTORY_PASSWORD)
            # An HTTP answer (200, 401, a lock) or credentials sent: this check's one login.
            result.logged_in = exchange.login_attempts > 0 or exchange.status is not None
            if result.logged_in or not retry.again(started, exchange):
                break
        note(
            "factory_login",
            user=FACTORY_USER,
            password="<factory default>",
            **exchange.as_dict(),
            **retry.attempts_note(),
        )
        evidence["factory_login_status"] = exchange.status
        if info is not None and exchange.status == 200:
            if reply.device_sn and info.serial and info.serial != reply.device_sn:
                return Verdict(
                    Outcome.WRONG_DEVICE,
                    f"the web answer is from {info.serial}, not {reply.device_sn}",
                    evidence,
                )
            return Verdict(
                Outcome.RESET_VERIFIED,
                "the factory default login works (firmware < 5.3)",
                evidence,
            )
        if lock is not None and lock.locked:
            evidence["lock_s"] = lock.unlock_s
            return Verdict(
                Outcome.NOT_RESET,
                f"the camera has locked this rig out ({lock.unlock_s} s left)",
                evidence,
            )
        if exchange.status == 401:
            return Verdict(Outcome.NOT_RESET, "the factory login was refused", evidence)
        return Verdict(
            Outcome.NO_RESPONSE,
            f"web port did not answer: {exchange.error or exchange.status}",
            evidence,
        )


class _Retry:
    """When a check's ISAPI call is tried again: only while the unit settles, only if it got
    no HTTP answer at all (the web server not up yet), and until one attempt has started at or
    after the settle's end (so the last is never earlier than a single check then would be)."""

    def __init__(
        self, verifier: NetworkVerifier, settle_end: float | None, check: _SettleCheck | None
    ) -> None:
        self._verifier = verifier
        self._settle_end = settle_end
        self._check = check
        self.attempts = 0

    def again(self, started: float, exchange: Exchange) -> bool:
        self.attempts += 1
        if self._settle_end is None or exchange.status is not None or exchange.login_attempts:
            return False
        if started >= self._settle_end:
            return False
        if self._check is None:
            return False
        # Spaced, and called off at once by a drop (discarded) or the station stopping.
        if self._check.discarded.wait(RETRY_SPACING_S):
            return False
        return not self._verifier.cancelled

    def attempts_note(self) -> dict[str, int]:
        """The number of attempts, in the evidence only when there was more than one."""
        return {"attempts": self.attempts} if self.attempts > 1 else {}


def _judged_by_activation(reply: SadpReply) -> bool:
    """Does the unit's activation say whether it is in factory state (else the default login
    of firmware before activation does)?"""
    since_activation = is_activation_firmware(reply.firmware)
    if reply.activated is False:
        return True  # inactive is factory state, whatever its firmware is numbered
    if reply.activated is True:
        # Firmware before activation that says true anyway: the one default login decides.
        return since_activation is not False
    return bool(since_activation)  # says nothing: firmware 5.3 and later have activation


class NetworkWatch:
    """The station's one SADP socket and poller, shared by every bay's verifier."""

    def __init__(self, config: NetworkConfig) -> None:
        self.config = config
        self.client = SadpClient(
            config.sadp_target, source=config.sadp_source, interface=config.sadp_interface
        )
        self.poller = SadpPoller(
            self.client, poll_s=config.sadp_poll_s, fast_poll_s=config.sadp_fast_poll_s
        )
        # The MACs every bay's verifier knows as its unit: cuts that take no slot overlap.
        self.claims = MacClaims()

    def __enter__(self) -> NetworkWatch:
        self.poller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.poller.stop()
        self.client.close()

    def verifier(self, cancel: threading.Event | None = None) -> NetworkVerifier:
        return NetworkVerifier(
            self.poller,
            settle_s=self.config.settle_s,
            http_timeout_s=self.config.http_timeout_s,
            cancel=cancel,
            claims=self.claims,
        )
