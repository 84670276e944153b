"""Detection close to the wire (issue 17): the SADP poller polls fast only while a unit is
expected to go or come back, the factory-state checks run inside the settle window, and a unit
known by its MAC takes no power-cut slot.

Every assertion is on counts, orders, events and states. Where real time runs (the poller's
thread, the simulated cameras), waits have generous bounds against a hang, never a speed check:
a loaded 2-core machine only makes these tests slower.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from rig.clock import FakeClock
from rig.config import ConfigError, NetworkConfig, parse_config
from rig.job import Plan, ProcedureName, Unit
from rig.network.isapi import DeviceInfo, Exchange, IsapiClient, LockInfo
from rig.network.sadp import SadpClient, SadpPoller, SadpReply, parse_probe_match
from rig.outcomes import Outcome
from rig.procedures import BAY_PROCEDURES
from rig.records.store import RecordStore
from rig.runner import JobRunner
from rig.sim.bench import rig_toml
from rig.sim.camera import CameraSpec, SimCamera
from rig.sim.network import SimNetwork
from rig.station import CUT_MARGIN_S, CutGate, cut_spacing_for
from rig.verify.manual import ManualVerifier
from rig.verify.network import MacClaims, NetworkVerifier
from tests.fakes import ScriptedOperator, ScriptedVerifier, wait_until
from tests.test_procedure import make_bay
from tests.test_sadp import probe_match

HANG_S = 20.0  # a bound against a hang; far longer than anything here takes


def reply(n: int, **changes: Any) -> SadpReply:
    mac = f"44-19-b6-00-00-{n:02x}"
    parsed = parse_probe_match(probe_match(mac=mac))
    return dataclasses.replace(
        parsed, device_sn=f"DS-2CD2143G2-I20230815AAWRJ1234567{n}", **changes
    )


def label(r: SadpReply) -> str:
    assert r.device_sn is not None
    return r.device_sn[-13:]


class FakeLan:
    """A prober over a LAN whose units the test switches on and off.

    Each probe is logged with its window; a window waits on an event, so it ends when its
    time is up or when the poller wakes it (wake() ends the window in progress, or the next
    one, as SadpClient's does). A slow window can be made to never end on its own
    (`endless_slow_over`): then only a wake ends it.
    """

    def __init__(self, *units: SadpReply, endless_slow_over: float | None = None) -> None:
        self.units = {u.mac: u for u in units}
        self.log: list[tuple[str, float]] = []  # ("probe", window) / ("woken", window)
        self.cond = threading.Condition()
        self._woken = threading.Event()
        self.endless_slow_over = endless_slow_over

    def probe(
        self, window_s: float, on_reply: Callable[[SadpReply], None] | None = None
    ) -> list[SadpReply]:
        with self.cond:
            self.log.append(("probe", window_s))
            answering = list(self.units.values())
            self.cond.notify_all()
        for unit in answering:
            if on_reply is not None:
                on_reply(unit)
        endless = self.endless_slow_over is not None and window_s > self.endless_slow_over
        woken = self._woken.wait(None if endless else window_s)
        with self.cond:
            if woken:
                self._woken.clear()
                self.log.append(("woken", window_s))
            self.cond.notify_all()
        return answering

    def wake(self) -> bool:
        self._woken.set()
        return True

    def clear_wake(self) -> None:
        self._woken.clear()

    def probes(self) -> list[float]:
        with self.cond:
            return [w for what, w in self.log if what == "probe"]

    def wait_log(self, predicate: Callable[[list[tuple[str, float]]], bool]) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: predicate(list(self.log)), HANG_S)

    def remove(self, unit: SadpReply) -> None:
        with self.cond:
            self.units.pop(unit.mac, None)

    def add(self, unit: SadpReply) -> None:
        with self.cond:
            self.units[unit.mac] = unit


# -- the poller's two rates ------------------------------------------------------------------


def test_fast_only_while_expected_and_slow_again_after() -> None:
    lan = FakeLan(reply(1))
    poller = SadpPoller(lan, poll_s=0.2, fast_poll_s=0.02)
    with poller:
        # The first polls after start are fast (the first unit pays no warm-up), then slow.
        assert lan.wait_log(lambda log: len([e for e in log if e[0] == "probe"]) >= 3)
        assert lan.probes()[:3] == [0.02, 0.02, 0.2]
        assert wait_until(lambda: poller.slow_polls >= 1, HANG_S) is not None
        assert poller.fast_polls == 2
        with poller.expecting("a cut"):
            with poller.expecting("nested"):  # re-entrant, counted
                assert poller.expected == {"a cut": 1, "nested": 1}
            assert poller.fast and poller.period_s == 0.02
            fast_before = poller.fast_polls
            assert wait_until(lambda: poller.fast_polls >= fast_before + 5, HANG_S) is not None
        assert poller.expected == {} and not poller.fast
        # Back to slow: after the window in flight, only slow polls.
        slow_then = poller.slow_polls
        assert wait_until(lambda: poller.slow_polls >= slow_then + 1, HANG_S) is not None
        fast_after = poller.fast_polls
        slow_mark = poller.slow_polls
        assert wait_until(lambda: poller.slow_polls >= slow_mark + 2, HANG_S) is not None
        assert poller.fast_polls == fast_after
    assert not poller.running
    assert poller.probes == len(lan.probes())


def test_expecting_from_other_threads_is_counted() -> None:
    poller = SadpPoller(FakeLan(), poll_s=0.2, fast_poll_s=0.02)
    inside, leave = threading.Barrier(3), threading.Event()

    def expect(reason: str) -> None:
        with poller.expecting(reason):
            inside.wait(HANG_S)
            leave.wait(HANG_S)

    threads = [threading.Thread(target=expect, args=(r,)) for r in ("bay A", "bay B")]
    for t in threads:
        t.start()
    inside.wait(HANG_S)
    assert poller.expected == {"bay A": 1, "bay B": 1}
    leave.set()
    for t in threads:
        t.join(HANG_S)
    assert poller.expected == {}


def test_entering_expecting_ends_a_slow_window_and_probes_at_once() -> None:
    # Slow windows never end on their own here: only a wake can bring the next probe.
    lan = FakeLan(reply(1), endless_slow_over=1.0)
    poller = SadpPoller(lan, poll_s=600.0, fast_poll_s=0.02)
    with poller:
        assert lan.wait_log(lambda log: log[-1:] == [("probe", 600.0)])  # a slow window runs
        with poller.expecting("a cut"):
            assert lan.wait_log(lambda log: ("woken", 600.0) in log and log[-1][1] == 0.02)
        # In order: two warm-up polls, the slow window, woken, then fast probes.
        assert lan.log[:4] == [("probe", 0.02), ("probe", 0.02), ("probe", 600.0), ("woken", 600.0)]
        assert lan.log[4] == ("probe", 0.02)


def test_entering_expecting_ends_the_wait_between_polls() -> None:
    # Short windows, a long period: the thread waits between polls, and is nudged out of it.
    lan = FakeLan(reply(1))
    poller = SadpPoller(lan, poll_s=600.0, fast_poll_s=0.02, window_s=0.02)
    with poller:
        assert wait_until(lambda: poller.slow_polls >= 1, HANG_S) is not None
        probes = len(lan.probes())
        with poller.expecting("a boot"):
            assert wait_until(lambda: len(lan.probes()) >= probes + 2, HANG_S) is not None


def test_the_real_client_is_woken_out_of_a_long_window() -> None:
    camera = SimCamera(CameraSpec.sample(1)).start()
    try:
        with SimNetwork([camera]) as network, SadpClient(network.address) as client:
            with SadpPoller(client, poll_s=600.0, fast_poll_s=0.05) as poller:
                assert wait_until(lambda: poller.probes >= 3, HANG_S) is not None  # slow now
                with poller.expecting("a cut"):
                    fast = poller.fast_polls
                    assert wait_until(lambda: poller.fast_polls >= fast + 2, HANG_S) is not None
                assert client.stats.woken == 1
                assert camera.spec.mac in poller.present()
            assert not poller.running  # stop() woke the slow window too
    finally:
        camera.stop()


def test_a_late_answer_is_presence() -> None:
    poller = SadpPoller(FakeLan(), misses_to_vanish=2)
    unit = reply(1)
    poller.poll_once([unit])
    poller.poll_once([])  # one miss
    poller._arrived(unit)  # answered an earlier probe, late: the client reports it this way
    assert poller.poll_once([]) == []  # not a second miss: still present
    assert unit.mac in poller.present()
    poller.poll_once([])
    (gone,) = poller.poll_once([])
    assert gone.kind == "vanished"


def test_fast_poll_config() -> None:
    base = rig_toml(target="127.0.0.1:9", bays=[])
    assert parse_config(base, need_bays=False).network.sadp_fast_poll_s == 0.1
    text = rig_toml(target="127.0.0.1:9", bays=[], network={"sadp_fast_poll_s": 0.05})
    assert parse_config(text, need_bays=False).network.sadp_fast_poll_s == 0.05
    slow = rig_toml(
        target="127.0.0.1:9", bays=[], network={"sadp_poll_s": 0.2, "sadp_fast_poll_s": 0.3}
    )
    with pytest.raises(ConfigError, match="sadp_fast_poll_s"):
        parse_config(slow, need_bays=False)
    too_fast = rig_toml(target="127.0.0.1:9", bays=[], network={"sadp_fast_poll_s": 0.001})
    with pytest.raises(ConfigError, match="sadp_fast_poll_s"):
        parse_config(too_fast, need_bays=False)
    with pytest.raises(ValueError, match="fast_poll_s"):
        SadpPoller(FakeLan(), poll_s=0.1, fast_poll_s=0.2)


# -- the checks inside the settle window -----------------------------------------------------


class FakeWeb(IsapiClient):
    """A unit's web server as the verifier's ISAPI client sees it: each call answers the next
    scripted exchange (the last one again when the script runs out) and is logged with the
    verifier's clock."""

    def __init__(self, script: list[Exchange], activated: bool | None = False) -> None:
        super().__init__("127.0.0.1", 9)
        self.script = script
        self.activated = activated
        self.calls: list[tuple[str, float]] = []
        self.called = threading.Event()

    def factory(self, host: str, port: int) -> IsapiClient:
        return self

    def _next(self, what: str) -> Exchange:
        self.calls.append((what, time.monotonic()))
        self.called.set()
        exchange = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        return dataclasses.replace(exchange)

    def activate_status(self) -> tuple[bool | None, Exchange]:
        exchange = self._next("activate_status")
        return (self.activated if exchange.status == 200 else None), exchange

    def device_info(
        self, user: str, password: str
    ) -> tuple[DeviceInfo | None, Exchange, LockInfo | None]:
        exchange = self._next("device_info")
        return None, exchange, None


OK = Exchange("GET", "/SDK/activateStatus", status=200)
REFUSED = Exchange("GET", "/SDK/activateStatus", error="connection failed: Connection refused")
LOGIN_REFUSED = Exchange(
    "GET", "/ISAPI/System/deviceInfo", status=401, error="HTTP 401: login refused", login_attempts=1
)
LOGIN_NOT_UP = Exchange(
    "GET", "/ISAPI/System/deviceInfo", error="connection failed: Connection refused"
)
OLD_FIRMWARE = "V5.2.5build 141201"


@pytest.fixture
def lan_poller() -> Iterator[tuple[FakeLan, SadpPoller]]:
    lan = FakeLan()
    poller = SadpPoller(lan, poll_s=0.05, fast_poll_s=0.02)
    with poller:
        yield lan, poller


def cut_and_release(lan: FakeLan, verifier: NetworkVerifier, unit: SadpReply) -> None:
    """Identify the unit, see it vanish at its cut; it is off until the test brings it back."""
    verifier.identify(label(unit))
    lan.remove(unit)
    assert verifier.wait_gone(0.0)


def in_thread(call: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(call()), daemon=True)
    thread.start()
    return thread, out


def notes(verifier: NetworkVerifier, check: str) -> list[dict[str, Any]]:
    return [e for e in verifier.evidence if e["check"] == check]


def test_the_checks_run_inside_the_settle_window(lan_poller: tuple[FakeLan, SadpPoller]) -> None:
    lan, poller = lan_poller
    unit = reply(1, activated=False, ipv4="127.0.0.1", http_port=9)
    lan.add(unit)
    web = FakeWeb([OK])
    settle_s = 1.5
    verifier = NetworkVerifier(poller, settle_s=settle_s, isapi=web.factory)
    try:
        cut_and_release(lan, verifier, unit)
        waiting, back = in_thread(lambda: verifier.wait_back(HANG_S))
        lan.add(unit)
        waiting.join(HANG_S)
        assert back == [None]
        [back_note] = notes(verifier, "back")
        # The check was made once, and before the settle window ended (the back moment is on
        # the same clock as the calls: the verifier's monotonic).
        [(what, asked_at)] = web.calls
        assert what == "activate_status"
        assert asked_at < back_note["at"] + settle_s
        assert notes(verifier, "activate_status") == []  # evidence only once judged
        verdict = verifier.judge()
        assert len(web.calls) == 1  # the verify step made no call of its own
    finally:
        verifier.close()
    assert (verdict.outcome, verdict.reason) == (
        Outcome.RESET_VERIFIED,
        "inactive: factory state (SADP and activateStatus)",
    )
    assert [e["check"] for e in verifier.evidence][-3:] == ["back", "sadp_after", "activate_status"]
    [exchange] = notes(verifier, "activate_status")
    assert exchange["status"] == 200 and "attempts" not in exchange
    assert verifier.unit.activated is False and verifier.unit.mac == unit.mac


def test_a_drop_in_the_settle_voids_the_early_verdict(
    lan_poller: tuple[FakeLan, SadpPoller],
) -> None:
    lan, poller = lan_poller
    unit = reply(1, activated=False, ipv4="127.0.0.1", http_port=9)
    lan.add(unit)
    web = FakeWeb([OK])
    # A settle window far longer than the test: every drop below falls inside it.
    verifier = NetworkVerifier(poller, settle_s=600.0, isapi=web.factory)
    try:
        cut_and_release(lan, verifier, unit)
        waiting, back = in_thread(lambda: verifier.wait_back(HANG_S))
        for n in (1, 2):
            lan.add(unit)  # back: the checks start ...
            assert wait_until(lambda n=n: len(web.calls) >= n, HANG_S) is not None
            lan.remove(unit)  # ... and a verdict is ready, but it drops inside the settle
            dropped = wait_until(lambda n=n: len(notes(verifier, "dropped_again")) >= n, HANG_S)
            assert dropped is not None
        waiting.join(HANG_S)
        [verdict] = back
    finally:
        verifier.close()
    assert verdict is not None and verdict.outcome is Outcome.REBOOT_LOOP
    assert verdict.evidence == {"cycles": 2}
    # The voided checks left no evidence: nothing was judged.
    assert notes(verifier, "activate_status") == [] and notes(verifier, "sadp_after") == []


def test_no_http_answer_is_retried_until_the_settle_ends(
    lan_poller: tuple[FakeLan, SadpPoller],
) -> None:
    lan, poller = lan_poller
    unit = reply(1, activated=False, ipv4="127.0.0.1", http_port=9)
    lan.add(unit)
    web = FakeWeb([REFUSED])  # the web server never comes up
    settle_s = 0.3
    verifier = NetworkVerifier(poller, settle_s=settle_s, isapi=web.factory)
    try:
        cut_and_release(lan, verifier, unit)
        waiting, back = in_thread(lambda: verifier.wait_back(HANG_S))
        lan.add(unit)
        waiting.join(HANG_S)
        assert back == [None]
        verdict = verifier.judge()
    finally:
        verifier.close()
    [back_note] = notes(verifier, "back")
    starts = [at for _, at in web.calls]
    assert len(starts) >= 2
    # Every attempt but the last started inside the settle window; the last one not before
    # its end: never an earlier check than a single one at the end of the settle.
    assert all(at < back_note["at"] + settle_s for at in starts[:-1])
    assert starts[-1] >= back_note["at"] + settle_s - 1e-3
    [exchange] = notes(verifier, "activate_status")
    assert exchange["attempts"] == len(starts)
    assert exchange["error"] == REFUSED.error
    assert verdict.reason == "inactive: factory state (SADP (web port unreachable))"


def test_a_login_that_got_an_answer_is_never_repeated(
    lan_poller: tuple[FakeLan, SadpPoller],
) -> None:
    lan, poller = lan_poller
    unit = reply(1, activated=None, firmware=OLD_FIRMWARE, ipv4="127.0.0.1", http_port=9)
    lan.add(unit)
    # Not up at first (no HTTP answer, no credentials sent: tried again), then a 401.
    web = FakeWeb([LOGIN_NOT_UP, LOGIN_REFUSED])
    verifier = NetworkVerifier(poller, settle_s=1.0, isapi=web.factory)
    try:
        cut_and_release(lan, verifier, unit)
        waiting, back = in_thread(lambda: verifier.wait_back(HANG_S))
        lan.add(unit)
        waiting.join(HANG_S)
        assert back == [None]
        verdict = verifier.judge()
    finally:
        verifier.close()
    assert [what for what, _ in web.calls] == ["device_info", "device_info"]
    assert (verdict.outcome, verdict.reason) == (Outcome.NOT_RESET, "the factory login was refused")
    [login] = notes(verifier, "factory_login")
    assert login["status"] == 401 and login["login_attempts"] == 1
    assert login["password"] == "<factory default>"


def test_judge_without_a_settle_check_calls_once(lan_poller: tuple[FakeLan, SadpPoller]) -> None:
    """judge() called with no wait_back (no settle window): one call, as before."""
    lan, poller = lan_poller
    unit = reply(1, activated=False, ipv4="127.0.0.1", http_port=9)
    lan.add(unit)
    web = FakeWeb([REFUSED])
    verifier = NetworkVerifier(poller, settle_s=1.0, isapi=web.factory)
    verifier.identify(label(unit))
    verdict = verifier.judge()
    verifier.close()
    assert len(web.calls) == 1
    assert verdict.reason == "inactive: factory state (SADP (web port unreachable))"


# -- power cuts: slots only for units named by their vanishing ------------------------------


def test_cut_slots_only_for_units_not_known_by_mac(
    lan_poller: tuple[FakeLan, SadpPoller], operator: ScriptedOperator
) -> None:
    lan, poller = lan_poller
    unit = reply(1)
    lan.add(unit)
    by_serial, by_vanish = NetworkVerifier(poller), NetworkVerifier(poller)
    assert by_serial.needs_cut_slot and by_vanish.needs_cut_slot  # nothing known yet
    by_serial.identify(label(unit))
    by_vanish.identify(None)
    assert not by_serial.needs_cut_slot  # its MAC is known
    assert by_vanish.needs_cut_slot  # "the unit that vanishes at the power cut"
    assert not ManualVerifier(operator, bay="A").needs_cut_slot
    assert ScriptedVerifier(FakeClock()).needs_cut_slot  # the interface's default


def test_overlapping_cuts_known_and_vanishing_both_identify() -> None:
    """Bay A's unit is known by its scanned serial (no slot); bay B's is to be named by its
    vanishing. Their cuts land together: B must not take A's unit as its own."""
    cameras = [SimCamera(CameraSpec.sample(n, boot_s=0.2)).start() for n in (1, 2)]
    try:
        with (
            SimNetwork(cameras) as network,
            SadpClient(network.address) as client,
            SadpPoller(client, poll_s=0.2, fast_poll_s=0.05) as poller,
        ):
            claims = MacClaims()
            a = NetworkVerifier(poller, claims=claims)
            b = NetworkVerifier(poller, claims=claims)
            assert poller.wait_for(lambda present: len(present) == 2, HANG_S)
            a.identify(cameras[0].spec.device_sn[-13:])
            b.identify(None)
            assert not a.needs_cut_slot and b.needs_cut_slot
            for camera in cameras:  # both cuts at once
                camera.power_off()
            gone_a, out_a = in_thread(lambda: a.wait_gone(0.0))
            gone_b, out_b = in_thread(lambda: b.wait_gone(0.0))
            gone_a.join(HANG_S)
            gone_b.join(HANG_S)
            assert out_a == [True] and out_b == [True]
            assert a.unit.mac == cameras[0].spec.mac
            assert b.unit.mac == cameras[1].spec.mac  # not ambiguous: A's unit is A's
            assert not b.needs_cut_slot  # known now
            [cut_b] = [e for e in b.evidence if e["check"] == "power_cut"]
            assert cut_b["vanished_macs"] == [cameras[1].spec.mac]
            a.close()
            assert claims.others(b) == set()  # A released its claim
            b.close()
            assert claims.others(a) == set()
    finally:
        for camera in cameras:
            camera.stop()


class SlotLog:
    def __init__(self) -> None:
        self.slots = 0

    def __call__(self) -> None:
        self.slots += 1


class KnownVerifier(ScriptedVerifier):
    """A scripted verifier whose unit is, or is not, already known by its MAC."""

    def __init__(self, clock: FakeClock, *, known: bool) -> None:
        super().__init__(clock)
        self.known = known

    @property
    def needs_cut_slot(self) -> bool:
        return not self.known


@pytest.mark.parametrize("known", [True, False])
def test_a_known_unit_cut_takes_no_slot(
    known: bool, pins: MockFactory, clock: FakeClock, tmp_path: Path
) -> None:
    plan = Plan(ProcedureName.POWER_CYCLE_HOLD, off_s=5.0, hold_s=18.0, boot_timeout_s=180.0)
    slots = SlotLog()
    verifier = KnownVerifier(clock, known=known)
    procedure = BAY_PROCEDURES[plan.procedure](
        make_bay(pins, clock), verifier, plan, before_cut=slots
    )
    with RecordStore(tmp_path / "records") as store:
        report = JobRunner(store, clock, station="bench-1").run(
            procedure, bay="A", profile="DS-2CD2143G2-I"
        )
    assert report.result.outcome is Outcome.RESET_VERIFIED
    assert slots.slots == (0 if known else 1)


def test_cut_spacing_follows_the_fast_poll(clock: FakeClock) -> None:
    fast = NetworkConfig(sadp_fast_poll_s=0.05)
    # One unit seen vanishing at the fast rate (the poll in flight, then two misses) + margin.
    assert cut_spacing_for(fast) == pytest.approx(0.05 * 3 + CUT_MARGIN_S)
    gate = CutGate(clock, cut_spacing_for(fast))
    turns = []
    for _ in range(3):
        gate.wait_turn()
        turns.append(clock.monotonic())
    assert [round(b - a, 6) for a, b in itertools.pairwise(turns)] == [
        round(cut_spacing_for(fast), 6)
    ] * 2


def test_the_unit_is_not_claimed_before_it_is_known() -> None:
    claims = MacClaims()
    owner, other = object(), object()
    claims.claim("44-19-b6-00-00-01", owner)
    assert claims.others(other) == {"44-19-b6-00-00-01"}
    assert claims.others(owner) == set()
    claims.release(owner)
    assert claims.others(other) == set()
    assert Unit().mac is None


def test_a_port_unit_silent_before_the_cut_is_judged_by_its_label(
    lan_poller: tuple[FakeLan, SadpPoller],
) -> None:
    """Known by its switch port's MAC, not answering SADP before the cut, scanned: the unit
    carries the label's serial (the end of its DeviceSN) until it comes back with the whole
    one; that is the same unit, not a wrong device."""
    lan, poller = lan_poller
    unit = reply(3, activated=False, ipv4="127.0.0.1", http_port=9)
    web = FakeWeb([OK])
    verifier = NetworkVerifier(poller, settle_s=0.1, isapi=web.factory)
    try:
        verifier.on_port("sw1 port 5", (unit.mac,))
        identified = verifier.identify(label(unit))
        assert identified.serial == label(unit) and identified.mac == unit.mac
        assert verifier.wait_gone(0.0)
        waiting, back = in_thread(lambda: verifier.wait_back(HANG_S))
        lan.add(unit)
        waiting.join(HANG_S)
        assert back == [None]
        verdict = verifier.judge()
    finally:
        verifier.close()
    assert verdict.outcome is Outcome.RESET_VERIFIED, verdict.reason
    assert verifier.unit.serial == unit.device_sn


def test_a_unit_scanned_just_after_it_was_loaded_is_found_by_its_scan() -> None:
    """The picture may be a slow poll old when a unit just swapped in is scanned: identify
    polls fast for it before calling it silent, so it is known (model and all) before the
    press and its learned hold can apply."""
    lan = FakeLan()
    poller = SadpPoller(lan, poll_s=HANG_S, fast_poll_s=0.02)  # slow: never on its own
    with poller:
        assert lan.wait_log(lambda log: sum(1 for what, _ in log if what == "probe") >= 2)
        assert wait_until(lambda: poller.polls >= 2 and not poller.fast, HANG_S) is not None
        unit = reply(4)
        lan.add(unit)  # loaded now: the poller's picture does not have it yet
        assert unit.mac not in poller.present()
        verifier = NetworkVerifier(poller, settle_s=0.1)
        try:
            found = verifier.identify(label(unit))
        finally:
            verifier.close()
    assert verifier.known_by == "scanned serial"
    assert (found.mac, found.model) == (unit.mac, unit.model)
