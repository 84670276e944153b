"""Malformed and hostile network input, from the parsers up to a whole job.

tests/test_sadp.py and tests/test_isapi.py already throw random bytes, truncations and flipped
bytes of the reference captures at the parsers. This file goes where those stop:

- documents that are well-formed but lie (any field, any case, any namespace, values built to
  hurt: ports past 65535, addresses that are not addresses, MACs that name no unit): every
  value rig later *uses* comes out checked, or the document is refused with a ParseError;
- the same on the wire: the SADP client among hostile datagrams still finds the one real unit;
- web servers that answer slowly, never, or with 100 MB, met by the network verifier's judge
  and by a whole `rig reset`: the job ends with the right outcome and nothing hangs;
- a LAN that carries junk between the answers: the reset is still verified.

Everything binds to 127.0.0.1 (the suite's guard fails any other destination).
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rig.cli import main
from rig.errors import ParseError
from rig.network.isapi import (
    parse_activate_status,
    parse_device_info,
    parse_response_status,
    parse_user_check,
)
from rig.network.sadp import SadpClient, SadpPoller, SadpReply, parse_probe_match
from rig.outcomes import Outcome
from rig.sim.camera import CameraSpec, SimCamera
from rig.verify.network import NetworkVerifier
from tests.faults.kit import (
    BOOT_S,
    RESET_HOLD_S,
    Bay,
    Cameras,
    MockPinBay,
    assert_job_line,
    assert_no_traceback,
    assert_record,
    assert_safe,
    config_text,
    mock_pins,
    only_job,
    step,
    wire,
)
from tests.test_isapi import CameraServer, FakeCamera
from tests.test_sadp import DVR, DVR_MAC, LOCAL, Responder, probe_match

MAC_RE = re.compile(r"[0-9a-f]{2}(?:-[0-9a-f]{2}){5}")

# -- well-formed documents that lie -------------------------------------------------------------

# Values chosen to hurt whoever uses them next: an HTTP target, a MAC that is an identity, a
# boolean that decides an outcome.
NASTY_VALUES = [
    "",
    " ",
    "0",
    "-1",
    "65535",
    "65536",
    "99999999999999999999",
    "1e3",
    "0x50",
    "８０",  # full-width digits: str.isdigit() says yes, int() would take them
    "³",  # superscripts: str.isdigit() says yes, int() raises ValueError
    "²",
    "٨٠",  # Arabic-Indic digits: isdigit() yes, int() reads 80
    "127.0.0.1",
    "0.0.0.0",
    "255.255.255.255",
    "999.1.1.1",
    "127.1",
    "127.0.0.1\u00a0",
    "127.0.0.1:80",
    "::1",
    "http://127.0.0.1/",
    "true",
    "TRUE",
    "false",
    "yes",
    "1",
    "00-00-00-00-00-00",
    "ff:ff:ff:ff:ff:ff",
    "44-19-B6-00-00-01",
    "4419b6000001",
    "44-19-b6-00-00-01-02",
    "x" * 300,
    "<![CDATA[<MAC>44-19-b6-00-00-02</MAC>]]>",
]
xml_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"),
    max_size=40,
)
field_value = st.one_of(st.sampled_from(NASTY_VALUES), xml_text)
case = st.sampled_from([str, str.lower, str.upper, str.swapcase])
namespace = st.sampled_from(["", ' xmlns="http://www.hikvision.com/ver20/XMLSchema"'])


def element(tag: str, value: str) -> str:
    # CDATA is sent as is (the sender chose to); anything else is escaped as XML requires.
    body = value if value.startswith("<![CDATA[") else escape(value)
    return f"<{tag}>{body}</{tag}>"


SADP_FIELDS = ["Uuid", "MAC", "IPv4Address", "HttpPort", "Activated", "DHCP", "DeviceSN"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(  # HttpPort '³' once crashed with int()'s ValueError instead of reading as no port
    values={**dict.fromkeys(SADP_FIELDS, "u"), "MAC": "44-19-b6-00-00-01", "HttpPort": "³"},
    present=["Uuid", "MAC", "HttpPort"],
    spell=str,
    ns="",
    twice=False,
)
@given(
    values=st.fixed_dictionaries({name: field_value for name in SADP_FIELDS}),
    present=st.lists(st.sampled_from(SADP_FIELDS), unique=True),
    spell=case,
    ns=namespace,
    twice=st.booleans(),
)
def test_a_lying_probe_match_yields_checked_values_or_a_parse_error(
    values: dict[str, str],
    present: list[str],
    spell: Callable[[str], str],
    ns: str,
    twice: bool,
) -> None:
    children = "".join(element(spell(name), values[name]) for name in present)
    if twice:  # a second MAC after the first: which one is the unit?
        children += element("MAC", "44-19-b6-00-00-99")
    data = f"<{spell('ProbeMatch')}{ns}>{children}</{spell('ProbeMatch')}>".encode()
    try:
        reply = parse_probe_match(data)
    except ParseError as exc:
        assert "\n" not in str(exc)
        return
    # What rig does with a reply: identity by MAC, HTTP to ipv4:http_port, outcome by activated.
    assert MAC_RE.fullmatch(reply.mac) and reply.mac not in ("00-" * 5 + "00", "ff-" * 5 + "ff")
    assert reply.uuid
    if reply.ipv4 is not None:
        assert str(ipaddress.IPv4Address(reply.ipv4)) == reply.ipv4
    if reply.http_port is not None:
        assert type(reply.http_port) is int and 1 <= reply.http_port <= 65535
    assert reply.activated in (True, False, None) and reply.dhcp in (True, False, None)


@settings(max_examples=300, deadline=None)
# The example hypothesis found now and then (retryLoginTime '²': str.isdigit() said yes, then
# int() raised ValueError out of parse_user_check), kept so that every run tries it.
@example(lock="", unlock="", retry="²", activated="", mac="", spell=str, ns="")
@example(lock="lock", unlock="³", retry="0", activated="", mac="", spell=str, ns="")
@given(
    lock=field_value,
    unlock=field_value,
    retry=field_value,
    activated=field_value,
    mac=field_value,
    spell=case,
    ns=namespace,
)
def test_lying_isapi_answers_yield_checked_values_or_a_parse_error(
    lock: str, unlock: str, retry: str, activated: str, mac: str, spell: Any, ns: str
) -> None:
    def document(root: str, *children: tuple[str, str]) -> bytes:
        inner = "".join(element(spell(tag), value) for tag, value in children)
        return f"<{spell(root)}{ns}>{inner}</{spell(root)}>".encode()

    with contextlib.suppress(ParseError):
        info = parse_user_check(
            document(
                "userCheck",
                ("lockStatus", lock),
                ("unlockTime", unlock),
                ("retryLoginTime", retry),
            )
        )
        assert isinstance(info.locked, bool)
        for number in (info.unlock_s, info.retry_left):  # shown to the operator, waited on
            assert number is None or (type(number) is int and 0 <= number <= 999_999_999)
    with contextlib.suppress(ParseError):
        # The one answer that can make a job reset_verified: only a real true/false counts.
        state = parse_activate_status(document("ActivateStatus", ("Activated", activated)))
        assert state is (activated.strip().lower() == "true")
    with contextlib.suppress(ParseError):
        device = parse_device_info(document("DeviceInfo", ("macAddress", mac)))
        assert device.mac is None or MAC_RE.fullmatch(device.mac)


@pytest.mark.parametrize("number", ["³", "²", "1²", "³0", "８０", "٨٠"])
def test_non_ascii_digits_are_no_number(number: str) -> None:
    """Regression: '³'.isdigit() is True and int('³') raises, so these crashed the parsers."""
    port = parse_probe_match(
        f"<ProbeMatch><Uuid>u</Uuid><MAC>44-19-b6-00-00-01</MAC><HttpPort>{number}</HttpPort>"
        "</ProbeMatch>".encode()
    )
    assert port.http_port is None
    lock = parse_user_check(
        f"<userCheck><lockStatus>lock</lockStatus><unlockTime>{number}</unlockTime>"
        f"<retryLoginTime>{number}</retryLoginTime></userCheck>".encode()
    )
    assert (lock.locked, lock.unlock_s, lock.retry_left) == (True, None, None)
    unknown = parse_user_check(
        f"<userCheck><retryLoginTime>{number}</retryLoginTime></userCheck>".encode()
    )
    assert (unknown.locked, unknown.retry_left) == (False, None)
    with pytest.raises(ParseError, match="statusCode"):
        parse_response_status(
            f"<ResponseStatus><statusCode>{number}</statusCode></ResponseStatus>".encode()
        )


# -- hostile datagrams on the wire ---------------------------------------------------------------

hostile_datagram = st.one_of(
    st.binary(max_size=512),
    st.builds(
        lambda at, junk: DVR[:at] + junk + DVR[at:],
        st.integers(min_value=0, max_value=len(DVR)),
        st.binary(min_size=1, max_size=8),
    ),
    # Big for SADP (a reply is ~1.3 KiB), small enough that five of them never overflow the
    # socket's receive buffer: a dropped datagram would make the count below a lottery.
    st.just(DVR.replace(b"<OEMInfo>N/A", b"<OEMInfo>" + b"A" * 12_000)),
    st.just(b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "aaaa">]><ProbeMatch>&a;</ProbeMatch>'),
    st.just(probe_match(mac="44-19-b6-00-00-07")),  # a reply to someone else's probe
)


@pytest.fixture(scope="module")
def responder() -> Iterator[Responder]:
    # One responder for every example: hypothesis runs many examples per test call.
    unit = Responder()
    try:
        yield unit
    finally:
        unit.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(junk=st.lists(hostile_datagram, max_size=5), real_first=st.booleans())
def test_the_real_unit_is_found_among_hostile_datagrams(
    responder: Responder, junk: list[bytes], real_first: bool
) -> None:
    def answer(uuid: str) -> list[bytes]:
        real = probe_match(uuid)
        return [real, *junk] if real_first else [*junk, real]

    responder.answer = answer
    with SadpClient((LOCAL, responder.port), source=LOCAL) as client:
        replies = client.probe(0.1)
        stats = client.stats
    assert [r.mac for r in replies] == [DVR_MAC]
    # Every hostile datagram was looked at and set aside, none taken for the unit.
    assert stats.junk + stats.foreign + stats.late == len(junk)


# -- web servers that answer slowly, never, or with 100 MB ---------------------------------------


class OneUnitLan:
    """A SADP prober on which one unit answers every probe (the poller's view of the LAN)."""

    def __init__(self, reply: SadpReply) -> None:
        self.reply = reply

    def probe(
        self, window_s: float, on_reply: Callable[[SadpReply], None] | None = None
    ) -> list[SadpReply]:
        if on_reply is not None:
            on_reply(self.reply)
        time.sleep(window_s)
        return [self.reply]


@pytest.fixture
def web() -> Iterator[tuple[FakeCamera, int]]:
    """tests/test_isapi.py's fake camera web server, whose `mode` makes it hostile."""
    camera = FakeCamera()
    server = CameraServer(camera)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.daemon = True
    thread.start()
    try:
        yield camera, int(server.server_address[1])
    finally:
        camera.release.set()
        server.shutdown()
        server.server_close()
        thread.join(2)


HTTP_TIMEOUT_S = 0.5
# What the exchange says, by the server's behaviour: slowly (a byte every 20 ms, each well
# within the read timeout), never (accepts, then silence), 100 MB (the client stops at 256 KiB).
WEB_ERRORS = {
    "dribble": f"timed out after {HTTP_TIMEOUT_S:g} s reading the body",
    "silent": f"no answer within {HTTP_TIMEOUT_S:g} s",
    "huge": f"body over {256 * 1024} bytes",
}
NEW_FIRMWARE, OLD_FIRMWARE = "V5.7.3build 230222", "V5.2.5build 141201"


@pytest.mark.parametrize("mode", list(WEB_ERRORS))
@pytest.mark.parametrize(
    ("firmware", "activated", "outcome", "reason"),
    [
        # SADP itself says inactive: the web check only confirms, its failure is evidence.
        (
            NEW_FIRMWARE,
            False,
            Outcome.RESET_VERIFIED,
            "inactive: factory state (SADP (web port unreachable))",
        ),
        # SADP does not say: without the web answer nothing proves the reset.
        (
            NEW_FIRMWARE,
            None,
            Outcome.NOT_RESET,
            "activation state unknown: SADP and ISAPI did not say",
        ),
        # Old firmware is proved only by the factory login, over the web.
        (OLD_FIRMWARE, None, Outcome.NO_RESPONSE, "web port did not answer: {error}"),
    ],
    ids=["sadp-inactive", "sadp-silent", "old-firmware"],
)
def test_hostile_web_server_meets_the_judge(
    web: tuple[FakeCamera, int],
    mode: str,
    firmware: str,
    activated: bool | None,
    outcome: Outcome,
    reason: str,
) -> None:
    camera, port = web
    camera.mode = mode
    reply = dataclasses.replace(
        parse_probe_match(DVR),
        ipv4=LOCAL,
        http_port=port,
        firmware=firmware,
        activated=activated,
    )
    poller = SadpPoller(OneUnitLan(reply), poll_s=0.05)
    with poller:
        verifier = NetworkVerifier(poller, settle_s=0.1, http_timeout_s=HTTP_TIMEOUT_S)
        verifier.identify(reply.device_sn)
        started = time.monotonic()
        verdict = verifier.judge()
        took = time.monotonic() - started
    error = WEB_ERRORS[mode]
    assert (verdict.outcome, verdict.reason) == (outcome, reason.format(error=error))
    assert took < HTTP_TIMEOUT_S + 0.5, f"the judge took {took:.2f} s"
    # The record keeps the failed exchange as evidence; no credentials were ever sent.
    [exchange] = [
        e for e in verifier.evidence if e["check"] in ("activate_status", "factory_login")
    ]
    assert exchange["error"] == error
    assert camera.authorizations == []
    if mode == "huge":
        time.sleep(0.1)
        assert camera.bytes_sent < 32 * 1024 * 1024  # abandoned, not drained


class CameraServedElsewhere(SimCamera):
    """A simulated camera whose SADP answer names another web server: the hostile one."""

    def __init__(self, spec: CameraSpec, web_port: int) -> None:
        super().__init__(spec)
        self._web_port = web_port

    @property
    def http_port(self) -> int:
        return self._web_port


@pytest.mark.parametrize("mode", list(WEB_ERRORS))
def test_hostile_web_server_in_a_whole_reset(
    web: tuple[FakeCamera, int],
    mode: str,
    cameras: Cameras,
    tmp_path: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An old-firmware unit comes back; its web port (the only proof for old firmware) is
    hostile. The job ends no_response with the exchange's error, on time."""
    fake, port = web
    fake.mode = mode
    spec = CameraSpec.sample(1, firmware=OLD_FIRMWARE, boot_s=BOOT_S, reset_hold_s=RESET_HOLD_S)
    camera = CameraServedElsewhere(spec, port).start()
    cameras.started.append(camera)
    cameras.network.add(camera)
    with mock_pins() as factory:
        bay: Bay = MockPinBay(factory)
        wire(camera, bay)
        data_dir = tmp_path / "records"
        path = tmp_path / "rig.toml"
        path.write_text(
            config_text(
                bay,
                data_dir,
                verify="network",
                target=cameras.network.target,
                http_timeout_s=HTTP_TIMEOUT_S,
            )
        )
        capsys.readouterr()
        code = main(["reset", "--config", str(path), "--serial", spec.device_sn[-13:]])
        captured = capsys.readouterr()
        assert_safe(bay)
    job = only_job(data_dir)
    reason = f"web port did not answer: {WEB_ERRORS[mode]}"
    steps = ["identify", "power_off", "press", "power_on", "hold", "wait_back", "verify"]
    assert_record(job, "no_response", reason, steps)
    verify = step(job, "verify")
    assert verify["ended_mono"] - verify["started_mono"] < HTTP_TIMEOUT_S + 0.5  # nothing hung
    assert camera.resets == 1  # it was reset; the record says only what could be proved
    assert code == 1
    assert_job_line(captured.out.splitlines(), job["job_id"], "no_response", reason)
    assert_no_traceback(captured.err.splitlines())


def test_a_lan_full_of_junk_still_verifies(
    cameras: Cameras, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every SADP answer comes after a junk datagram (garbage, truncated XML, another tool's
    probe, an entity bomb, bytes that are not UTF-8): the reset is verified all the same."""
    cameras.network.junk_every = 1
    with mock_pins() as factory:
        bay = MockPinBay(factory)
        camera = wire(cameras.add(1), bay)
        data_dir = tmp_path / "records"
        path = tmp_path / "rig.toml"
        path.write_text(config_text(bay, data_dir, verify="network", target=cameras.network.target))
        capsys.readouterr()
        code = main(["reset", "--config", str(path), "--serial", camera.spec.device_sn[-13:]])
        captured = capsys.readouterr()
        assert_safe(bay)
    assert cameras.network.junk_sent > 10
    job = only_job(data_dir)
    steps = ["identify", "power_off", "press", "power_on", "hold", "wait_back", "verify"]
    assert_record(job, "reset_verified", "inactive: factory state (SADP and activateStatus)", steps)
    assert camera.in_factory_state
    assert code == 0
    assert_job_line(
        captured.out.splitlines(),
        job["job_id"],
        "reset_verified",
        "inactive: factory state (SADP and activateStatus)",
    )
    assert_no_traceback(captured.err.splitlines())
