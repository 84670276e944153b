"""ISAPI, the cameras' HTTP API: the few parsers and calls the verifier needs.

Two rules shape this module:

- **One login attempt, never more.** Cameras lock the client's IP after 7 failed admin
  logins (5 for other users), and the rig logs in to many units from the same IP all day. Digest
  authentication is done here by hand rather than with `requests.auth.HTTPDigestAuth`, because
  that class sends the credentials twice in one call when an auth object is reused (a
  pre-emptive header with the previous nonce, then again after the 401), and it reads the
  whole 401 body into memory whatever its size (`r.content` in `handle_401`).
- **The wire decides nothing about our resources.** Every call has a deadline, bodies are
  read in chunks and cut at `max_body`, and transport failures become an `Exchange` with
  `error` set: the verifier judges, this module only reports.

Credentials are never stored on the client, never put in a URL, and never logged; an
`Exchange` keeps the method, path, status, body and timing, nothing of the Authorization.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from types import TracebackType
from typing import Any, ClassVar, TypeVar

import requests
import requests.adapters
import urllib3

from rig.errors import ParseError
from rig.network.sadp import normalise_mac
from rig.network.xmlutil import (
    Element,
    child_text,
    fields,
    find_child,
    name_is,
    parse_bool,
    parse_xml,
)

_T = TypeVar("_T")

__all__ = [
    "STATUS_OK",
    "STATUS_REBOOT_REQUIRED",
    "DeviceInfo",
    "Exchange",
    "IsapiClient",
    "LockInfo",
    "ResponseStatus",
    "StorageDevice",
    "UpgradeStatus",
    "digest_challenge",
    "parse_activate_status",
    "parse_challenges",
    "parse_device_info",
    "parse_response_status",
    "parse_storage",
    "parse_upgrade_status",
    "parse_user_check",
]

#: ResponseStatus.statusCode values (ISAPI): 1 OK, 7 "Reboot Required".
STATUS_OK = 1
STATUS_REBOOT_REQUIRED = 7

ACTIVATE_STATUS_PATH = "/SDK/activateStatus"
DEVICE_INFO_PATH = "/ISAPI/System/deviceInfo"


# --- parsers: bytes in, typed out, ParseError on anything else ------------------------------


@dataclass(frozen=True)
class DeviceInfo:
    model: str | None
    serial: str | None  # serialNumber: the full serial, like SADP's DeviceSN
    mac: str | None  # normalised (lower case, dashes) when valid, else None; raw keeps it
    firmware: str | None  # firmwareVersion as sent, e.g. "V5.5.0"
    raw: dict[str, str] = field(default_factory=dict, repr=False, hash=False, compare=False)


@dataclass(frozen=True)
class ResponseStatus:
    status_code: int
    status_string: str | None
    sub_status_code: str | None

    @property
    def ok(self) -> bool:
        return self.status_code == STATUS_OK

    @property
    def reboot_required(self) -> bool:
        return self.status_code == STATUS_REBOOT_REQUIRED


@dataclass(frozen=True)
class LockInfo:
    """What a refused login said about the lockout of our IP."""

    locked: bool
    unlock_s: int | None  # seconds until the device accepts this IP again
    retry_left: int | None  # failed logins left before it locks


def _root(data: bytes, name: str) -> Element:
    root = parse_xml(data, what=name)
    if not name_is(root, name):
        raise ParseError(f"expected <{name}>, got <{str(root.tag)[:40]}>")
    return root


# ASCII digits only: str.isdigit() also says yes to '³' and '²' (which int() then refuses
# with a ValueError) and to full-width or Arabic-Indic digits (which int() silently reads).
_COUNT_RE = re.compile(r"[0-9]{1,9}")


def _int_or_none(text: str | None) -> int | None:
    if text is None:
        return None
    text = text.strip()
    if not _COUNT_RE.fullmatch(text):
        return None
    return int(text)


def parse_activate_status(data: bytes) -> bool:
    """`<ActivateStatus><Activated>true|false</Activated>` (any namespace) -> the bool."""
    root = _root(data, "ActivateStatus")
    text = child_text(root, "Activated")
    value = parse_bool(text)
    if value is None:
        raise ParseError(f"ActivateStatus has no true/false Activated (got {text!r:.40})")
    return value


def parse_device_info(data: bytes) -> DeviceInfo:
    """`GET /ISAPI/System/deviceInfo`; publishers mask MACs with X, so a bad MAC is None."""
    root = _root(data, "DeviceInfo")
    mac_text = child_text(root, "macAddress")
    try:
        mac = normalise_mac(mac_text) if mac_text else None
    except ParseError:
        mac = None
    return DeviceInfo(
        model=child_text(root, "model") or None,
        serial=child_text(root, "serialNumber") or None,
        mac=mac,
        firmware=child_text(root, "firmwareVersion") or None,
        raw=fields(root),
    )


def parse_response_status(data: bytes) -> ResponseStatus:
    """`<ResponseStatus>`: statusCode is required; 1 is OK, 7 is Reboot Required."""
    root = _root(data, "ResponseStatus")
    code_text = child_text(root, "statusCode")
    code = _int_or_none(code_text)
    if code is None:
        raise ParseError(f"ResponseStatus has no numeric statusCode (got {code_text!r:.40})")
    return ResponseStatus(
        status_code=code,
        status_string=child_text(root, "statusString") or None,
        sub_status_code=child_text(root, "subStatusCode") or None,
    )


def parse_user_check(data: bytes) -> LockInfo:
    """`<userCheck>` of a refused login: lockStatus lock/unlock, unlockTime, retryLoginTime.

    Without lockStatus, a pending unlock time or no retries left both mean locked.
    """
    root = _root(data, "userCheck")
    unlock_s = _int_or_none(child_text(root, "unlockTime"))
    retry_left = _int_or_none(child_text(root, "retryLoginTime"))
    status = child_text(root, "lockStatus")
    if status is None:
        locked = bool(unlock_s) or retry_left == 0
    elif status.casefold() == "lock":
        locked = True
    elif status.casefold() == "unlock":
        locked = False
    else:
        raise ParseError(f"userCheck lockStatus is {status!r:.40}, not lock/unlock")
    return LockInfo(locked=locked, unlock_s=unlock_s, retry_left=retry_left)


@dataclass(frozen=True)
class StorageDevice:
    """One entry of `GET /ISAPI/ContentMgmt/Storage`: a camera's memory card is an `hdd`."""

    name: str | None
    kind: str | None  # hddType: SATA, SD...
    status: str | None  # ok, unformatted, error, idle...
    capacity_mb: int | None
    free_mb: int | None


