"""SADP: the probe, the ProbeMatch parser (captures, variants, fuzz), the client and the poller.

The client and poller talk only to a UDP responder on 127.0.0.1; nothing is sent to the
multicast group or any other address.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import socket
import threading
import time
import uuid as uuidlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rig.errors import NetworkError, ParseError
from rig.network.sadp import (
    RECORDER_SUFFIX_MAX,
    ForeignReply,
    SadpClient,
    SadpEvent,
    SadpPoller,
    SadpReply,
    build_probe,
    normalise_mac,
    parse_probe_match,
    serial_matches,
)
from rig.network.version import is_activation_firmware, parse_firmware
from rig.network.xmlutil import parse_bool, parse_xml

FIXTURES = Path(__file__).parent / "fixtures"
DVR = (FIXTURES / "sadp-probematch-dvr.xml").read_bytes()
DVR_UUID = "8282F1DB-2FA6-4709-B261-3C6B6A48CA17"
DVR_MAC = "68-6d-bc-ee-f8-f0"
LOCAL = "127.0.0.1"


def probe_match(
    uuid: str = DVR_UUID, mac: str = DVR_MAC, *, activated: str | None = "true"
) -> bytes:
    """The DVR capture answering `uuid`, as the unit with `mac`."""
    text = DVR.decode()
    text = text.replace(DVR_UUID, uuid).replace(f"<MAC>{DVR_MAC}</MAC>", f"<MAC>{mac}</MAC>")
    if activated is None:
        text = text.replace("    <Activated>true</Activated>\n", "")
    else:
        text = text.replace("<Activated>true</Activated>", f"<Activated>{activated}</Activated>")
    return text.encode()


# --- the probe ------------------------------------------------------------------------------


def test_build_probe_is_exact_and_upper_case() -> None:
    uuid = "8282f1db-2fa6-4709-b261-3c6b6a48ca17"
    assert build_probe(uuid) == (
        b'<?xml version="1.0" encoding="utf-8"?><Probe><Uuid>8282F1DB-2FA6-4709-B261-'
        b"3C6B6A48CA17</Uuid><Types>inquiry</Types></Probe>"
    )


@pytest.mark.parametrize("bad", ["", "not-a-uuid", DVR_UUID + "</Uuid><x>", DVR_UUID[:-1]])
def test_build_probe_refuses_anything_but_a_uuid(bad: str) -> None:
    with pytest.raises(ValueError):
        build_probe(bad)


# --- the parser -----------------------------------------------------------------------------


def test_dvr_capture() -> None:
    reply = parse_probe_match(DVR)
    assert reply.uuid == DVR_UUID
    assert reply.mac == DVR_MAC
    assert reply.device_sn == "DS-7804HQH-K10420190822CCCHD53257168WCVU"
    assert reply.model == "DS-7804HQH-K1"
    assert reply.firmware == "V3.5.38build 191215"
    assert reply.firmware_version == (3, 5, 38)
    assert reply.ipv4 == "192.168.1.227"
    assert reply.http_port == 80
    assert reply.dhcp is False
    assert reply.boot_time == "2021-05-19 14:31:12"
    assert reply.activated is True
    assert reply.xml == DVR.decode()
    assert len(reply.raw) == 31  # every child of the capture
    assert reply.raw["Salt"].startswith("9bb2be4e")
    assert reply.raw["SupportHCPlatform"] == "true"
    assert reply.raw["DSPVersion"] == "V5.0, build 191213"
    assert "Salt" not in repr(reply)  # raw and xml stay out of log lines


def test_expected_uuid_matches_in_any_case() -> None:
    assert parse_probe_match(DVR, expect_uuid=DVR_UUID.lower()).mac == DVR_MAC


def test_foreign_reply() -> None:
    with pytest.raises(ForeignReply) as info:
        parse_probe_match(DVR, expect_uuid=str(uuidlib.uuid4()).upper())
    assert isinstance(info.value, ParseError)
    assert info.value.uuid == DVR_UUID


@pytest.mark.parametrize(
    "rename",
    [str.lower, str.upper, lambda tag: tag.replace("IPv4", "Ipv4").replace("MAC", "Mac")],
)
def test_field_names_in_any_case(rename: Callable[[str], str]) -> None:
    text = re.sub(r"<(/?)(\w+)>", lambda m: f"<{m[1]}{rename(m[2])}>", DVR.decode())
    reply = parse_probe_match(text.encode(), expect_uuid=DVR_UUID)
    assert (reply.mac, reply.ipv4, reply.http_port, reply.activated) == (
        DVR_MAC,
        "192.168.1.227",
        80,
        True,
    )
    assert reply.device_sn == "DS-7804HQH-K10420190822CCCHD53257168WCVU"
    assert rename("SupportHCPlatform") in reply.raw  # keys as sent


def test_namespaced_reply() -> None:
    text = DVR.decode().replace("<ProbeMatch>", '<ProbeMatch xmlns="urn:example:sadp">')
    assert parse_probe_match(text.encode()).mac == DVR_MAC


def test_missing_activated_is_unknown() -> None:
    reply = parse_probe_match(probe_match(activated=None))
    assert reply.activated is None
    assert "Activated" not in reply.raw


@pytest.mark.parametrize(("sent", "parsed"), [("false", False), ("TRUE", True), ("1", None)])
def test_activated_values(sent: str, parsed: bool | None) -> None:
    assert parse_probe_match(probe_match(activated=sent)).activated is parsed


def test_unknown_fields_and_odd_values_do_not_fail() -> None:
    text = (
        "<ProbeMatch><Uuid>u</Uuid><MAC>68-6D-BC-EE-F8-F0</MAC><HttpPort>99999</HttpPort>"
        "<IPv4Address>192.168.1.300</IPv4Address><DHCP>maybe</DHCP><NewThing>x</NewThing>"
        "<DeviceSN></DeviceSN></ProbeMatch>"
    )
    reply = parse_probe_match(text.encode())
    assert reply.http_port is None and reply.ipv4 is None and reply.dhcp is None
    assert reply.device_sn is None and reply.firmware is None and reply.firmware_version is None
    assert reply.raw["NewThing"] == "x" and reply.raw["HttpPort"] == "99999"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<Probe><Uuid>u</Uuid><MAC>68-6d-bc-ee-f8-f0</MAC></Probe>", "not a <ProbeMatch>"),
        (b"<ProbeMatch><MAC>68-6d-bc-ee-f8-f0</MAC></ProbeMatch>", "no Uuid"),
        (b"<ProbeMatch><Uuid>u</Uuid></ProbeMatch>", "MAC is missing"),
        (b"<ProbeMatch><Uuid>u</Uuid><MAC>68-6d-bc</MAC></ProbeMatch>", "not a MAC"),
        (b"<ProbeMatch><Uuid>u</Uuid><MAC>00-00-00-00-00-00</MAC></ProbeMatch>", "cannot"),
        (b"<ProbeMatch><Uuid>u</Uuid><MAC>68-6d:bc-ee-f8-f0</MAC></ProbeMatch>", "not a MAC"),
    ],
)
def test_junk_replies(body: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_probe_match(body)


@pytest.mark.parametrize(
    "text", ["68-6D-BC-EE-F8-F0", "68:6d:bc:ee:f8:f0", " 686dbceef8f0 ", "68-6d-bc-ee-f8-f0"]
)
def test_normalise_mac(text: str) -> None:
    assert normalise_mac(text) == DVR_MAC


def test_matches_serial() -> None:
    reply = parse_probe_match(DVR)
    assert reply.matches_serial("CCCHD53257168WCVU")
    assert reply.matches_serial("  d53257168wcvu\n")
    assert reply.matches_serial(reply.device_sn or "")
    assert reply.matches_serial("D53257168")  # the recorder's label serial, before WCVU
    assert reply.matches_serial(" d53257168\r\n")
    assert not reply.matches_serial("")
    assert not reply.matches_serial("   ")
    assert not reply.matches_serial("D5325716")  # the label serial cut short
    assert not reply.matches_serial("X" + (reply.device_sn or ""))
    no_sn = parse_probe_match(b"<ProbeMatch><Uuid>u</Uuid><MAC>686dbceef8f0</MAC></ProbeMatch>")
    assert not no_sn.matches_serial("D53257168WCVU")
    assert not no_sn.matches_serial("D53257168")


CAMERA_SN = "DS-2CD2385G1-I20200414AAWRE33842150"  # a real camera's DeviceSN (tests/fixtures/real)
RECORDER_SN = "DS-7804HQH-K10420190822CCCHD53257168WCVU"  # a real DVR's


@pytest.mark.parametrize(
    ("device_sn", "scan"),
    [
        # Cameras: the DeviceSN ends with the label serial.
        (CAMERA_SN, "E33842150"),
        (CAMERA_SN, "e33842150"),
        (CAMERA_SN, "  E33842150\n"),
        (CAMERA_SN, "AAWRE33842150"),
        (CAMERA_SN, CAMERA_SN),
        (" " + CAMERA_SN.lower() + " ", "E33842150"),
        # Recorders: the label serial, then a short letters-only suffix.
        (RECORDER_SN, "D53257168"),
        (RECORDER_SN, "d53257168"),
        (RECORDER_SN, "CCCHD53257168"),
        (RECORDER_SN, "D53257168WCVU"),
        (RECORDER_SN, RECORDER_SN),
        ("DS-7608NXI-I0/0P/S0000000000CCRRJ00000000WCVU", "J00000000"),  # real, anonymised
        ("DS-7108N-SN/P0820160328AARR586321180WCVU", "586321180"),  # real NVR
        ("X123A", "123"),  # the shortest suffix
        ("X123ABCD", "123"),  # the longest
    ],
)
def test_serial_matches(device_sn: str, scan: str) -> None:
    assert serial_matches(device_sn, scan)


@pytest.mark.parametrize(
    ("device_sn", "scan"),
    [
        (CAMERA_SN, "E3384215"),  # one digit short at the end
        (CAMERA_SN, "E33842151"),  # one digit off
        (CAMERA_SN, "33842150X"),
        (CAMERA_SN, "E338421"),  # in the middle
        (CAMERA_SN, "X" + CAMERA_SN),
        (RECORDER_SN, "D5325716"),  # cut short, then the suffix does not start right after
        (RECORDER_SN, "D53257169"),
        (RECORDER_SN, "53257168W"),  # ends with a letter: only a plain end-match counts
        (RECORDER_SN, "D53257168WC"),  # a partial suffix is not the label serial
        (RECORDER_SN, "D53257168WCV"),
        (RECORDER_SN, "D53257168VU"),
        (RECORDER_SN, "D53257168WCVUX"),
        (RECORDER_SN, "CCCHD5325716"),
        ("X123ABCDE", "123"),  # a suffix over RECORDER_SUFFIX_MAX letters
        ("X123AB1", "123"),  # not letters only
        ("X123AB-", "123"),
        ("X123ÄB", "123"),  # ASCII letters only
        (CAMERA_SN, ""),
        (CAMERA_SN, "   "),
        ("", "E33842150"),
        (None, "E33842150"),
        (CAMERA_SN, None),
        ("DS-2CD2385G1-I20200414AAWRESS", "ß"),  # no Unicode case tricks: 'ß'.upper() is 'SS'
        ("DS-2CD2385G1-I20200414AAWRE3384215ß", "E3384215SS"),
    ],
)
def test_serial_near_misses_do_not_match(device_sn: str | None, scan: str | None) -> None:
    assert not serial_matches(device_sn, scan)


def test_recorder_suffix_limit() -> None:
    assert RECORDER_SUFFIX_MAX == 4
    assert serial_matches("X123" + "A" * RECORDER_SUFFIX_MAX, "123")
    assert not serial_matches("X123" + "A" * (RECORDER_SUFFIX_MAX + 1), "123")


# --- numbers and booleans: ASCII only --------------------------------------------------------


def with_port(value: str) -> bytes:
    return DVR.replace(b"<HttpPort>80</HttpPort>", f"<HttpPort>{value}</HttpPort>".encode())


@pytest.mark.parametrize(
    "value",
    [
        "³",  # str.isdigit() says yes, int() raises ValueError: this used to be a traceback
        "²",
        "8³",
        "²²",
        "８０",  # full-width: isdigit() yes, int() reads 80
        "٨٠",  # Arabic-Indic: the same
        "80\u00b2",
        "+80",
        "-80",
        "8_0",
        "0",
        "65536",
        "000080",  # six digits: no port is written like that
    ],
)
def test_http_port_takes_ascii_digits_only(value: str) -> None:
    reply = parse_probe_match(with_port(value))
    assert reply.http_port is None
    assert reply.raw["HttpPort"] == value  # still kept as sent


@pytest.mark.parametrize(("value", "port"), [("80", 80), ("8000", 8000), ("65535", 65535)])
def test_http_port_ascii(value: str, port: int) -> None:
    assert parse_probe_match(with_port(value)).http_port == port


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("TRUE", True),
        (" True\n", True),
        ("false", False),
        ("FALSE", False),
        # Real firmware's typo (HCPlatformEnable, DeviceLock in tests/fixtures/real/sadp/): it
        # can only mean false, so it reads as false.
        ("flase", False),
        ("FLASE", False),
        ("fasle", None),  # no other misspelling is guessed at
        ("falſe", None),  # long s: casefolds to "false", but no device sends it
        ("ｔｒｕｅ", None),
        ("1", None),
        ("0", None),
        ("yes", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_bool(text: str | None, value: bool | None) -> None:
    assert parse_bool(text) is value


def test_activated_flase_means_inactive() -> None:
    assert parse_probe_match(probe_match(activated="flase")).activated is False


# --- versions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("V5.5.0", (5, 5, 0)),
        ("V5.7.3build 230222", (5, 7, 3)),
        ("V3.5.38build 191215", (3, 5, 38)),
        ("V5.5.800 build 210628", (5, 5, 800)),
        ("V5.0, build 191213", (5, 0, 0)),
        ("V5.6.2build 190701", (5, 6, 2)),
        ("V4.62.210", (4, 62, 210)),
        ("v4.1.10", (4, 1, 10)),
        ("5.3.0", (5, 3, 0)),
        ("", None),
        (None, None),
        ("build 170725", None),
        ("V5", None),
        ("V5.5.0.1", None),
        ("V٥.٧.٣", None),  # Arabic-Indic digits: `\d` matches them and int() reads them
        ("V５.７.３", None),  # full-width
        ("V5.5.0٣", None),
        ("V5³.5.0", None),
    ],
)
def test_parse_firmware(text: str | None, version: tuple[int, int, int] | None) -> None:
    assert parse_firmware(text) == version


def test_activation_firmware() -> None:
    assert is_activation_firmware((5, 3, 0)) is True
    assert is_activation_firmware((5, 2, 99)) is False
    assert is_activation_firmware("V5.7.3build 230222") is True
    assert is_activation_firmware("V5.2.5 build 141201") is False
    assert is_activation_firmware(None) is None
    assert is_activation_firmware("garbage") is None


# --- hostile input: only ParseError, ever --------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<ProbeMatch><Uuid>&lol3;</Uuid><MAC>68-6d-bc-ee-f8-f0</MAC></ProbeMatch>"""


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (BILLION_LAUGHS, "DTD"),
        (
            b'<!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/hostname">]>'
            b"<ProbeMatch><Uuid>&x;</Uuid></ProbeMatch>",
            "DTD",
        ),
        (DVR.replace(b"DS-7804HQH-K1<", b"DS-7804HQH-K1\xff<"), "not UTF-8"),
        (DVR.decode().encode("utf-16"), "not UTF-8"),
        (DVR.replace(b"<OEMInfo>N/A", b"<OEMInfo>" + b"A" * 70_000), "over the 65536-byte"),
        (b"", "empty"),
        (b"\x00" * 32, "not"),
    ],
)
def test_hostile_datagrams(body: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message) as info:
        parse_probe_match(body, expect_uuid=DVR_UUID)
    assert "\n" not in str(info.value)
    assert not isinstance(info.value, ForeignReply)


