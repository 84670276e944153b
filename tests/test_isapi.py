"""ISAPI parsers against the reference captures and fuzz, and IsapiClient against a local camera.

Every socket here is on 127.0.0.1. The fake camera checks digest responses the way a camera
does (RFC 2617, MD5, qop=auth) with its own code, not requests', so a wrong digest fails.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import logging
import socket
import threading
import time
import tracemalloc
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rig.errors import ParseError
from rig.network.isapi import (
    DeviceInfo,
    Exchange,
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

FIXTURES = Path(__file__).parent / "fixtures"
PARSERS: list[Callable[[bytes], object]] = [
    parse_activate_status,
    parse_device_info,
    parse_response_status,
    parse_user_check,
]
XML_FIXTURES = [
    "isapi-activatestatus.xml",
    "isapi-deviceinfo-v5.5.0.xml",
    "isapi-usercheck-locked.xml",
    "sadp-probematch-dvr.xml",
]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def response_status(code: int, string: str = "OK", ns: str = "ver20") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<ResponseStatus version="2.0" xmlns="http://www.hikvision.com/{ns}/XMLSchema">\n'
        "<requestURL>/ISAPI/System/factoryReset</requestURL>\n"
        f"<statusCode>{code}</statusCode>\n<statusString>{string}</statusString>\n"
        "<subStatusCode>ok</subStatusCode>\n</ResponseStatus>\n"
    ).encode()


def user_check(lock: str | None, unlock_s: int, retry: int) -> bytes:
    status = f"<lockStatus>{lock}</lockStatus>" if lock is not None else ""
    return (
        '<userCheck version="2.0" xmlns="http://www.isapi.org/ver20/XMLSchema">'
        "<statusValue>401</statusValue><statusString>Unauthorized</statusString>"
        f"{status}<unlockTime>{unlock_s}</unlockTime><retryLoginTime>{retry}</retryLoginTime>"
        "</userCheck>"
    ).encode()


# --- parsers on the reference captures -----------------------------------------------------


def test_activate_status_fixture_is_namespaced_and_inactive() -> None:
    assert parse_activate_status(fixture("isapi-activatestatus.xml")) is False


@pytest.mark.parametrize(
    "body",
    [
        b"<ActivateStatus><Activated>true</Activated></ActivateStatus>",
        b'<activatestatus xmlns="http://www.isapi.org/ver20/XMLSchema">'
        b"<ACTIVATED> TRUE </ACTIVATED></activatestatus>",
        b'<h:ActivateStatus xmlns:h="http://www.hikvision.com/ver10/XMLSchema">'
        b"<h:Activated>true</h:Activated></h:ActivateStatus>",
    ],
)
def test_activate_status_any_namespace_and_case(body: bytes) -> None:
    assert parse_activate_status(body) is True


@pytest.mark.parametrize(
    "body",
    [
        b"<ActivateStatus></ActivateStatus>",
        b"<ActivateStatus><Activated>yes</Activated></ActivateStatus>",
        b"<DeviceInfo><Activated>true</Activated></DeviceInfo>",
    ],
)
def test_activate_status_rejects_what_it_cannot_read(body: bytes) -> None:
    with pytest.raises(ParseError):
        parse_activate_status(body)


def test_device_info_fixture_with_crlf() -> None:
    info = parse_device_info(fixture("isapi-deviceinfo-v5.5.0.xml"))
    assert info == DeviceInfo(
        model="DS-2CD2155FWD-I",
        serial="DS-2CD2155FWD-XXXXXXXXXXXXXXXXXXXXX",
        mac=None,  # masked with X by its publisher: not a MAC
        firmware="V5.5.0",
    )
    assert info.raw["macAddress"] == "XX:XX:XX:XX:XX:XX"
    assert info.raw["firmwareReleasedDate"] == "build 170725"
    assert info.raw["deviceName"] == "IP CAMERA"  # no stray CR
    assert len(info.raw) == 20


def test_device_info_normalises_a_real_mac() -> None:
    body = b"<DeviceInfo><model>X</model><MACADDRESS>44:19:B6:0A:0B:0C</MACADDRESS></DeviceInfo>"
    assert parse_device_info(body).mac == "44-19-b6-0a-0b-0c"


def test_user_check_locked_fixture() -> None:
    assert parse_user_check(fixture("isapi-usercheck-locked.xml")) == LockInfo(
        locked=True, unlock_s=1800, retry_left=0
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (user_check("unlock", 0, 6), LockInfo(False, 0, 6)),
        (user_check("LOCK", 1800, 0), LockInfo(True, 1800, 0)),
        (user_check(None, 0, 3), LockInfo(False, 0, 3)),
        (user_check(None, 0, 0), LockInfo(True, 0, 0)),  # no retries left: locked
        (user_check(None, 600, 2), LockInfo(True, 600, 2)),  # an unlock pending: locked
    ],
)
def test_user_check_variants(body: bytes, expected: LockInfo) -> None:
    assert parse_user_check(body) == expected


@pytest.mark.parametrize(
    "number", ["³", "²", "1²", "８", "٣", "+1", "-1", "1_0", "1e3", "1234567890"]
)
def test_numbers_are_ascii_digits_only(number: str) -> None:
    # '³'.isdigit() is True and int('³') raises: this was a ValueError out of the parser.
    body = f"<userCheck><unlockTime>{number}</unlockTime><retryLoginTime>{number}</retryLoginTime>"
    info = parse_user_check((body + "</userCheck>").encode())
    assert (info.unlock_s, info.retry_left, info.locked) == (None, None, False)
    with pytest.raises(ParseError, match="numeric statusCode"):
        parse_response_status(
            f"<ResponseStatus><statusCode>{number}</statusCode></ResponseStatus>".encode()
        )


def test_numbers_ascii_with_whitespace() -> None:
    info = parse_user_check(b"<userCheck><unlockTime> 210\n</unlockTime></userCheck>")
    assert info == LockInfo(locked=True, unlock_s=210, retry_left=None)


def test_user_check_rejects_unknown_lock_status() -> None:
    with pytest.raises(ParseError, match="lockStatus"):
        parse_user_check(user_check("maybe", 0, 0))


def test_response_status() -> None:
    status = parse_response_status(response_status(1))
    assert status == ResponseStatus(1, "OK", "ok")
    assert status.ok and not status.reboot_required
    reboot = parse_response_status(response_status(7, "Reboot Required", ns="ver10"))
    assert reboot.reboot_required and reboot.status_string == "Reboot Required"


@pytest.mark.parametrize(
    "body",
    [
        b"<ResponseStatus><statusString>OK</statusString></ResponseStatus>",
        b"<ResponseStatus><statusCode>one</statusCode></ResponseStatus>",
        b"<ResponseStatus><statusCode>-1</statusCode></ResponseStatus>",
    ],
)
def test_response_status_needs_a_numeric_code(body: bytes) -> None:
    with pytest.raises(ParseError, match="statusCode"):
        parse_response_status(body)


def test_401_capture_body_is_not_xml_we_read() -> None:
    # The camera's 401 page is HTML with a DOCTYPE: refused as a DTD, never parsed.
    body = fixture("isapi-401-digest.txt").split(b"\n\n", 1)[1]
    for parser in PARSERS:
        with pytest.raises(ParseError):
            parser(body)


def test_parsers_refuse_each_others_documents() -> None:
    with pytest.raises(ParseError, match="expected <ActivateStatus>"):
        parse_activate_status(fixture("isapi-deviceinfo-v5.5.0.xml"))
    with pytest.raises(ParseError, match="expected <DeviceInfo>"):
        parse_device_info(fixture("isapi-activatestatus.xml"))


# --- hostile input: only ParseError, ever --------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<ActivateStatus><Activated>&lol4;</Activated></ActivateStatus>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<DeviceInfo><model>&x;</model></DeviceInfo>"""


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (BILLION_LAUGHS, "DTD"),
        (EXTERNAL_ENTITY, "DTD"),
        (b"<DeviceInfo><model>caf\xe9</model></DeviceInfo>", "not UTF-8"),
        ("<DeviceInfo/>".encode("utf-16"), "not UTF-8"),
        (b"<DeviceInfo>" + b"<x>1</x>" * 9000 + b"</DeviceInfo>", "over the 65536-byte"),
        (b"", "empty"),
        (b"<a><b></a>", "not well-formed"),
    ],
)
def test_hostile_documents(parser: Callable[[bytes], object], body: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message) as info:
        parser(body)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("name", XML_FIXTURES)