def parse_storage(data: bytes) -> list[StorageDevice]:
    """`<storage><hddList><hdd>...` (any namespace: real answers mix three). An empty
    `hddList` (no card) is an empty list; NAS entries are not local storage and are left out."""
    root = _root(data, "storage")
    hdd_list = find_child(root, "hddList")
    devices: list[StorageDevice] = []
    for hdd in hdd_list if hdd_list is not None else ():
        if not name_is(hdd, "hdd"):
            continue
        devices.append(
            StorageDevice(
                name=child_text(hdd, "hddName") or None,
                kind=child_text(hdd, "hddType") or None,
                status=child_text(hdd, "status") or None,
                capacity_mb=_int_or_none(child_text(hdd, "capacity")),
                free_mb=_int_or_none(child_text(hdd, "freeSpace")),
            )
        )
    return devices


@dataclass(frozen=True)
class UpgradeStatus:
    upgrading: bool | None
    percent: int | None


def parse_upgrade_status(data: bytes) -> UpgradeStatus:
    """`GET /ISAPI/System/upgradeStatus`: `<upgradeStatus><upgrading>`, `<percent>`."""
    root = _root(data, "upgradeStatus")
    percent = _int_or_none(child_text(root, "percent"))
    return UpgradeStatus(
        upgrading=parse_bool(child_text(root, "upgrading")),
        percent=percent if percent is not None and percent <= 100 else None,
    )


# --- the evidence of one call ---------------------------------------------------------------