def test_utf8_bom_and_size_parameter() -> None:
    assert parse_probe_match(b"\xef\xbb\xbf" + DVR).mac == DVR_MAC
    with pytest.raises(ParseError, match="over the 100-byte"):
        parse_xml(DVR, max_bytes=100)


def test_every_truncation_of_the_capture() -> None:
    for cut in range(len(DVR)):
        with contextlib.suppress(ParseError):
            parse_probe_match(DVR[:cut], expect_uuid=DVR_UUID)


def test_deeply_nested_input_within_the_cap() -> None:
    nested = b"<ProbeMatch>" + b"<a>" * 9_000 + b"</a>" * 9_000 + b"</ProbeMatch>"
    assert len(nested) < 64 * 1024
    with pytest.raises(ParseError, match="no Uuid"):
        parse_probe_match(nested)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=2048))
def test_random_bytes_raise_only_parse_error(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        parse_probe_match(data, expect_uuid=DVR_UUID)


@settings(max_examples=200, deadline=None)
@given(position=st.integers(min_value=0), junk=st.binary(min_size=1, max_size=8))
def test_corrupted_capture_raises_only_parse_error(position: int, junk: bytes) -> None:
    position %= len(DVR)
    with contextlib.suppress(ParseError):
        parse_probe_match(DVR[:position] + junk + DVR[position:], expect_uuid=DVR_UUID)


@settings(max_examples=100, deadline=None)
@given(uuid=st.uuids())
def test_any_other_uuid_is_foreign(uuid: uuidlib.UUID) -> None:
    with pytest.raises(ForeignReply):
        parse_probe_match(DVR, expect_uuid=str(uuid))


@settings(max_examples=100, deadline=None)
@given(
    text=st.text(
        alphabet=st.characters(
            blacklist_categories=("Cs", "Cc"), blacklist_characters="<&\ufffe\uffff"
        ),
        max_size=60,
    )
)
def test_any_field_text_keeps_the_reply_readable(text: str) -> None:
    # Whatever a device puts in a field we do not check, the reply still parses.
    body = DVR.replace(b"<OEMInfo>N/A", b"<OEMInfo>" + text.encode())
    assert parse_probe_match(body).mac == DVR_MAC


# --- the client, against a responder on 127.0.0.1 -------------------------------------------

Answer = Callable[[str], list[bytes]]


class Responder:
    """A stand-in for the units on the bench: answers each probe with `answer(uuid)`."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((LOCAL, 0))
        self.sock.settimeout(0.01)
        self.port: int = self.sock.getsockname()[1]
        self.received: list[tuple[bytes, tuple[str, int]]] = []
        self.answer: Answer = lambda uuid: [probe_match(uuid)]
        self.delay_s = 0.0
        self.silent = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, sender = self.sock.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            self.received.append((data, sender))
            if self.silent.is_set():
                continue
            match = re.search(rb"<Uuid>([^<]*)</Uuid>", data)
            uuid = match[1].decode() if match else ""
            if self.delay_s:
                time.sleep(self.delay_s)
            for datagram in self.answer(uuid):
                self.sock.sendto(datagram, sender)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(1)
        self.sock.close()


@pytest.fixture
def responder() -> Iterator[Responder]:
    unit = Responder()
    try:
        yield unit
    finally:
        unit.close()


@pytest.fixture
def client(responder: Responder) -> Iterator[SadpClient]:
    with SadpClient((LOCAL, responder.port), source=LOCAL) as c:
        yield c


def test_probe_on_the_wire_and_reply(responder: Responder, client: SadpClient) -> None:
    replies = client.probe(0.2)
    assert len(responder.received) == 1
    data, sender = responder.received[0]
    match = re.fullmatch(
        rb'<\?xml version="1.0" encoding="utf-8"\?><Probe><Uuid>([0-9A-F-]{36})</Uuid>'
        rb"<Types>inquiry</Types></Probe>",
        data,
    )
    assert match is not None
    assert str(uuidlib.UUID(match[1].decode())).upper() == match[1].decode()
    assert sender == client.local_address  # replies come back to the sending socket
    assert [r.mac for r in replies] == [DVR_MAC]
    assert replies[0].uuid == match[1].decode()
    assert replies[0].sender == LOCAL
    assert client.stats.probes == 1 and client.stats.replies == 1


def test_each_probe_has_a_fresh_uuid(responder: Responder, client: SadpClient) -> None:
    client.probe(0.05)
    client.probe(0.05)
    uuids = {re.search(rb"<Uuid>(.*)</Uuid>", d)[1] for d, _ in responder.received}  # type: ignore[index]
    assert len(uuids) == 2


def test_ttl_is_one(client: SadpClient) -> None:
    sock = client._sock
    assert sock is not None
    assert sock.getsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL) == 1


def test_foreign_junk_and_duplicates_are_counted_and_ignored(
    responder: Responder, client: SadpClient
) -> None:
    other = str(uuidlib.uuid4()).upper()
    responder.answer = lambda uuid: [
        b"\xff\xfe garbage",
        probe_match(other, "44-19-b6-00-00-01"),  # another tool's probe
        b"<Probe><Uuid>x</Uuid></Probe>",
        probe_match(uuid),
        probe_match(uuid),  # same unit twice in one window
        probe_match(uuid.lower(), "44:19:B6:00:00:02"),
        b"<ProbeMatch><Uuid>" + uuid.encode() + b"</Uuid></ProbeMatch>",  # no MAC
    ]
    replies = client.probe(0.3)
    assert sorted(r.mac for r in replies) == ["44-19-b6-00-00-02", DVR_MAC]
    assert client.stats.foreign == 1
    assert client.stats.junk == 3
    assert client.stats.duplicates == 1


def test_oversized_datagram_is_junk(responder: Responder) -> None:
    responder.answer = lambda uuid: [
        probe_match(uuid).replace(b"<OEMInfo>N/A", b"<OEMInfo>" + b"A" * 3000),
        probe_match(uuid, "44-19-b6-00-00-03"),
    ]
    with SadpClient((LOCAL, responder.port), source=LOCAL, recv_cap=2048) as client:
        replies = client.probe(0.2)
    assert [r.mac for r in replies] == ["44-19-b6-00-00-03"]
    assert client.stats.junk == 1


def test_late_reply_is_not_foreign(responder: Responder, client: SadpClient) -> None:
    responder.delay_s = 0.15
    assert client.probe(0.05) == []
    responder.delay_s = 0.0
    responder.silent.set()
    assert client.probe(0.3) == []
    assert client.stats.late == 1 and client.stats.foreign == 0


def test_window_is_respected(responder: Responder, client: SadpClient) -> None:
    responder.silent.set()
    started = time.monotonic()
    assert client.probe(0.2) == []
    assert 0.19 <= time.monotonic() - started < 0.5


def test_closed_client(responder: Responder) -> None:
    client = SadpClient((LOCAL, responder.port), source=LOCAL)
    client.close()
    client.close()  # idempotent
    assert client.closed
    with pytest.raises(NetworkError, match="closed"):
        client.probe(0.1)


def test_bad_source_and_interface_are_network_errors() -> None:
    with pytest.raises(NetworkError, match="cannot bind"):
        SadpClient((LOCAL, 9), source="192.0.2.1")  # TEST-NET: bind only, nothing is sent
    with pytest.raises(NetworkError, match="interface 'no-such-nic0'"):
        SadpClient((LOCAL, 9), source=LOCAL, interface="no-such-nic0")


def test_interface_binding_on_loopback(responder: Responder) -> None:
    try:
        client = SadpClient((LOCAL, responder.port), source=LOCAL, interface="lo")
    except NetworkError as exc:
        assert "not permitted" in str(exc) or "needs Linux" in str(exc)
        pytest.skip(f"cannot bind to a device here: {exc}")
    with client:
        assert [r.mac for r in client.probe(0.1)] == [DVR_MAC]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        SadpClient((LOCAL, 9), source=LOCAL, ttl=0)
    with pytest.raises(ValueError):
        SadpClient((LOCAL, 9), source=LOCAL, recv_cap=0)


# --- the poller -----------------------------------------------------------------------------


def reply(mac: str, activated: bool | None = True) -> SadpReply:
    return dataclasses.replace(parse_probe_match(probe_match(mac=mac)), activated=activated)


class FakeProber:
    def __init__(self) -> None:
        self.script: list[list[SadpReply] | Exception] = []
        self.calls = 0

    def probe(
        self, window_s: float, on_reply: Callable[[SadpReply], None] | None = None
    ) -> list[SadpReply]:
        self.calls += 1
        time.sleep(min(window_s, 0.005))
        step = self.script.pop(0) if self.script else []
        if isinstance(step, Exception):
            raise step
        return step


def test_poll_once_appear_and_vanish_after_misses() -> None:
    clock = iter(range(100))
    poller = SadpPoller(FakeProber(), misses_to_vanish=2, monotonic=lambda: float(next(clock)))
    seen: list[SadpEvent] = []
    poller.subscribe(seen.append)
    a, b = reply("44-19-b6-00-00-0a"), reply("44-19-b6-00-00-0b")
    assert [e.kind for e in poller.poll_once([a, b])] == ["appeared", "appeared"]
    assert poller.poll_once([a]) == []  # b missed once: still present
    assert set(poller.present()) == {a.mac, b.mac}
    b_again = reply(b.mac, activated=False)
    assert poller.poll_once([a, b_again]) == []  # back in time: no event, misses reset
    assert poller.present()[b.mac].activated is False  # the latest reply
    poller.poll_once([a])
    (gone,) = poller.poll_once([a])
    assert (gone.kind, gone.mac, gone.reply, gone.at) == ("vanished", b.mac, b_again, 4.0)
    assert set(poller.present()) == {a.mac}
    (back,) = poller.poll_once([a, b])
    assert (back.kind, back.at) == ("appeared", 5.0)
    assert seen == poller.events
    assert [e.kind for e in seen] == ["appeared", "appeared", "vanished", "appeared"]
    assert poller.polls == 6


def test_thread_survives_failed_polls_without_counting_misses() -> None:
    prober = FakeProber()
    a = reply("44-19-b6-00-00-0a")
    prober.script = [[a], NetworkError("send failed"), RuntimeError("bug"), NetworkError("x")]
    with SadpPoller(prober, poll_s=0.01, misses_to_vanish=2) as poller:
        assert poller.wait_for(lambda present: a.mac in present, 2.0)
        deadline = time.monotonic() + 2.0
        while poller.errors < 3 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert poller.errors == 3 and poller.last_error == "NetworkError: x"
        assert [e.kind for e in poller.events][:1] == ["appeared"]
        # After the errors the script is empty: now the unit really is missing.
        assert poller.wait_for(lambda present: a.mac not in present, 2.0)
    assert not poller.running


def test_subscriber_that_raises_does_not_stop_others() -> None:
    poller = SadpPoller(FakeProber())
    seen: list[str] = []

    def bad(event: SadpEvent) -> None:
        raise RuntimeError("subscriber bug")

    poller.subscribe(bad)
    unsubscribe = poller.subscribe(lambda e: seen.append(e.mac))
    poller.poll_once([reply("44-19-b6-00-00-0a")])
    unsubscribe()
    poller.poll_once([reply("44-19-b6-00-00-0b")])
    assert seen == ["44-19-b6-00-00-0a"]


def test_wait_for_times_out() -> None:
    poller = SadpPoller(FakeProber(), poll_s=0.01)
    with poller:
        started = time.monotonic()
        assert poller.wait_for(lambda present: bool(present), 0.1) is False
        assert time.monotonic() - started < 0.5
    poller.stop()  # idempotent


def test_bad_poller_arguments() -> None:
    with pytest.raises(ValueError):
        SadpPoller(FakeProber(), poll_s=0)
    with pytest.raises(ValueError):
        SadpPoller(FakeProber(), misses_to_vanish=0)


def test_poller_sees_a_unit_appear_and_vanish_over_udp(responder: Responder) -> None:
    events: list[SadpEvent] = []
    changed = threading.Event()

    def on_event(event: SadpEvent) -> None:
        events.append(event)
        changed.set()

    with (
        SadpClient((LOCAL, responder.port), source=LOCAL) as client,
        SadpPoller(client, poll_s=0.05, misses_to_vanish=2) as poller,
    ):
        poller.subscribe(on_event)
        assert poller.wait_for(lambda present: DVR_MAC in present, 2.0)
        responder.silent.set()  # the power is cut
        went_at = time.monotonic()
        assert poller.wait_for(lambda present: DVR_MAC not in present, 2.0)
        assert time.monotonic() - went_at >= 0.05  # not on the first miss
        responder.silent.clear()  # it boots again
        assert poller.wait_for(lambda present: DVR_MAC in present, 2.0)
        deadline = time.monotonic() + 1.0
        while len(events) < 3 and time.monotonic() < deadline:
            changed.wait(0.05)
    assert not poller.running
    kinds = [(e.kind, e.mac) for e in poller.events]
    assert kinds == [("appeared", DVR_MAC), ("vanished", DVR_MAC), ("appeared", DVR_MAC)]
    assert [e.kind for e in events][-2:] == ["vanished", "appeared"]
    ats = [e.at for e in poller.events]
    assert ats == sorted(ats)
    assert client.stats.foreign == 0 and client.stats.junk == 0