def test_every_truncation_of_every_capture(parser: Callable[[bytes], object], name: str) -> None:
    data = fixture(name)
    for cut in range(len(data)):
        with contextlib.suppress(ParseError):
            parser(data[:cut])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=2048))
def test_random_bytes_raise_only_parse_error(data: bytes) -> None:
    for parser in PARSERS:
        with contextlib.suppress(ParseError):
            parser(data)


@settings(max_examples=200, deadline=None)
@given(
    name=st.sampled_from(XML_FIXTURES),
    position=st.integers(min_value=0, max_value=2000),
    junk=st.binary(min_size=1, max_size=8),
)
def test_corrupted_captures_raise_only_parse_error(name: str, position: int, junk: bytes) -> None:
    data = fixture(name)
    position %= len(data)
    corrupted = data[:position] + junk + data[position + len(junk) :]
    for parser in PARSERS:
        with contextlib.suppress(ParseError):
            parser(corrupted)


# --- WWW-Authenticate ----------------------------------------------------------------------

DIGEST = 'Digest qop="auth", realm="IP Camera(76475)", nonce="4e44", stale="FALSE"'


@pytest.mark.parametrize(
    "values",
    [
        DIGEST,
        [DIGEST],
        [DIGEST, 'Basic realm="IP Camera(76475)"'],  # two headers
        ['Basic realm="IP Camera(76475)"', DIGEST],
        DIGEST + ', Basic realm="IP Camera(76475)"',  # joined in one, as some firmware sends
        'Basic realm="IP Camera(76475)", ' + DIGEST,  # how requests folds two headers
        'Basic realm="a, b", ' + DIGEST,
        "Negotiate YWJj==, " + DIGEST,
        'DIGEST QOP="auth", Realm="IP Camera(76475)", NONCE="4e44", stale=FALSE',
        'Digest qop = "auth" ,realm="IP Camera(76475)",nonce=4e44, stale="FALSE"',
    ],
)
def test_digest_challenge_any_arrangement(values: str | list[str]) -> None:
    challenge = digest_challenge(values)
    assert challenge is not None
    assert (challenge["realm"], challenge["nonce"], challenge["qop"]) == (
        "IP Camera(76475)",
        "4e44",
        "auth",
    )
    assert challenge["stale"].lower() == "false"


