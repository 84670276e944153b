"""Published samples from real devices (tests/fixtures/real/, provenance in its SOURCES.md)
against the parsers rig really uses. The real samples outrank our simulator: where one of them
and a parser disagree, the parser is wrong.

Every file there is read by some test (the registry below, checked by
`test_every_real_file_is_covered`):

- a complete sample parses to the values it carries;
- a `-truncated` one raises `rig.errors.ParseError`, never anything else;
- a sample wrapped in someone's source code (`in-*-comment`, `in-python`, `in-javadoc`...) is
  either unwrapped here on purpose (the comment markers or the string literal taken off, and
  nothing else changed) and then parsed, or its raw bytes must give a ParseError;
- the SNMP recordings (`snmp/*.snmprec`, for the PoE switch backend to come) are read by a
  tiny reader in this file, to pin the facts the switch code will have to cope with.

Nothing here sends a packet anywhere but 127.0.0.1.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import re
import socketserver
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from rig.errors import ParseError
from rig.network.isapi import (
    DeviceInfo,
    IsapiClient,
    LockInfo,
    ResponseStatus,
    _Digest,
    digest_challenge,
    parse_activate_status,
    parse_challenges,
    parse_device_info,
    parse_response_status,
    parse_user_check,
)
from rig.network.sadp import SadpReply, parse_probe_match, serial_matches
from rig.network.version import parse_firmware
from rig.network.xmlutil import Element, child_text, find_child, parse_bool, parse_xml

REAL = Path(__file__).parent / "fixtures" / "real"
FIXTURES = Path(__file__).parent / "fixtures"


def sample(name: str) -> bytes:
    return (REAL / name).read_bytes()


PARSERS: dict[str, Callable[[bytes], object]] = {
    "parse_probe_match": parse_probe_match,
    "parse_activate_status": parse_activate_status,
    "parse_device_info": parse_device_info,
    "parse_response_status": parse_response_status,
    "parse_user_check": parse_user_check,
}


def assert_refused_by_every_parser(data: bytes) -> None:
    for name, parser in PARSERS.items():
        with pytest.raises(ParseError) as info:
            parser(data)
        assert "\n" not in str(info.value), name


# --- unwrapping, on purpose -----------------------------------------------------------------


def uncomment_go(data: bytes) -> bytes:
    """The XML inside a Go `// ` line comment: the `// ` taken off each XML line; the comment's
    title line (`// ProbeMatch`) is not XML and is left out."""
    lines = data.decode().splitlines()
    return "\n".join(line.removeprefix("// ") for line in lines if line.startswith("// <")).encode()


def complete_truncated(data: bytes, root: str) -> bytes:
    """A truncated capture with its cut-off last line dropped and the root element closed."""
    kept = data[: data.rindex(b"\n")]
    return kept + f"\n</{root}>".encode()


def header_lines(data: bytes, name: str = "WWW-Authenticate") -> list[str]:
    """Every `Name: value` header in a trace or a comment, whatever comment markers precede
    it on its line (`//`, ` * `...), in order."""
    pattern = re.compile(rf"(?:^|[\s/*#]){re.escape(name)}:[ \t]*(.*?)[ \t]*$", re.IGNORECASE)
    return [m[1] for line in data.decode().splitlines() if (m := pattern.search(line))]


def python_string(data: bytes, variable: str) -> list[str]:
    """The string a Python file assigns to `variable` (adjacent literals joined, as Python
    does)."""
    for node in ast.parse(data.decode()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == variable for t in node.targets
        ):
            value = ast.literal_eval(node.value)
            assert isinstance(value, str)
            return [value]
    raise AssertionError(f"no {variable} in the sample")


def js_string(data: bytes, variable: str) -> list[str]:
    """The single-quoted string a JavaScript line assigns to `variable`."""
    match = re.search(rf"var {re.escape(variable)} = ('(?:[^'\\]|\\.)*');", data.decode())
    assert match is not None
    value = ast.literal_eval(match[1])  # a plain single-quoted literal reads the same
    assert isinstance(value, str)
    return [value]


def http_message(data: bytes) -> tuple[str, dict[str, list[str]], bytes]:
    """Status line, headers (by lower-case name, repeats kept) and body of an LF trace."""
    head, _, body = data.partition(b"\n\n")
    status, *lines = head.decode().split("\n")
    headers: dict[str, list[str]] = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return status, headers, body


# --- SADP -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sadp:
    read: Callable[[bytes], bytes]  # how the test gets the datagram out of the file
    reply: SadpReply
    label_serial: str
    fields: int  # children of <ProbeMatch>
    typos: dict[str, bool] = field(default_factory=dict)  # raw field -> what parse_bool says
    raw_is_refused: bool = False  # the file's bytes as they are must give a ParseError


SADP_SAMPLES: dict[str, Sadp] = {
    "sadp/sadp-probematch-DS-2CD2385G1-I-V5.6.2build190701.xml": Sadp(
        read=lambda data: data,
        reply=SadpReply(
            uuid="e8ecfe09-90e4-44c0-842b-703f46b58c81",  # lower case, as this unit sent it
            mac="58-50-ed-1f-e3-85",
            device_sn="DS-2CD2385G1-I20200414AAWRE33842150",
            model="DS-2CD2385G1-I",
            firmware="V5.6.2build 190701",
            ipv4="192.168.124.40",
            http_port=80,
            dhcp=True,
            boot_time="1970-01-15 02:44:11",  # clock not synced
            activated=True,
        ),
        label_serial="E33842150",
        fields=37,
        typos={"HCPlatformEnable": False, "DeviceLock": False},
    ),
    "sadp/sadp-probematch-DS-2CD2320D-I-V5.5.6build180326-in-go-comment.txt": Sadp(
        read=uncomment_go,
        reply=SadpReply(
            uuid="F93CF8DC-DF53-424B-98A7-9FC0536E1083",
            mac="44-47-cc-37-ce-81",
            device_sn="DS-2CD2320D-I20180919AACHC52932642",
            model="DS-2CD2320D-I",
            firmware="V5.5.6build 180326",
            ipv4="192.168.1.112",
            http_port=80,
            dhcp=True,
            boot_time="2024-09-18 09:21:28",
            activated=True,
        ),
        label_serial="C52932642",
        fields=32,
        typos={"HCPlatformEnable": False, "DeviceLock": True},
        raw_is_refused=True,
    ),
    "sadp/sadp-probematch-DS-2CD5026EFWD-A-V5.5.0build170914-truncated.xml": Sadp(
        read=lambda data: complete_truncated(data, "ProbeMatch"),
        reply=SadpReply(
            uuid="4980C8A1-5F6D-427B-979A-D11FF5BA053B",
            mac="64-db-8b-08-cf-45",
            device_sn="DS-2CD5026EFWD-A20171214AACH147955970",
            model="DS-2CD5026EFWD-A",
            firmware="V5.5.0build 170914",
            ipv4="192.168.66.24",
            http_port=80,
            dhcp=False,
            boot_time="1970-02-10 05:19:22",
            activated=True,
        ),
        label_serial="147955970",
        fields=29,  # up to the cut
        typos={"HCPlatformEnable": False},
        raw_is_refused=True,
    ),
    "sadp/sadp-probematch-DS-7804HQH-K1-DVR-V3.5.38build191215-annotated-truncated.xml": Sadp(
        read=lambda data: complete_truncated(data, "ProbeMatch"),
        reply=SadpReply(
            uuid="8282F1DB-2FA6-4709-B261-3C6B6A48CA17",
            mac="68-6d-bc-ee-f8-f0",
            device_sn="DS-7804HQH-K10420190822CCCHD53257168WCVU",  # a recorder's suffix
            model="DS-7804HQH-K1",
            firmware="V3.5.38build 191215",
            ipv4="192.168.1.227",
            http_port=80,
            dhcp=False,
            boot_time="2021-05-19 14:31:12",
            activated=True,  # on firmware V3.5: recorders number their firmware differently
        ),
        label_serial="D53257168",
        fields=31,  # the blogger's XML comment is not a field
        raw_is_refused=True,
    ),
}


@pytest.mark.parametrize("name", list(SADP_SAMPLES))
def test_sadp_sample_parses_to_its_values(name: str) -> None:
    expected = SADP_SAMPLES[name]
    datagram = expected.read(sample(name))
    reply = parse_probe_match(datagram, expect_uuid=expected.reply.uuid.upper())
    assert reply == expected.reply
    assert len(reply.raw) == expected.fields
    assert reply.xml == datagram.decode()
    assert reply.firmware_version == parse_firmware(expected.reply.firmware)
    assert reply.matches_serial(expected.label_serial)
    assert reply.matches_serial(expected.label_serial.lower())
    assert not reply.matches_serial(expected.label_serial[:-1])
    for name_, value in expected.typos.items():
        assert parse_bool(reply.raw[name_]) is value
        if value is False:
            assert reply.raw[name_] == "flase"  # the firmware's own spelling, kept in raw


def test_sadp_firmware_strings() -> None:
    versions = {
        name: parse_probe_match(s.read(sample(name))).firmware_version
        for name, s in SADP_SAMPLES.items()
    }
    assert sorted(v for v in versions.values() if v is not None) == [
        (3, 5, 38),
        (5, 5, 0),
        (5, 5, 6),
        (5, 6, 2),
    ]
    # The DSPVersion forms: "V7.3 build …" and "V5.0, build …".
    dsp = {parse_probe_match(s.read(sample(n))).raw["DSPVersion"] for n, s in SADP_SAMPLES.items()}
    assert {parse_firmware(text) for text in dsp} == {(7, 3, 0), (5, 0, 0)}


@pytest.mark.parametrize("name", [n for n, s in SADP_SAMPLES.items() if s.raw_is_refused])
def test_sadp_sample_as_published_is_a_parse_error(name: str) -> None:
    with pytest.raises(ParseError):
        parse_probe_match(sample(name))


def test_the_dvr_reference_fixture_is_the_real_capture() -> None:
    """tests/fixtures/sadp-probematch-dvr.xml, used all over the suite, is this real capture
    completed the same way (without the blogger's comment)."""
    name = "sadp/sadp-probematch-DS-7804HQH-K1-DVR-V3.5.38build191215-annotated-truncated.xml"
    real = parse_probe_match(complete_truncated(sample(name), "ProbeMatch"))
    ours = parse_probe_match((FIXTURES / "sadp-probematch-dvr.xml").read_bytes())
    assert real == ours and real.raw == ours.raw


# --- ISAPI documents ------------------------------------------------------------------------


@dataclass(frozen=True)
class Document:
    namespace: str | None  # the root's xmlns as sent (None: no namespace at all)
    version: str  # the root's version attribute


DEVICE_INFO: dict[str, tuple[Document, DeviceInfo, dict[str, str]]] = {
    "isapi/isapi-deviceinfo-DS-2CD2386G2-IU-V5.7.14-build231028-anonymized.xml": (
        Document("http://www.hikvision.com/ver20/XMLSchema", "2.0"),
        DeviceInfo(
            model="DS-2CD2386G2-IU",
            serial="DS-2CD2386G2-IU00000000AAWRJ00000000",
            mac="14-92-3c-4f-f8-42",
            firmware="V5.7.14",
        ),
        {"firmwareReleasedDate": "build 231028", "subSerialNumber": "J00000000"},
    ),
    "isapi/isapi-deviceinfo-DS-2CD2386G2-IU-V5.7.18-build240826-anonymized.xml": (
        Document("http://www.hikvision.com/ver20/XMLSchema", "2.0"),
        DeviceInfo(
            model="DS-2CD2386G2-IU",
            serial="DS-2CD2386G2-IU00000000AAWRJ00000000",
            mac="a6-63-9e-f8-01-09",  # randomised by its publisher (locally administered)
            firmware="V5.7.18",
        ),
        {"firmwareReleasedDate": "build 240826", "deviceType": "IPCamera"},
    ),
    "isapi/isapi-deviceinfo-NVR-DS-7608NXI-I2-8P-S-V4.62.210-isapi-ns-anonymized.xml": (
        Document("http://www.isapi.org/ver20/XMLSchema", "2.0"),
        DeviceInfo(
            model="DS-7608NXI-I2/8P/S",  # a model may hold '/'
            serial="DS-7608NXI-I0/0P/S0000000000CCRRJ00000000WCVU",
            mac="cc-ed-d6-41-a8-39",
            firmware="V4.62.210",  # three parts, a recorder's numbering
        ),
        {"firmwareReleasedDate": "build 230612", "deviceType": "NVR"},
    ),
}


def root_of(data: bytes) -> Element:
    return parse_xml(data, what="sample")


def assert_document(data: bytes, document: Document) -> None:
    if document.namespace is None:
        assert b"xmlns" not in data
    else:
        assert f'xmlns="{document.namespace}"'.encode() in data
    root = root_of(data)
    assert root.get("version") == document.version
    assert all("}" not in str(e.tag) for e in root.iter())  # the namespace is gone


@pytest.mark.parametrize("name", list(DEVICE_INFO))
def test_device_info_sample(name: str) -> None:
    document, expected, raw = DEVICE_INFO[name]
    data = sample(name)
    assert_document(data, document)
    info = parse_device_info(data)
    assert info == expected
    for key, value in raw.items():
        assert info.raw[key] == value
    assert parse_firmware(info.firmware) is not None


def test_device_info_serials_match_their_label_serial() -> None:
    camera = parse_device_info(
        sample("isapi/isapi-deviceinfo-DS-2CD2386G2-IU-V5.7.14-build231028-anonymized.xml")
    )
    # The camera reports its short (label) serial too: the DeviceSN ends with it.
    assert serial_matches(camera.serial, camera.raw["subSerialNumber"])
    nvr = parse_device_info(
        sample("isapi/isapi-deviceinfo-NVR-DS-7608NXI-I2-8P-S-V4.62.210-isapi-ns-anonymized.xml")
    )
    assert serial_matches(nvr.serial, "J00000000")  # before the recorder's WCVU
    assert parse_firmware(nvr.firmware) == (4, 62, 210)


RESPONSE_STATUS: dict[str, tuple[Document, ResponseStatus]] = {
    "isapi/isapi-responsestatus-badXmlContent-picture-hikvision-ns.xml": (
        Document("http://www.hikvision.com/ver20/XMLSchema", "1.0"),
        ResponseStatus(6, "Invalid XML Content", "badXmlContent"),
    ),
    "isapi/isapi-responsestatus-deviceError-picture-isapi-ns.xml": (
        Document("http://www.isapi.org/ver20/XMLSchema", "2.0"),
        ResponseStatus(3, "Device Error", "deviceError"),
    ),
}


@pytest.mark.parametrize("name", list(RESPONSE_STATUS))
def test_response_status_sample(name: str) -> None:
    document, expected = RESPONSE_STATUS[name]
    data = sample(name)
    assert_document(data, document)
    status = parse_response_status(data)
    assert status == expected
    assert not status.ok and not status.reboot_required


# Documents rig has no parser for (yet): the safe reader must still read them, namespaces and
# all, and every rig parser must refuse them with a ParseError.
OTHER_DOCUMENTS: dict[str, tuple[Document, str, dict[tuple[str, ...], str]]] = {
    "isapi/isapi-contentmgmt-storage-NVR-ACR4-40-OEM-std-cgi-ns.xml": (
        Document("http://www.std-cgi.com/ver20/XMLSchema", "1.0"),  # an OEM's namespace
        "storage",
        {
            ("hddList", "hdd", "hddName"): "hdda",  # the hdd repeats the xmlns
            ("hddList", "hdd", "capacity"): "3815447",
            ("hddList", "hdd", "hddPath"): "",
            ("workMode",): "quota",
        },
    ),
    "isapi/isapi-contentmgmt-storage-hdd1-isapi-ns.xml": (
        Document("http://www.isapi.org/ver20/XMLSchema", "2.0"),
        "storage",
        {
            ("hddList", "hdd", "hddName"): "hdd1",
            ("hddList", "hdd", "capacity"): "1907729",
            ("workMode",): "quota",
        },
    ),
    "isapi/isapi-contentmgmt-storage-hdd1-nas1-mixed-ns.xml": (
        Document("http://www.hikvision.com/ver20/XMLSchema", "2.0"),
        "storage",
        {
            # hddList is in the ver10 namespace, inside a ver20 document.
            ("hddList", "hdd", "hddName"): "hdde",
            ("hddList", "hdd", "capacity"): "30436",
            ("hddList", "hdd", "Encryption", "encryptionStatus"): "unencrypted",
            ("nasList", "nas", "ipAddress"): "192.168.0.1",
            ("nasList", "nas", "nasType"): "NFS",
            ("nasList", "nas", "mountType"): "SMB/CIFS",
        },
    ),
    "isapi/isapi-system-status-NVR-DS-7608NI-K2-no-ns.xml": (
        Document(None, "1.0"),  # no declaration, no namespace
        "DeviceStatus",
        {
            ("deviceUpTime",): "2530",
            ("CPUList", "CPU", "cpuUtilization"): "0",
            ("MemoryList", "Memory", "memoryUsage"): "244.175781",  # sent with a leading space
        },
    ),
}


def text_at(root: Element, path: tuple[str, ...]) -> str | None:
    node: Element | None = root
    for name in path[:-1]:
        node = find_child(node, name) if node is not None else None
    return child_text(node, path[-1]) if node is not None else None


@pytest.mark.parametrize("name", list(OTHER_DOCUMENTS))
def test_other_isapi_documents_read_and_refused(name: str) -> None:
    document, root_name, values = OTHER_DOCUMENTS[name]
    data = sample(name)
    assert_document(data, document)
    root = root_of(data)
    assert root.tag == root_name
    for path, value in values.items():
        assert text_at(root, path) == value, path
    assert_refused_by_every_parser(data)


# Published copies that stop early (or carry a browser's decoration): ParseError, whatever
# parser meets them.
TRUNCATED = [
    "isapi/isapi-deviceinfo-NVR-DS-7108N-SN-P-V3.0.13-browser-view-truncated.xml",
    "isapi/isapi-deviceinfo-capabilities-NVR-ACR4-40-OEM-std-cgi-ns-redacted-truncated.xml",
    "isapi/isapi-streaming-channels-list-browser-view-truncated.xml",
    *(n for n in SADP_SAMPLES if n.endswith("-truncated.xml")),
]


@pytest.mark.parametrize("name", TRUNCATED)
def test_truncated_sample_is_a_parse_error(name: str) -> None:
    assert_refused_by_every_parser(sample(name))


def test_truncated_nvr_serial_still_matches_by_the_rule() -> None:
    # Cut off after firmwareVersion, but its serialNumber line is whole: another recorder that
    # ends its DeviceSN with WCVU, after an all-digit label serial.
    name = "isapi/isapi-deviceinfo-NVR-DS-7108N-SN-P-V3.0.13-browser-view-truncated.xml"
    match = re.search(rb"<serialNumber>([^<]*)</serialNumber>", sample(name))
    assert match is not None
    assert match[1] == b"DS-7108N-SN/P0820160328AARR586321180WCVU"
    assert serial_matches(match[1].decode(), "586321180")


# Every real document, wrapped or not, cut at every byte: a result or a ParseError, never a
# crash. (The wrapped challenge and trace files are not XML; they are in here all the same.)
XML_LIKE = sorted(
    str(p.relative_to(REAL).as_posix())
    for p in REAL.rglob("*")
    if p.is_file() and p.parent.name in ("sadp", "isapi")
)


@pytest.mark.parametrize("name", XML_LIKE)
def test_every_truncation_raises_only_parse_error(name: str) -> None:
    data = sample(name)
    for cut in range(len(data) + 1):
        for parser in PARSERS.values():
            with contextlib.suppress(ParseError):
                parser(data[:cut])


# --- userCheck: the answer to a refused or locked login -------------------------------------

LOCKED_401 = "isapi/isapi-http401-userCheck-locked-realm-hex24-Webs-LF-in-js-comment.txt"
UNLOCKED_BODY = "isapi/isapi-userCheck-401-unlock-retry5-in-js-comment.txt"


def test_locked_401_sample_body() -> None:
    data = sample(LOCKED_401)
    status, headers, body = http_message(data)
    assert status == "HTTP/1.1 401 Unauthorized"
    assert headers["server"] == ["Webs"]
    # Content-Length counts the body with LF line ends and no final newline: the logged dump
    # added the trailing newline.
    body = body.removesuffix(b"\n")
    assert len(body) == int(headers["content-length"][0]) == 231
    assert b"xmlns" not in body  # no namespace on this firmware's userCheck
    assert parse_user_check(body) == LockInfo(locked=True, unlock_s=210, retry_left=0)
    assert_refused_by_every_parser(data)  # the whole dump, head and all, is not XML


def test_unlocked_user_check_sample() -> None:
    # Despite its name the file holds only the XML (no comment markers on its lines).
    data = sample(UNLOCKED_BODY)
    assert data.startswith(b"<userCheck>")
    assert parse_user_check(data) == LockInfo(locked=False, unlock_s=0, retry_left=5)


def test_reference_locked_fixture_agrees_with_the_real_one() -> None:
    ours = parse_user_check((FIXTURES / "isapi-usercheck-locked.xml").read_bytes())
    _, _, body = http_message(sample(LOCKED_401))
    real = parse_user_check(body.removesuffix(b"\n"))
    assert (ours.locked, ours.retry_left) == (real.locked, real.retry_left) == (True, 0)


# --- digest challenges ----------------------------------------------------------------------

REALM_FORMS = {
    "model": re.compile(r"DS-[0-9A-Z]+(?:-[0-9A-Z]+)*"),
    "IP Camera(id)": re.compile(r"IP Camera\([0-9A-Z]+\)"),
    "DS-hex8": re.compile(r"DS-[0-9A-F]{8}"),
    "hex24": re.compile(r"[0-9a-f]{24}"),
}


@dataclass(frozen=True)
class Challenge:
    read: Callable[[bytes], list[str]]  # the WWW-Authenticate values in the file, in order
    realm_form: str
    params: dict[str, str]  # the Digest challenge's parameters, exactly
    stale: bool | None
    schemes: list[str]  # every scheme offered, in order
    headers: int  # how many WWW-Authenticate values (2 = Digest and Basic as two headers)


CHALLENGES: dict[str, Challenge] = {
    "isapi/isapi-www-authenticate-DS-2CD2310FD-I-digest-and-authorization-onvif-in-javadoc.txt": (
        Challenge(
            read=header_lines,
            realm_form="model",
            params={
                "qop": "auth",
                "realm": "DS-2CD2310FD-I",
                "nonce": "4e555130516a6b304e546f784e7a49334e7a417a59513d3d",
            },
            stale=None,
            schemes=["digest"],
            headers=1,
        )
    ),
    "isapi/isapi-www-authenticate-DS-2CD2310FD-I-digest-stale-TRUE-plus-basic-"
    "in-java-comment.txt": (
        Challenge(
            read=header_lines,
            realm_form="model",
            params={
                "qop": "auth",
                "realm": "DS-2CD2310FD-I",
                "nonce": "4d6a4931516a51304e554d364e445935595759785954553d",
                "stale": "TRUE",
            },
            stale=True,
            schemes=["digest", "basic"],
            headers=2,
        )
    ),
    "isapi/isapi-www-authenticate-DS-KB8113-IME1-B-realm-DS-hex8-base64-nonce-in-python.txt": (
        Challenge(
            read=lambda data: python_string(data, "REAL_CHALLENGE"),
            realm_form="DS-hex8",
            params={
                "qop": "auth",
                "realm": "DS-0CED27ED",
                "nonce": "MGJmMjYxMzJlZDRlMzI3YzIyMWIyMzU2ZDVjM2E3NGI=",  # base64, padded
                "stale": "false",
                "opaque": "",
                "domain": "::",
            },
            stale=False,
            schemes=["digest"],
            headers=1,
        )
    ),
    "isapi/isapi-www-authenticate-IP-Camera-76475-digest-plus-basic-joined-in-js-test.txt": (
        Challenge(
            read=lambda data: js_string(data, "header"),
            realm_form="IP Camera(id)",
            params={
                "qop": "auth",
                "realm": "IP Camera(76475)",
                "nonce": "4e4449794d575269597a706b5a575935595441324d673d3d",
                "stale": "FALSE",
            },
            stale=False,
            schemes=["digest", "basic"],  # joined in one header
            headers=1,
        )
    ),
    "isapi/rtsp-401-IP-Camera-C2875-ffplay-trace.txt": Challenge(
        read=header_lines,
        realm_form="IP Camera(id)",
        params={
            "realm": "IP Camera(C2875)",
            "nonce": "938032d91ffc30ca80b5da94c18887ac",
            "stale": "FALSE",
        },  # no qop: the RFC 2069 form
        stale=False,
        schemes=["digest"],
        headers=1,
    ),
    "isapi/isapi-http401-alertStream-IP-Camera-C2183-vendor-doc-example.txt": Challenge(
        read=header_lines,
        realm_form="IP Camera(id)",
        params={
            "qop": "auth",
            "realm": "IP Camera(C2183)",
            "nonce": "4e5468694e7a42694e7a4d364f4449354d7a6b354d54513d",
            "stale": "FALSE",
        },
        stale=False,
        schemes=["digest"],
        headers=1,
    ),
    LOCKED_401: Challenge(
        read=header_lines,
        realm_form="hex24",
        params={
            "realm": "c504892f438ee5f2114e9fdd",
            "domain": "::",
            "qop": "auth",
            "nonce": "158ca9b5cb4b32a578432756aef2a189:1669838955551",
            "opaque": "",
            "algorithm": "MD5",
            "stale": "FALSE",
        },
        stale=False,
        schemes=["digest", "basic"],
        headers=2,
    ),
}


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def check_authorization(header: str, challenge: dict[str, str], method: str, password: str) -> None:
    """Verify a Digest Authorization the way a camera does, independently of rig's code."""
    [(scheme, p)] = parse_challenges(header)
    assert scheme == "digest"
    assert (p["realm"], p["nonce"]) == (challenge["realm"], challenge["nonce"])
    assert ("opaque" in p) == ("opaque" in challenge)  # echoed, even when empty
    if "opaque" in challenge:
        assert p["opaque"] == challenge["opaque"]
    ha1 = md5(f"{p['username']}:{p['realm']}:{password}")
    ha2 = md5(f"{method}:{p['uri']}")
    if "qop" in challenge:
        assert (p["qop"], p["nc"]) == ("auth", "00000001") and p["cnonce"]
        expected = md5(f"{ha1}:{p['nonce']}:{p['nc']}:{p['cnonce']}:{p['qop']}:{ha2}")
    else:
        assert "qop" not in p and "cnonce" not in p
        expected = md5(f"{ha1}:{p['nonce']}:{ha2}")
    assert p["response"] == expected


@pytest.mark.parametrize("name", list(CHALLENGES))
def test_digest_challenge_sample(name: str) -> None:
    expected = CHALLENGES[name]
    values = expected.read(sample(name))
    assert len(values) == expected.headers
    assert [scheme for scheme, _ in parse_challenges(values)] == expected.schemes
    challenge = digest_challenge(values)
    assert challenge == expected.params
    assert REALM_FORMS[expected.realm_form].fullmatch(challenge["realm"])
    assert parse_bool(challenge.get("stale")) is expected.stale
    # The same challenge as requests would hand it over, folded into one header.
    assert digest_challenge(", ".join(values)) == expected.params
    # Rig can answer it: one Authorization, right by a camera's own check.
    digest = _Digest(challenge)
    for method, uri in [("GET", "/ISAPI/System/deviceInfo"), ("PUT", "/ISAPI/System/reboot")]:
        header = digest.authorization(method, uri, "admin", "Sekr3t-Pa55")
        assert header.startswith("Digest ")
        check_authorization(header, challenge, method, "Sekr3t-Pa55")


def test_digest_known_answer_from_the_javadoc_sample() -> None:
    """The sample carries a client's Authorization for the camera's challenge. With the same
    cnonce, rig's digest gives the same response, so the arithmetic is the camera's.

    The sample does not name the password or the method: admin123 and POST (ONVIF is SOAP over
    POST) are the ones that reproduce its response."""
    name = (
        "isapi/isapi-www-authenticate-DS-2CD2310FD-I-digest-and-authorization-onvif-in-javadoc.txt"
    )
    data = sample(name)
    challenge = digest_challenge(header_lines(data))
    assert challenge is not None
    [(scheme, theirs)] = parse_challenges(header_lines(data, "Authorization"))
    assert scheme == "digest"
    ours_header = _Digest(challenge).authorization(
        "POST", theirs["uri"], theirs["username"], "admin123", cnonce=theirs["cnonce"]
    )
    [(_, ours)] = parse_challenges(ours_header)
    assert ours["response"] == theirs["response"] == "518fd6d1666f9f00a5c5097359188c4e"
    for key in ("username", "realm", "nonce", "uri", "qop", "nc", "cnonce", "algorithm"):
        assert ours[key] == theirs[key], key


@pytest.mark.parametrize("name", list(CHALLENGES))
def test_challenge_files_are_not_xml(name: str) -> None:
    # As published (comment markers, traces), none is a document a parser would take.
    assert_refused_by_every_parser(sample(name))


# --- the same answers, replayed by a server on 127.0.0.1 ------------------------------------


class Replay(socketserver.ThreadingTCPServer):
    """Answers every HTTP request on a keep-alive connection with one canned response and
    records the requests' Authorization headers (None when there was none)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, response: bytes) -> None:
        super().__init__(("127.0.0.1", 0), ReplayHandler)
        self.response = response
        self.authorizations: list[str | None] = []


class ReplayHandler(socketserver.StreamRequestHandler):
    server: Replay

    def handle(self) -> None:
        self.connection.settimeout(10)
        with contextlib.suppress(OSError):
            while True:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    chunk = self.rfile.readline(65537)
                    if not chunk:
                        return
                    head += chunk
                fields: dict[str, str] = {}
                for line in head.decode("latin-1").split("\r\n")[1:]:
                    name, _, value = line.partition(":")
                    fields[name.strip().lower()] = value.strip()
                self.rfile.read(int(fields.get("content-length", "0")))
                self.server.authorizations.append(fields.get("authorization"))
                self.wfile.write(self.server.response)
                self.wfile.flush()


@contextlib.contextmanager
def replaying(response: bytes) -> Iterator[Replay]:
    server = Replay(response)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.daemon = True
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def http_401(values: list[str], body: bytes = b"") -> bytes:
    head = ["HTTP/1.1 401 Unauthorized", "Content-Type: text/html"]
    head += [f"WWW-Authenticate: {value}" for value in values]
    head += [f"Content-Length: {len(body)}", "", ""]
    return "\r\n".join(head).encode() + body


def test_locked_401_replayed_sends_no_credentials() -> None:
    """The real locked answer, byte for byte in its body and headers (its line ends made CRLF
    for the wire): rig reads the lock and never sends a login."""
    status, _, body = http_message(sample(LOCKED_401))
    head = sample(LOCKED_401).partition(b"\n\n")[0].replace(b"\n", b"\r\n")
    with replaying(head + b"\r\n\r\n" + body.removesuffix(b"\n")) as server:
        port = int(server.server_address[1])
        with IsapiClient("127.0.0.1", port, timeout_s=10.0) as client:
            info, exchange, lock = client.device_info("admin", "Sekr3t-Pa55")
    assert status.endswith("401 Unauthorized")
    assert info is None
    assert lock == LockInfo(locked=True, unlock_s=210, retry_left=0)
    assert exchange.status == 401 and exchange.login_attempts == 0
    assert exchange.error == "client IP is locked out by the device; no login attempted"
    assert server.authorizations == [None]


@pytest.mark.parametrize("name", list(CHALLENGES))
def test_real_challenge_replayed_gets_one_digest_login(name: str) -> None:
    """Each real challenge, served as the file has it (two headers stay two, a joined one stays
    joined): rig answers with exactly one Digest login, never Basic."""
    values = CHALLENGES[name].read(sample(name))
    with replaying(http_401(values)) as server:
        port = int(server.server_address[1])
        with IsapiClient("127.0.0.1", port, timeout_s=10.0) as client:
            info, exchange, lock = client.device_info("admin", "Sekr3t-Pa55")
    assert info is None and lock is None
    assert exchange.login_attempts == 1
    assert exchange.error == "HTTP 401: login refused"
    first, login = server.authorizations
    assert first is None and login is not None
    challenge = digest_challenge(values)
    assert challenge is not None
    check_authorization(login, challenge, "GET", "Sekr3t-Pa55")


# --- SNMP recordings of real PoE switches ---------------------------------------------------

NETGEAR = "snmp/librenms-netgear_gs324tp.snmprec"
TPLINK = "snmp/librenms-jetstream_sg2218p-TP-Link-SG2218P-1.20.4-trimmed.snmprec"
CISCO = "snmp/librenms-ios_2960x-WS-C2960X-48FPS-L-stack-IOS15.0-2a-EX5-trimmed.snmprec"
SNMP = [NETGEAR, TPLINK, CISCO]

Oid = tuple[int, ...]
SnmpValue = int | str | bytes


def oid(text: str) -> Oid:
    return tuple(int(part) for part in text.split("."))


def read_snmprec(data: bytes) -> dict[Oid, tuple[str, SnmpValue]]:
    """snmprec, `OID|type|value` a line (snmpsim's format): type 2 Integer, 4 OctetString
    (`4x`: its value hex-encoded), 6 OID, 65/66/67 Counter32/Gauge32/TimeTicks."""
    rows: dict[Oid, tuple[str, SnmpValue]] = {}
    for line in data.decode("ascii").splitlines():
        if not line:
            continue
        name, kind, text = line.split("|", 2)
        value: SnmpValue
        if kind == "4x":
            value = bytes.fromhex(text)
        elif kind in ("2", "65", "66", "67"):
            value = int(text)
        elif kind in ("4", "6"):
            value = text
        else:
            raise AssertionError(f"snmprec type {kind!r} not known to this reader")
        key = oid(name)
        assert key not in rows, f"{name} twice"
        rows[key] = (kind, value)
    return rows


def under(rows: dict[Oid, tuple[str, SnmpValue]], prefix: str) -> dict[Oid, SnmpValue]:
    """The rows under `prefix`, keyed by the OID's rest (the column and index)."""
    base = oid(prefix)
    return {k[len(base) :]: v for k, (_, v) in rows.items() if k[: len(base)] == base}


POWER_ETHERNET_MIB = "1.3.6.1.2.1.105"
PETH_PSE_PORT_TABLE = "1.3.6.1.2.1.105.1.1"
PETH_MAIN_PSE_TABLE = "1.3.6.1.2.1.105.1.3.1.1"  # pethMainPseEntry: columns 2..5 (RFC 3621)
SYS_DESCR = "1.3.6.1.2.1.1.1.0"
DOT1D_BASE_PORT_IFINDEX = "1.3.6.1.2.1.17.1.4.1.2"
DOT1D_STP_PORT = "1.3.6.1.2.1.17.2.15.1.1"
DOT1Q_TP_FDB_PORT = "1.3.6.1.2.1.17.7.1.2.2.1.2"  # index: VLAN, then the 6 MAC bytes
IF_ALIAS = "1.3.6.1.2.1.31.1.1.1.18"
IF_PHYS_ADDRESS = "1.3.6.1.2.1.2.2.1.6"
DOT1D_BASE_BRIDGE_ADDRESS = "1.3.6.1.2.1.17.1.1.0"


@pytest.fixture(scope="module")
def switches() -> dict[str, dict[Oid, tuple[str, SnmpValue]]]:
    return {name: read_snmprec(sample(name)) for name in SNMP}


@pytest.mark.parametrize("name", SNMP)
def test_no_switch_has_per_port_poe_rows(
    switches: dict[str, dict[Oid, tuple[str, SnmpValue]]], name: str
) -> None:
    rows = switches[name]
    assert rows  # read, and not empty
    assert under(rows, PETH_PSE_PORT_TABLE) == {}


def test_tplink_has_no_power_ethernet_mib(
    switches: dict[str, dict[Oid, tuple[str, SnmpValue]]],
) -> None:
    assert under(switches[TPLINK], POWER_ETHERNET_MIB) == {}


def test_tplink_bridge_ports_and_fdb_ports_differ(
    switches: dict[str, dict[Oid, tuple[str, SnmpValue]]],
) -> None:
    rows = switches[TPLINK]
    base_ports = under(rows, DOT1D_BASE_PORT_IFINDEX)
    # dot1dBasePortIfIndex: indexed by bridge port 49153..49170, each the ifIndex of the same
    # number (gigabitEthernet 1/0/1..18).
    assert sorted(base_ports) == [(n,) for n in range(49153, 49171)]
    assert all(value == index[0] for index, value in base_ports.items())
    # The FDB's ports are 1..18: no FDB port number is in the bridge-port table.
    fdb = under(rows, DOT1Q_TP_FDB_PORT)
    fdb_ports = {value for value in fdb.values() if isinstance(value, int)}
    assert len(fdb_ports) == len(set(fdb.values()))  # every FDB port is an Integer
    assert min(fdb_ports) == 1 and max(fdb_ports) == 18
    assert not {(p,) for p in fdb_ports} & set(base_ports)
    # What links them: dot1dStpPort under index 49152+n says n.
    stp = under(rows, DOT1D_STP_PORT)
    assert {index[0]: value for index, value in stp.items()} == {49152 + n: n for n in range(1, 19)}


def test_tplink_fdb_holds_hikvision_cameras_on_the_camera_vlan(
    switches: dict[str, dict[Oid, tuple[str, SnmpValue]]],
) -> None:
    rows = switches[TPLINK]
    fdb = under(rows, DOT1Q_TP_FDB_PORT)
    alias = {index[0]: value for index, value in under(rows, IF_ALIAS).items()}
    hikvision = {  # OUI 24:32:ae, Hikvision's (SOURCES.md)
        "-".join(f"{b:02x}" for b in index[1:]): (index[0], port)
        for index, port in fdb.items()
        if index[1:4] == (0x24, 0x32, 0xAE)
    }
    assert len(hikvision) == 11
    for mac, (vlan, port) in hikvision.items():
        assert vlan == 31, mac
        assert isinstance(port, int) and 1 <= port <= 11
        label = alias[49152 + port]  # FDB port n is bridge port / ifIndex 49152+n
        assert isinstance(label, str) and label.startswith("ac31: "), (mac, label)
    assert hikvision["24-32-ae-77-43-cd"] == (31, 11)
    assert alias[49152 + 11] == "ac31: DVR (p11)"
    assert hikvision["24-32-ae-a3-5f-17"] == (31, 1)
    assert alias[49152 + 1] == "ac31: Kam (p1)"


def test_tplink_mac_hex_in_mixed_case(
    switches: dict[str, dict[Oid, tuple[str, SnmpValue]]],
) -> None:
    raw = sample(TPLINK).decode()
    assert f"{DOT1D_BASE_BRIDGE_ADDRESS}|4x|30DE4BF5F7E2\n" in raw  # upper case here
    assert f"{IF_PHYS_ADDRESS}.49153|4x|30de4bf5f7e2\n" in raw  # lower case there
    rows = switches[TPLINK]
    assert rows[oid(DOT1D_BASE_BRIDGE_ADDRESS)][1] == rows[oid(IF_PHYS_ADDRESS + ".49153")][1]


def test_sysdescr_encodings(switches: dict[str, dict[Oid, tuple[str, SnmpValue]]]) -> None:
    # The Cisco's sysDescr is hex-encoded (it holds CR LF). The TP-Link's and the Netgear's are
    # plain text: the fixtures README says the TP-Link's is hex-encoded; the file says not.
    kind, descr = switches[CISCO][oid(SYS_DESCR)]
    assert kind == "4x" and isinstance(descr, bytes)
    assert descr.startswith(b"Cisco IOS Software, C2960X Software (C2960X-UNIVERSALK9-M), ")
    assert b"Version 15.0(2a)EX5" in descr and b"\r\n" in descr
    assert switches[TPLINK][oid(SYS_DESCR)] == (
        "4",
        "Omada 18-Port Gigabit Smart Switch with 16-Port PoE+",
    )
    kind, text = switches[NETGEAR][oid(SYS_DESCR)]
    assert kind == "4" and isinstance(text, str) and text.endswith("(190W)")


def test_netgear_main_pse_columns(switches: dict[str, dict[Oid, tuple[str, SnmpValue]]]) -> None:
    main = under(switches[NETGEAR], PETH_MAIN_PSE_TABLE)
    assert main == {
        (2, 1): 190,  # pethMainPsePower: the budget, in watts (sysDescr: "190W")
        (3, 1): 1,  # pethMainPseOperStatus: on
        (4, 1): 3800,  # pethMainPseConsumptionPower: watts by the MIB, mW here (3.8 W)
        (5, 1): 95,  # pethMainPseUsageThreshold, %
        (6, 1): "1.8.0.5",  # not in RFC 3621: a vendor's extra column
    }
    assert under(switches[NETGEAR], POWER_ETHERNET_MIB).keys() == {
        (1, 3, 1, 1, *key) for key in main
    }


def test_cisco_stack_reports_group_1_only(
    switches: dict[str, dict[Oid, tuple[str, SnmpValue]]],
) -> None:
    rows = switches[CISCO]
    assert under(rows, POWER_ETHERNET_MIB) == {
        (1, 3, 1, 1, 2, 1): 370,  # the budget, W
        (1, 3, 1, 1, 3, 1): 1,
        (1, 3, 1, 1, 4, 1): 115,  # consumption, W
        (1, 3, 1, 1, 5, 1): 0,
    }
    # ...although the stack has three members' ports.
    members = {
        re.match(r"GigabitEthernet(\d)/", v)[1]  # type: ignore[index]
        for _, v in under(rows, "1.3.6.1.2.1.2.2.1.2").items()
        if isinstance(v, str) and v.startswith("GigabitEthernet")
    }
    assert members == {"1", "2", "3"}


# --- every file is somebody's ----------------------------------------------------------------

COVERED: set[str] = {
    *SADP_SAMPLES,
    *DEVICE_INFO,
    *RESPONSE_STATUS,
    *OTHER_DOCUMENTS,
    *TRUNCATED,
    *CHALLENGES,
    LOCKED_401,
    UNLOCKED_BODY,
    *SNMP,
    "SOURCES.md",  # test_sources_names_every_sample
}


def real_files() -> set[str]:
    return {p.relative_to(REAL).as_posix() for p in REAL.rglob("*") if p.is_file()}


def test_every_real_file_is_covered() -> None:
    files = real_files()
    assert files - COVERED == set(), "a real sample no test reads: add it to a registry here"
    assert COVERED - files == set(), "a registry names a file that is not there"


def test_sources_names_every_sample() -> None:
    sources = (REAL / "SOURCES.md").read_text()
    listed = {
        f"{section}/{name}"
        for section, table in re.findall(r"^## (\w+)/\n(.*?)(?=^## |\Z)", sources, re.M | re.S)
        for name in re.findall(r"^\| ([^ |]+\.(?:xml|txt|snmprec)) \|", table, re.M)
    }
    assert listed == real_files() - {"SOURCES.md"}