@dataclass
class Exchange:
    """One ISAPI call as the job record keeps it. Never holds credentials or auth headers."""

    method: str
    path: str
    status: int | None = None
    body: str = ""  # decoded leniently, cut at the client's max_body
    elapsed_s: float = 0.0
    error: str | None = None  # why there is no result: transport, size, HTTP status, parse
    login_attempts: int = 0  # requests that carried credentials: 0 or 1, by construction

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _NoAuth(requests.auth.AuthBase):
    """Keeps a session's own auth, and ~/.netrc (used when a request has no auth), away from
    the camera: the only credentials sent are the ones this module puts in one request."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        return r


class _Digest:
    """RFC 7616 digest for one request, from one challenge (`digest_challenge`). Built per
    call, never reused."""

    _HASHES: ClassVar[dict[str, str]] = {
        "MD5": "md5",
        "SHA-256": "sha256",
        "SHA-512-256": "sha512_256",
    }

    def __init__(self, challenge: Mapping[str, str | None]) -> None:
        realm, nonce = challenge.get("realm"), challenge.get("nonce")
        if realm is None or not nonce:
            raise ValueError("digest challenge without realm or nonce")
        for name in ("realm", "nonce", "opaque", "algorithm", "qop"):
            # These go back into our Authorization header and into the hash. A CR LF would make
            # requests refuse the header with an error quoting it whole, response hash and
            # all. Non-ASCII reaches us decoded as Latin-1, so a UTF-8 realm would be hashed
            # double-encoded: a login certain to fail, one more towards the lock-out. (And
            # 'ſHA-256'.upper() is 'SHA-256'.) Every realm seen on real units is ASCII.
            if not _header_safe(challenge.get(name) or ""):
                raise ValueError(f"digest challenge {name} is not printable ASCII")
        self.realm, self.nonce = realm, nonce
        self.opaque = challenge.get("opaque")
        self.algorithm = challenge.get("algorithm") or "MD5"
        base = self.algorithm.upper().removesuffix("-SESS")
        if base not in self._HASHES:
            raise ValueError(f"digest algorithm {self.algorithm!r} not supported")
        self._hash_name = self._HASHES[base]
        self._session = self.algorithm.upper().endswith("-SESS")
        qops = [q.strip().casefold() for q in (challenge.get("qop") or "").split(",") if q.strip()]
        if qops and "auth" not in qops:
            raise ValueError(f"digest qop {challenge.get('qop')!r} not supported")
        self.qop = "auth" if qops else None

    def _h(self, text: str) -> str:
        return hashlib.new(self._hash_name, text.encode("utf-8"), usedforsecurity=False).hexdigest()

    def authorization(
        self, method: str, uri: str, user: str, password: str, *, cnonce: str | None = None
    ) -> str:
        """The Authorization header value. `cnonce` is for known-answer tests only: left out,
        a fresh random one is drawn, as RFC 7616 requires."""
        if not _header_safe(user) or not _header_safe(uri):
            raise ValueError("digest username and uri must be printable ASCII")
        if cnonce is None:
            cnonce = secrets.token_hex(8)
        nc = "00000001"  # a fresh challenge per call: this nonce is used exactly once
        ha1 = self._h(f"{user}:{self.realm}:{password}")
        if self._session:
            ha1 = self._h(f"{ha1}:{self.nonce}:{cnonce}")
        ha2 = self._h(f"{method}:{uri}")
        if self.qop:
            response = self._h(f"{ha1}:{self.nonce}:{nc}:{cnonce}:{self.qop}:{ha2}")
        else:
            response = self._h(f"{ha1}:{self.nonce}:{ha2}")
        parts = [
            f"username={_quote(user)}",
            f"realm={_quote(self.realm)}",
            f"nonce={_quote(self.nonce)}",
            f"uri={_quote(uri)}",
            f"response={_quote(response)}",
            f"algorithm={self.algorithm}",
        ]
        if self.opaque is not None:
            parts.append(f"opaque={_quote(self.opaque)}")
        if self.qop:
            parts += [f"qop={self.qop}", f"nc={nc}", f"cnonce={_quote(cnonce)}"]
        return "Digest " + ", ".join(parts)


def _header_safe(value: str) -> bool:
    return value.isascii() and value.isprintable()


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# RFC 9110 §11: a WWW-Authenticate value is a comma-separated list of challenges, each a
# scheme followed by auth-params (name=value, the value a token or a quoted string) or by one
# token68. Hikvision firmware sends Digest and Basic either as two headers or joined in one
# ('Digest qop="auth", realm="IP Camera(76475)", ..., Basic realm="IP Camera(76475)"'), and
# requests folds two headers into one joined value, so the list has to be split properly:
# commas and spaces inside quoted values ("IP Camera(C2875)") are not separators.
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"'
# Whitespace is SP and HTAB on the wire; CR and LF are taken too, for values cut from a trace.
_WS = " \t\r\n"
_AUTH_PARAM_RE = re.compile(rf"({_TOKEN})\s*=\s*({_QUOTED}|{_TOKEN})(?=\s*(?:,|\Z))", re.ASCII)
_SCHEME_RE = re.compile(rf"({_TOKEN})(?=\s|,|\Z)", re.ASCII)
_TOKEN68_RE = re.compile(r"[A-Za-z0-9._~+/-]+=*(?=\s*(?:,|\Z))", re.ASCII)
_UNESCAPE_RE = re.compile(r"\\(.)")


def parse_challenges(values: str | Iterable[str]) -> list[tuple[str, dict[str, str]]]:
    """Every challenge in one or more WWW-Authenticate values, in order: (scheme in lower
    case, its auth-params with lower-case names and unquoted values).

    Lenient, never raising: a piece it cannot read is skipped up to the next comma, a
    repeated parameter keeps its first value, a token68 (Basic/Negotiate style) is dropped.
    """
    if isinstance(values, str):
        values = [values]
    challenges: list[tuple[str, dict[str, str]]] = []
    for value in values:
        current: dict[str, str] | None = None
        at, end = 0, len(value)
        while at < end:
            if value[at] in _WS or value[at] == ",":
                at += 1
                continue
            param = _AUTH_PARAM_RE.match(value, at)
            if param is not None:
                if current is not None:
                    name, raw = param[1].lower(), param[2]
                    if raw.startswith('"'):
                        raw = _UNESCAPE_RE.sub(r"\1", raw[1:-1])
                    current.setdefault(name, raw)
                at = param.end()
                continue
            scheme = _SCHEME_RE.match(value, at)
            if scheme is not None:
                current = {}
                challenges.append((scheme[1].lower(), current))
                at = scheme.end()
                while at < end and value[at] in _WS:
                    at += 1
                if _AUTH_PARAM_RE.match(value, at) is None and (
                    token68 := _TOKEN68_RE.match(value, at)
                ):
                    at = token68.end()
                continue
            comma = value.find(",", at)  # unreadable: skip this list element
            at = end if comma < 0 else comma + 1
    return challenges


def digest_challenge(values: str | Iterable[str]) -> dict[str, str] | None:
    """The parameters of the first Digest challenge in these WWW-Authenticate values (realm,
    nonce, qop, opaque, algorithm, stale, domain...), or None if none offers Digest."""
    for scheme, params in parse_challenges(values):
        if scheme == "digest":
            return params
    return None


def _digest_challenge(response: requests.Response) -> dict[str, str] | None:
    # A camera may offer Basic and Digest as two WWW-Authenticate headers; requests folds
    # them into one comma-joined string, so read them one by one from urllib3 when possible
    # (digest_challenge copes with the joined form too).
    raw_headers = getattr(response.raw, "headers", None)
    values: list[str]
    if raw_headers is not None and hasattr(raw_headers, "getlist"):
        values = list(raw_headers.getlist("WWW-Authenticate"))
    else:
        values = [response.headers.get("WWW-Authenticate", "")]
    return digest_challenge(values)


@dataclass
class _Read:
    status: int | None = None
    content: bytes = b""
    error: str | None = None
    complete: bool = False  # the whole body arrived within the cap and the deadline
    challenge: dict[str, str] | None = None


class IsapiClient:
    """ISAPI calls to one unit at `host:port` (the address and port from its SADP reply).

    `timeout_s` bounds each call as a whole (connect, both legs of a digest login, and the
    body), `max_body` the bytes read of any answer. A `session` may be injected (tests, or a
    caller's adapters); otherwise the client makes one that ignores proxy variables and
    .netrc, and never retries, so nothing is sent twice behind our back.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout_s: float = 5.0,
        max_body: int = 256 * 1024,
        session: requests.Session | None = None,
    ) -> None:
        if not 0 < port < 65536:
            raise ValueError(f"ISAPI port must be 1..65535, got {port}")
        if timeout_s <= 0:
            raise ValueError(f"ISAPI timeout_s must be positive, got {timeout_s}")
        if max_body < 1:
            raise ValueError(f"ISAPI max_body must be positive, got {max_body}")
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self.max_body = max_body
        url_host = f"[{host}]" if ":" in host else host  # an IPv6 literal needs brackets
        self._base_url = f"http://{url_host}:{port}"
        self._owns_session = session is None
        self._session = session if session is not None else self._new_session()

    @staticmethod
    def _new_session() -> requests.Session:
        session = requests.Session()
        # A proxy from the environment would carry camera traffic (and logins) off the bench;
        # .netrc would add Basic credentials we never chose to send.
        session.trust_env = False
        # Zero retries: a retried login is a second login, a retried factoryReset a second one.
        adapter = requests.adapters.HTTPAdapter(max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    # --- public calls -----------------------------------------------------------------------

    def activate_status(self) -> tuple[bool | None, Exchange]:
        """`GET /SDK/activateStatus` (no login): is the unit activated? None if not known."""
        exchange, content = self._call("GET", ACTIVATE_STATUS_PATH)
        return self._parse(exchange, content, parse_activate_status), exchange

    def device_info(
        self, user: str, password: str
    ) -> tuple[DeviceInfo | None, Exchange, LockInfo | None]:
        """`GET /ISAPI/System/deviceInfo` with exactly one digest login attempt."""
        exchange, content, lock = self._call_with_login("GET", DEVICE_INFO_PATH, user, password)
        return self._parse(exchange, content, parse_device_info), exchange, lock

    def put(
        self, path: str, user: str, password: str
    ) -> tuple[ResponseStatus | None, Exchange, LockInfo | None]:
        """An empty-bodied PUT with one digest login attempt, e.g.
        `/ISAPI/System/factoryReset?mode=full` or `/ISAPI/System/reboot`."""
        exchange, content, lock = self._call_with_login("PUT", path, user, password)
        return self._parse(exchange, content, parse_response_status), exchange, lock

    # --- the QA pass's calls (rig.procedures.qa) -----------------------------------------

    def send_xml(self, method: str, path: str, body: bytes) -> tuple[bytes | None, Exchange]:
        """A POST or PUT of an XML body with no login: what an inactive unit takes
        (`/ISAPI/Security/challenge`, `/ISAPI/System/activate`). The answer's bytes are
        returned for any HTTP status with a complete body: a refusal explains itself in a
        `ResponseStatus`."""
        exchange, read = self._request(method, path, body, "application/xml; charset=UTF-8")
        return (read.content if read.complete else None), exchange

    def get_with_login(
        self, path: str, user: str, password: str, *, max_body: int | None = None
    ) -> tuple[bytes | None, Exchange, LockInfo | None]:
        """A GET with one digest login attempt; the raw answer (a JPEG snapshot, an XML
        document the caller parses). A binary answer is not copied into the Exchange."""
        exchange, content, lock = self._call_with_login(
            "GET", path, user, password, max_body=max_body
        )
        if content is not None and content.lstrip()[:1] != b"<":
            exchange.body = f"<{len(content)} bytes>"
        return content, exchange, lock

    def put_file(
        self, path: str, user: str, password: str, data: bytes, *, timeout_s: float
    ) -> tuple[ResponseStatus | None, Exchange, LockInfo | None]:
        """A PUT of a file as `application/octet-stream` with one digest login attempt:
        `/ISAPI/System/updateFirmware` with a `digicap.dav` (sent as XML, a camera answers
        400 "Invalid XML Content"). `timeout_s` covers the upload."""
        exchange, content, lock = self._call_with_login(
            "PUT",
            path,
            user,
            password,
            body=data,
            content_type="application/octet-stream",
            timeout_s=timeout_s,
        )
        status = self._parse(exchange, content, parse_response_status)
        if status is None and exchange.status is not None and exchange.body.lstrip()[:1] == "<":
            # A refusal (HTTP 400 and the like) still says why in its ResponseStatus.
            try:
                status = parse_response_status(exchange.body.encode("utf-8"))
            except ParseError:
                status = None
        return status, exchange, lock

    def close(self) -> None:
        """Close the session if this client made it; idempotent."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> IsapiClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"IsapiClient(host={self.host!r}, port={self.port}, timeout_s={self.timeout_s})"

    # --- the machinery ----------------------------------------------------------------------

    @staticmethod
    def _check_path(path: str) -> None:
        # The path is recorded as evidence and joined to our own base URL: it must be a plain
        # absolute path, so no caller can smuggle a host or userinfo into the request.
        if (
            not path.startswith("/")
            or path.startswith("//")
            or any(c in path for c in " \r\n\t@\\")
        ):
            raise ValueError(f"ISAPI path must be an absolute path, got {path!r}")

    def _call(
        self, method: str, path: str, body: bytes = b"", content_type: str | None = None
    ) -> tuple[Exchange, bytes | None]:
        """A request with no login; the answer's bytes only when it succeeded (HTTP 200)."""
        exchange, read = self._request(method, path, body, content_type)
        return exchange, read.content if exchange.error is None else None

    def _request(
        self, method: str, path: str, body: bytes, content_type: str | None
    ) -> tuple[Exchange, _Read]:
        """One request with no login, recorded; any status but 200 is the exchange's error."""
        self._check_path(path)
        started = time.monotonic()
        read = self._send(
            method,
            path,
            started + self.timeout_s,
            authorization=None,
            body=body,
            content_type=content_type,
        )
        exchange = self._exchange(method, path, read, started)
        if exchange.error is None and read.status != 200:
            exchange.error = f"HTTP {read.status}"
        return exchange, read

    def _call_with_login(
        self,
        method: str,
        path: str,
        user: str,
        password: str,
        *,
        body: bytes = b"",
        content_type: str | None = None,
        max_body: int | None = None,
        timeout_s: float | None = None,
    ) -> tuple[Exchange, bytes | None, LockInfo | None]:
        self._check_path(path)
        started = time.monotonic()
        deadline = started + (timeout_s or self.timeout_s)
        # Leg 1, no credentials: fetch a fresh challenge. A camera that needs no login (or an
        # error) answers here and no credentials are ever sent.
        read = self._send(method, path, deadline, authorization=None)
        if read.error is not None or read.status != 401:
            exchange = self._exchange(method, path, read, started)
            if exchange.error is None and read.status != 200:
                exchange.error = f"HTTP {read.status}"
            return exchange, read.content if exchange.error is None else None, None
        lock = self._lock_info(read)
        if lock is not None and lock.locked:
            # Already locked out: another attempt could only extend the lock.
            exchange = self._exchange(method, path, read, started)
            exchange.error = "client IP is locked out by the device; no login attempted"
            return exchange, None, lock
        if read.challenge is None:
            exchange = self._exchange(method, path, read, started)
            exchange.error = "401 without a Digest challenge; credentials not sent"
            return exchange, None, lock
        try:
            authorization = _Digest(read.challenge).authorization(method, path, user, password)
        except ValueError as exc:
            exchange = self._exchange(method, path, read, started)
            exchange.error = f"{exc}; credentials not sent"
            return exchange, None, lock
        if time.monotonic() >= deadline:
            exchange = self._exchange(method, path, read, started)
            exchange.error = f"timed out after {self.timeout_s:g} s before the login request"
            return exchange, None, lock
        # Leg 2: the one and only request that carries credentials. A body (a firmware image)
        # travels only here: leg 1 is answered 401 before a camera reads it.
        read = self._send(
            method,
            path,
            deadline,
            authorization=authorization,
            body=body,
            content_type=content_type,
            max_body=max_body,
        )
        exchange = self._exchange(method, path, read, started)
        exchange.login_attempts = 1
        lock = self._lock_info(read) if read.status in (401, 403) else None
        if exchange.error is None and read.status != 200:
            if read.status == 401:
                exchange.error = "HTTP 401: login refused" + (
                    " (device reports this IP locked)" if lock is not None and lock.locked else ""
                )
            else:
                exchange.error = f"HTTP {read.status}"
        return exchange, read.content if exchange.error is None else None, lock

    def _send(
        self,
        method: str,
        path: str,
        deadline: float,
        *,
        authorization: str | None,
        body: bytes = b"",
        content_type: str | None = None,
        max_body: int | None = None,
    ) -> _Read:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return _Read(error=f"timed out after {self.timeout_s:g} s")
        headers = {
            # Identity only: the cap is on bytes as they arrive, and a compressed answer
            # could inflate far past it.
            "Accept-Encoding": "identity",
            "User-Agent": "reset-rig",
        }
        if authorization is not None:
            headers["Authorization"] = authorization
        if content_type is not None:
            headers["Content-Type"] = content_type
        try:
            response = self._session.request(
                method,
                self._base_url + path,
                headers=headers,
                auth=_NoAuth(),
                timeout=(remaining, remaining),
                stream=True,
                allow_redirects=False,
                data=body if method in ("PUT", "POST") else None,
            )
        except requests.exceptions.ConnectTimeout:
            return _Read(error=f"connect timed out after {self.timeout_s:g} s")
        except requests.exceptions.ReadTimeout:
            return _Read(error=f"no answer within {self.timeout_s:g} s")
        except requests.exceptions.RequestException as exc:
            return _Read(error=_describe(exc))
        try:
            read = _Read(status=response.status_code)
            if response.status_code == 401:
                read.challenge = _digest_challenge(response)
            read.content, read.error = self._read_body(response, deadline, max_body)
            read.complete = read.error is None
            return read
        finally:
            # Closes the connection if the body was not read to the end (a capped 100 MB
            # answer is abandoned, not drained).
            response.close()

    def _read_body(
        self, response: requests.Response, deadline: float, max_body: int | None = None
    ) -> tuple[bytes, str | None]:
        cap = max_body or self.max_body
        body = bytearray()
        raw = response.raw
        # read1 returns whatever has arrived; read(n) would wait for all n bytes, so a server
        # dribbling a byte at a time (each well within the read timeout) would never let us
        # look at the deadline. Each read still waits at most the read timeout.
        read = getattr(raw, "read1", None) or raw.read
        try:
            while True:
                if time.monotonic() > deadline:
                    return bytes(body), f"timed out after {self.timeout_s:g} s reading the body"
                chunk = read(16 * 1024)
                if not chunk:
                    return bytes(body), None
                body += chunk
                if len(body) > cap:
                    return bytes(body[:cap]), f"body over {cap} bytes"
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            if isinstance(exc, urllib3.exceptions.TimeoutError | TimeoutError):
                return bytes(body), f"timed out after {self.timeout_s:g} s reading the body"
            return bytes(body), f"body read failed: {_describe(exc)}"

    def _exchange(self, method: str, path: str, read: _Read, started: float) -> Exchange:
        return Exchange(
            method=method,
            path=path,
            status=read.status,
            body=read.content.decode("utf-8", errors="replace"),
            elapsed_s=round(time.monotonic() - started, 6),
            error=read.error,
        )

    @staticmethod
    def _lock_info(read: _Read) -> LockInfo | None:
        # Only a complete body is worth reading; an HTML error page simply says nothing.
        if not read.complete or not read.content.lstrip().startswith(b"<"):
            return None
        try:
            return parse_user_check(read.content)
        except ParseError:
            return None

    @staticmethod
    def _parse(
        exchange: Exchange, content: bytes | None, parser: Callable[[bytes], _T]
    ) -> _T | None:
        if content is None:
            return None
        try:
            return parser(content)
        except ParseError as exc:
            exchange.error = f"unreadable answer: {exc}"
            return None


def _describe(exc: BaseException) -> str:
    """One line for a requests failure: the innermost OS error if there is one."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return f"connection failed: {current.strerror}"
        reason = getattr(current, "reason", None)
        current = (
            reason
            if isinstance(reason, BaseException)
            else (current.__cause__ or current.__context__)
        )
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}"