def test_parse_challenges_keeps_every_scheme_in_order() -> None:
    assert parse_challenges(DIGEST + ', Basic realm="IP Camera(76475)"') == [
        ("digest", {"qop": "auth", "realm": "IP Camera(76475)", "nonce": "4e44", "stale": "FALSE"}),
        ("basic", {"realm": "IP Camera(76475)"}),
    ]


@pytest.mark.parametrize(
    ("value", "realm"),
    [
        (r'Digest realm="a\"b", nonce="n"', 'a"b'),  # escaped quote
        (r'Digest realm="a\\b", nonce="n"', "a\\b"),
        ('Digest realm="a, b=c", nonce="n"', "a, b=c"),  # separators inside quotes
        ('Digest realm="", nonce="n"', ""),
        ('Digest realm="x", realm="y", nonce="n"', "x"),  # a repeat keeps the first
    ],
)
def test_digest_challenge_quoting(value: str, realm: str) -> None:
    assert digest_challenge(value) == {"realm": realm, "nonce": "n"}


@pytest.mark.parametrize(
    "values",
    [
        "",
        [],
        'Basic realm="cam"',
        ['Basic realm="cam"', 'Bearer realm="x"'],
        'realm="x", nonce="n"',  # parameters without a scheme
        'Digestive realm="x"',
    ],
)
def test_no_digest_challenge(values: str | list[str]) -> None:
    assert digest_challenge(values) is None


@settings(max_examples=300, deadline=None)
@given(value=st.text(max_size=200))
def test_any_header_value_parses_without_raising(value: str) -> None:
    for scheme, params in parse_challenges([value, DIGEST + ", " + value]):
        assert scheme and scheme == scheme.lower()
        assert all(name == name.lower() for name in params)
    assert digest_challenge(DIGEST + ", " + value) is not None


def quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@settings(max_examples=300, deadline=None)
@given(
    params=st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True),
        st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30),
        max_size=6,
    ),
    basic_first=st.booleans(),
    joined=st.booleans(),
)
def test_digest_challenge_round_trip(
    params: dict[str, str], basic_first: bool, joined: bool
) -> None:
    # Whatever printable ASCII a device quotes (commas, '=', quotes, backslashes, 'Basic'),
    # the parameters come back exactly, with Basic before or after, joined or not.
    digest = "Digest " + ", ".join(f"{k}={quoted(v)}" for k, v in params.items())
    basic = 'Basic realm="x, Digest realm=y"'
    values = [basic, digest] if basic_first else [digest, basic]
    assert digest_challenge(", ".join(values) if joined else values) == params


def test_digest_authorization_echoes_an_empty_opaque() -> None:
    challenge = digest_challenge('Digest realm="r", nonce="n", opaque="", algorithm="MD5"')
    assert challenge is not None
    header = _Digest(challenge).authorization("GET", "/x", "admin", "pw", cnonce="c")
    params = parse_challenges(header)[0][1]
    assert params["opaque"] == "" and params["algorithm"] == "MD5" and "qop" not in params
    ha1 = hashlib.md5(b"admin:r:pw").hexdigest()
    ha2 = hashlib.md5(b"GET:/x").hexdigest()
    assert params["response"] == hashlib.md5(f"{ha1}:n:{ha2}".encode()).hexdigest()


@pytest.mark.parametrize(
    ("challenge", "message"),
    [
        ('Digest nonce="n"', "without realm or nonce"),
        ('Digest realm="r"', "without realm or nonce"),
        ('Digest realm="r", nonce="n", algorithm="SHA-1"', "not supported"),
        ('Digest realm="r", nonce="n", qop="auth-int"', "not supported"),
    ],
)
def test_unusable_digest_challenges(challenge: str, message: str) -> None:
    params = digest_challenge(challenge)
    assert params is not None
    with pytest.raises(ValueError, match=message):
        _Digest(params)


@pytest.mark.parametrize(
    ("challenge", "name"),
    [
        ({"realm": "a\r\nX-Injected: 1", "nonce": "n"}, "realm"),
        ({"realm": "r", "nonce": "n\x00"}, "nonce"),
        ({"realm": "r", "nonce": "n", "opaque": "\x7f"}, "opaque"),
        ({"realm": "r", "nonce": "n", "algorithm": "ſHA-256"}, "algorithm"),  # upper(): SHA-256
        ({"realm": "摄像机", "nonce": "n"}, "realm"),
        ({"realm": "IP Camera(76475)", "nonce": "n", "qop": "auth\t"}, "qop"),
    ],
)
def test_digest_refuses_what_it_cannot_echo_safely(challenge: dict[str, str], name: str) -> None:
    with pytest.raises(ValueError, match=f"challenge {name} is not printable ASCII"):
        _Digest(challenge)


@pytest.mark.parametrize("user", ["ad\r\nmin", "admín", "ad\x00min"])
def test_digest_refuses_a_username_it_cannot_send(user: str) -> None:
    digest = _Digest({"realm": "r", "nonce": "n"})
    with pytest.raises(ValueError, match="printable ASCII"):
        digest.authorization("GET", "/x", user, "pw")


# --- a fake camera on 127.0.0.1 -------------------------------------------------------------

ADMIN = "admin"
PASSWORD = "Sekr3t-Pa55"  # the test asserts this string never reaches evidence or logs


def _capture_401() -> tuple[str, bytes]:
    head, _, body = fixture("isapi-401-digest.txt").partition(b"\n\n")
    for line in head.decode().splitlines():
        name, _, value = line.partition(":")
        if name.lower() == "www-authenticate":
            return value.strip(), body
    raise AssertionError("the 401 capture has no WWW-Authenticate")


CHALLENGE, CHALLENGE_BODY = _capture_401()
CHALLENGE_PARAMS = urllib.request.parse_keqv_list(
    urllib.request.parse_http_list(CHALLENGE.partition(" ")[2])
)


@dataclass
class FakeCamera:
    password: str = PASSWORD
    mode: str = "normal"
    release: threading.Event = field(default_factory=threading.Event)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    bytes_sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def authorizations(self) -> list[str]:
        with self.lock:
            return [auth for _, _, auth in self.requests if auth is not None]

    def digest_ok(self, method: str, path: str, header: str) -> bool:
        scheme, _, params = header.partition(" ")
        if scheme != "Digest":
            return False
        p = urllib.request.parse_keqv_list(urllib.request.parse_http_list(params))
        if p.get("nonce") != CHALLENGE_PARAMS["nonce"] or p.get("uri") != path:
            return False

        def md5(text: str) -> str:
            return hashlib.md5(text.encode()).hexdigest()

        ha1 = md5(f"{p['username']}:{CHALLENGE_PARAMS['realm']}:{self.password}")
        ha2 = md5(f"{method}:{path}")
        expected = md5(f"{ha1}:{p['nonce']}:{p['nc']}:{p['cnonce']}:{p['qop']}:{ha2}")
        return p["username"] == ADMIN and p.get("response") == expected


class CameraHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the cameras' App-webs server does
    server: CameraServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def _send(
        self,
        status: int,
        body: bytes,
        headers: dict[str, str] | list[tuple[str, str]] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        pairs = list(headers.items()) if isinstance(headers, dict) else (headers or [])
        for name, value in pairs:  # a list may repeat a header (two WWW-Authenticate)
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        cam = self.server.camera
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        auth = self.headers.get("Authorization")
        with cam.lock:
            cam.requests.append((self.command, self.path, auth))
        if cam.mode == "silent":
            cam.release.wait(10)
            return
        if cam.mode == "huge":
            self._stream_huge()
            return
        if cam.mode == "dribble":
            self._dribble()
            return
        if self.path == "/SDK/activateStatus":
            self._send(200, fixture("isapi-activatestatus.xml"))
            return
        if cam.mode == "no_auth":
            self._answer()
            return
        if auth is None:
            if cam.mode == "huge_401":
                self._stream_huge(status=401, headers={"WWW-Authenticate": CHALLENGE})
            elif cam.mode == "basic_only":
                self._send(401, CHALLENGE_BODY, {"WWW-Authenticate": 'Basic realm="cam"'})
            elif cam.mode == "basic_then_digest":  # two headers, Basic first
                basic = ("WWW-Authenticate", 'Basic realm="cam"')
                self._send(401, CHALLENGE_BODY, [basic, ("WWW-Authenticate", CHALLENGE)])
            elif cam.mode == "joined_basic_first":  # one header, Basic first
                joined = 'Basic realm="cam", ' + CHALLENGE
                self._send(401, CHALLENGE_BODY, {"WWW-Authenticate": joined})
            elif cam.mode == "control_in_realm":
                bad = 'Digest qop="auth", realm="cam\x01", nonce="4e44"'
                self._send(401, CHALLENGE_BODY, {"WWW-Authenticate": bad})
            elif cam.mode == "joined_digest_first":
                joined = CHALLENGE + ', Basic realm="cam"'
                self._send(401, CHALLENGE_BODY, {"WWW-Authenticate": joined})
            elif cam.mode == "locked_now":
                self._send(
                    401,
                    fixture("isapi-usercheck-locked.xml"),
                    {"WWW-Authenticate": CHALLENGE},
                )
            else:
                self._send(401, CHALLENGE_BODY, {"WWW-Authenticate": CHALLENGE})
            return
        if cam.mode == "locked":
            self._send(401, fixture("isapi-usercheck-locked.xml"), {"WWW-Authenticate": CHALLENGE})
        elif cam.digest_ok(self.command, self.path, auth):
            self._answer()
        else:
            self._send(401, user_check("unlock", 0, 6), {"WWW-Authenticate": CHALLENGE})

    def _answer(self) -> None:
        if self.path == "/ISAPI/System/deviceInfo":
            self._send(200, fixture("isapi-deviceinfo-v5.5.0.xml"))
        elif self.path.startswith("/ISAPI/System/factoryReset"):
            self._send(200, response_status(7, "Reboot Required"))
        elif self.path == "/ISAPI/System/reboot":
            self._send(200, response_status(1))
        else:
            self._send(404, b"")

    def _stream_huge(self, status: int = 200, headers: dict[str, str] | None = None) -> None:
        total = 100 * 1024 * 1024
        chunk = b"x" * 65536
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(total))
        self.end_headers()
        try:
            while self.server.camera.bytes_sent < total:
                self.wfile.write(chunk)
                self.server.camera.bytes_sent += len(chunk)
        except OSError:
            pass  # the client hung up: what we want
        self.close_connection = True

    def _dribble(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        try:
            while not self.server.camera.release.wait(0.02):
                self.wfile.write(b"<")
                self.wfile.flush()
        except OSError:
            pass
        self.close_connection = True


class CameraServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a handler parked in "silent" must not hold up teardown

    def __init__(self, camera: FakeCamera) -> None:
        super().__init__(("127.0.0.1", 0), CameraHandler)
        self.camera = camera


@pytest.fixture
def camera() -> Iterator[tuple[FakeCamera, int]]:
    cam = FakeCamera()
    server = CameraServer(cam)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.daemon = True
    thread.start()
    try:
        yield cam, server.server_address[1]
    finally:
        cam.release.set()
        server.shutdown()
        server.server_close()
        thread.join(2)


@pytest.fixture
def client(camera: tuple[FakeCamera, int]) -> Iterator[IsapiClient]:
    with IsapiClient("127.0.0.1", camera[1], timeout_s=2.0) as c:
        yield c


def assert_no_secret(*things: object) -> None:
    for thing in things:
        assert PASSWORD not in repr(thing)
        if isinstance(thing, Exchange):
            assert PASSWORD not in json.dumps(thing.as_dict())


# --- the client --------------------------------------------------------------------------


def test_activate_status_needs_no_login(
    camera: tuple[FakeCamera, int], client: IsapiClient
) -> None:
    activated, exchange = client.activate_status()
    assert activated is False
    assert exchange.method == "GET" and exchange.path == "/SDK/activateStatus"
    assert exchange.status == 200 and exchange.error is None
    assert "ActivateStatus" in exchange.body
    assert exchange.login_attempts == 0
    assert camera[0].authorizations == []


def test_device_info_one_digest_login(camera: tuple[FakeCamera, int], client: IsapiClient) -> None:
    info, exchange, lock = client.device_info(ADMIN, PASSWORD)
    assert info is not None and info.model == "DS-2CD2155FWD-I" and info.firmware == "V5.5.0"
    assert exchange.status == 200 and exchange.error is None and lock is None
    assert exchange.login_attempts == 1
    assert len(camera[0].authorizations) == 1
    assert [r[2] is None for r in camera[0].requests] == [True, False]  # challenge, then login
    assert_no_secret(exchange, info, client)


def test_wrong_password_is_exactly_one_attempt(
    camera: tuple[FakeCamera, int], client: IsapiClient
) -> None:
    info, exchange, lock = client.device_info(ADMIN, "wrong-" + PASSWORD)
    assert info is None
    assert exchange.status == 401 and exchange.error is not None and "401" in exchange.error
    assert lock == LockInfo(locked=False, unlock_s=0, retry_left=6)
    assert exchange.login_attempts == 1
    assert len(camera[0].authorizations) == 1
    # Each further call is one more attempt, never two.
    client.device_info(ADMIN, "wrong")
    client.device_info(ADMIN, "wrong")
    assert len(camera[0].authorizations) == 3
    assert len(camera[0].requests) == 6


def test_locked_answer_gives_lock_info(camera: tuple[FakeCamera, int], client: IsapiClient) -> None:
    camera[0].mode = "locked"
    info, exchange, lock = client.device_info(ADMIN, PASSWORD)
    assert info is None and exchange.status == 401
    assert lock == LockInfo(locked=True, unlock_s=1800, retry_left=0)
    assert exchange.error is not None and "locked" in exchange.error
    assert len(camera[0].authorizations) == 1


def test_already_locked_sends_no_credentials(
    camera: tuple[FakeCamera, int], client: IsapiClient
) -> None:
    camera[0].mode = "locked_now"
    info, exchange, lock = client.device_info(ADMIN, PASSWORD)
    assert info is None and lock is not None and lock.locked
    assert exchange.login_attempts == 0 and camera[0].authorizations == []
    assert exchange.error is not None and "no login attempted" in exchange.error


def test_basic_only_challenge_sends_no_credentials(
    camera: tuple[FakeCamera, int], client: IsapiClient
) -> None:
    camera[0].mode = "basic_only"
    info, exchange, lock = client.device_info(ADMIN, PASSWORD)
    assert info is None and lock is None
    assert exchange.error is not None and "Digest" in exchange.error
    assert camera[0].authorizations == []


@pytest.mark.parametrize("mode", ["basic_then_digest", "joined_basic_first", "joined_digest_first"])
def test_digest_offered_with_basic_logs_in_once(
    camera: tuple[FakeCamera, int], client: IsapiClient, mode: str
) -> None:
    camera[0].mode = mode
    info, exchange, lock = client.device_info(ADMIN, PASSWORD)
    assert info is not None and exchange.error is None and lock is None
    assert exchange.login_attempts == 1
    [authorization] = camera[0].authorizations
    assert authorization.startswith("Digest ")  # never Basic, whatever came first


def test_unsafe_challenge_sends_no_credentials(
    camera: tuple[FakeCamera, int], client: IsapiClient
) -> None:
    camera[0].mode = "control_in_realm"
    info, exchange, _ = client.device_info(ADMIN, PASSWORD)
    assert info is None and exchange.login_attempts == 0
    assert exchange.error == "digest challenge realm is not printable ASCII; credentials not sent"
    assert camera[0].authorizations == []


@pytest.mark.parametrize("user", ["ad\r\nmin", "admín"])
def test_unsendable_username_is_evidence_not_an_exception(
    camera: tuple[FakeCamera, int], client: IsapiClient, user: str
) -> None:
    info, exchange, _ = client.device_info(user, PASSWORD)
    assert info is None and exchange.login_attempts == 0
    assert exchange.error is not None and exchange.error.endswith("credentials not sent")
    assert camera[0].authorizations == []


def test_no_login_needed_sends_no_credentials(
    camera: tuple[FakeCamera, int], client: IsapiClient
) -> None:
    camera[0].mode = "no_auth"
    info, exchange, _ = client.device_info(ADMIN, PASSWORD)
    assert info is not None and exchange.login_attempts == 0
    assert camera[0].authorizations == []


@pytest.mark.parametrize(
    ("path", "code"),
    [("/ISAPI/System/factoryReset?mode=full", 7), ("/ISAPI/System/reboot", 1)],
)
def test_put_with_one_login(
    camera: tuple[FakeCamera, int], client: IsapiClient, path: str, code: int
) -> None:
    status, exchange, lock = client.put(path, ADMIN, PASSWORD)
    assert status is not None and status.status_code == code
    assert exchange.method == "PUT" and exchange.path == path and lock is None
    assert [(m, p) for m, p, _ in camera[0].requests] == [("PUT", path), ("PUT", path)]
    assert len(camera[0].authorizations) == 1  # the digest uri carried the query: it verified
    assert_no_secret(exchange, status)


def test_put_wrong_password(camera: tuple[FakeCamera, int], client: IsapiClient) -> None:
    status, exchange, lock = client.put("/ISAPI/System/factoryReset?mode=basic", ADMIN, "nope")
    assert status is None and exchange.status == 401 and lock is not None
    assert len(camera[0].authorizations) == 1


def test_silent_server_times_out_within_the_timeout(camera: tuple[FakeCamera, int]) -> None:
    camera[0].mode = "silent"
    with IsapiClient("127.0.0.1", camera[1], timeout_s=0.3) as client:
        started = time.monotonic()
        activated, exchange = client.activate_status()
        took = time.monotonic() - started
    assert activated is None
    assert exchange.error is not None and "0.3 s" in exchange.error
    assert exchange.status is None
    assert 0.25 <= took < 1.0 and exchange.elapsed_s < 1.0


def test_login_call_times_out_as_a_whole(camera: tuple[FakeCamera, int]) -> None:
    camera[0].mode = "silent"
    with IsapiClient("127.0.0.1", camera[1], timeout_s=0.3) as client:
        started = time.monotonic()
        info, exchange, _ = client.device_info(ADMIN, PASSWORD)
        assert time.monotonic() - started < 1.0
    assert info is None and exchange.error is not None and exchange.login_attempts == 0


def test_dribbling_server_hits_the_deadline(camera: tuple[FakeCamera, int]) -> None:
    # Each byte arrives well within the read timeout; only the whole-call deadline stops it.
    camera[0].mode = "dribble"
    with IsapiClient("127.0.0.1", camera[1], timeout_s=0.3) as client:
        started = time.monotonic()
        activated, exchange = client.activate_status()
        took = time.monotonic() - started
    assert activated is None and exchange.status == 200
    assert exchange.error is not None and "reading the body" in exchange.error
    assert took < 1.0
    assert exchange.body.startswith("<")


def test_huge_body_is_capped_not_loaded(camera: tuple[FakeCamera, int]) -> None:
    camera[0].mode = "huge"
    tracemalloc.start()
    try:
        with IsapiClient("127.0.0.1", camera[1], timeout_s=5.0) as client:
            activated, exchange = client.activate_status()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert activated is None
    assert exchange.error == f"body over {256 * 1024} bytes"
    assert len(exchange.body) == 256 * 1024
    assert peak < 8 * 1024 * 1024
    # The server could not push more than socket buffers' worth past the cap.
    time.sleep(0.1)
    assert camera[0].bytes_sent < 32 * 1024 * 1024


def test_huge_401_challenge_is_capped_and_no_login_is_sent(camera: tuple[FakeCamera, int]) -> None:
    # requests' HTTPDigestAuth would read this whole body (`r.content`) before logging in.
    camera[0].mode = "huge_401"
    with IsapiClient("127.0.0.1", camera[1], timeout_s=5.0, max_body=4096) as client:
        info, exchange, lock = client.device_info(ADMIN, PASSWORD)
    assert info is None and lock is None
    assert exchange.error == "body over 4096 bytes" and exchange.status == 401
    assert camera[0].authorizations == []


def test_connection_refused_is_evidence_not_an_exception() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with IsapiClient("127.0.0.1", port, timeout_s=1.0) as client:
        activated, exchange = client.activate_status()
        info, login, lock = client.device_info(ADMIN, PASSWORD)
    assert activated is None and exchange.status is None
    assert exchange.error is not None and "refused" in exchange.error
    assert "\n" not in exchange.error
    assert info is None and lock is None and login.login_attempts == 0


def test_password_never_in_evidence_or_logs(
    camera: tuple[FakeCamera, int], client: IsapiClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    results = [
        client.device_info(ADMIN, PASSWORD),
        client.put("/ISAPI/System/reboot", ADMIN, PASSWORD),
    ]
    camera[0].mode = "locked"
    results.append(client.device_info(ADMIN, PASSWORD))
    for result in results:
        assert_no_secret(*result)
    assert_no_secret(client)
    assert PASSWORD not in caplog.text
    assert all(PASSWORD not in auth for auth in camera[0].authorizations)


def test_injected_session_is_used_and_its_auth_not_sent(camera: tuple[FakeCamera, int]) -> None:
    session = requests.Session()
    session.auth = requests.auth.HTTPBasicAuth(ADMIN, PASSWORD)  # must never reach the camera
    with IsapiClient("127.0.0.1", camera[1], session=session) as client:
        activated, _ = client.activate_status()
    assert activated is False
    assert camera[0].authorizations == []
    # Borrowed, not owned: still usable after the client closed.
    assert session.get(f"http://127.0.0.1:{camera[1]}/SDK/activateStatus", timeout=2).ok
    session.close()


@pytest.mark.parametrize("path", ["SDK/x", "//evil.example/x", "/a@b", "/a b", "/a\r\nX: y"])
def test_paths_must_be_plain(client: IsapiClient, path: str) -> None:
    with pytest.raises(ValueError):
        client.put(path, ADMIN, PASSWORD)


def test_why_not_requests_digest_auth(camera: tuple[FakeCamera, int]) -> None:
    """The check that made us write the single attempt ourselves (see rig/network/isapi.py).

    A fresh HTTPDigestAuth sends credentials once per call, but a reused one sends a
    pre-emptive header with the old nonce and then, after the 401, a second one: two failed
    logins per call against a camera that locks after seven.
    """
    url = f"http://127.0.0.1:{camera[1]}/ISAPI/System/deviceInfo"
    auth = requests.auth.HTTPDigestAuth(ADMIN, "wrong")
    with requests.Session() as session:
        session.trust_env = False
        session.get(url, auth=auth, timeout=2)
        assert len(camera[0].authorizations) == 1
        session.get(url, auth=auth, timeout=2)
    assert len(camera[0].authorizations) == 3  # the second call logged in twice
