"""Login checks of the simulated camera: HTTP Digest (MD5, qop="auth"), nonces, IP lock-out.

* A request without Digest credentials gets the plain 401 challenge and is not a failed login.
* A wrong user or password is a failure, counted per client IP. After `lock_after_failures`
  failures that IP is locked for `lock_s`: no login is checked meanwhile, not even a right one.
* Nonces and the lock live in RAM: a reboot or power loss clears them (the camera calls
  `clear()` when it goes offline), so a nonce from before a reboot is stale.

The classes here are not thread-safe on their own: the camera calls them under its lock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections import OrderedDict
from typing import Literal

LoginResult = Literal["ok", "failure", "locked", "inactive"]

_DIGEST_PARAM_RE = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')
_MAX_NONCES = 256


def parse_digest(value: str) -> dict[str, str]:
    """Parameters of a Digest Authorization header (after "Digest "), keys lower-cased."""
    params: dict[str, str] = {}
    for match in _DIGEST_PARAM_RE.finditer(value):
        quoted, bare = match[2], match[3]
        params[match[1].lower()] = quoted.replace('\\"', '"') if quoted is not None else bare
    return params


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def digest_proves(
    params: dict[str, str], *, method: str, uri: str, realm: str, password: str
) -> bool:
    """Whether Digest parameters (from `parse_digest`) prove `password` for this request.

    Only what the camera offers counts: its realm, the request's own URI, qop "auth", MD5.
    """
    well_formed = (
        params.get("realm") == realm
        and params.get("uri") == uri
        and params.get("qop") == "auth"
        and params.get("algorithm", "MD5").upper() == "MD5"
        and all(params.get(k) for k in ("nc", "cnonce", "response"))
    )
    if not well_formed:
        return False
    ha1 = _md5(f"{params.get('username', '')}:{realm}:{password}")
    ha2 = _md5(f"{method}:{params['uri']}")
    expected = _md5(f"{ha1}:{params['nonce']}:{params['nc']}:{params['cnonce']}:auth:{ha2}")
    return hmac.compare_digest(expected, params["response"].lower())


class Nonces:
    """The nonces handed out since the last boot (the newest few hundred)."""

    def __init__(self, limit: int = _MAX_NONCES) -> None:
        self._limit = limit
        self._known: OrderedDict[str, None] = OrderedDict()

    def new(self) -> str:
        # Same look as the capture: hex of a base64 string.
        nonce = base64.b64encode(secrets.token_bytes(18)).hex()
        self._known[nonce] = None
        while len(self._known) > self._limit:
            self._known.popitem(last=False)
        return nonce

    def known(self, nonce: str) -> bool:
        return nonce in self._known

    def clear(self) -> None:
        self._known.clear()


class Lockout:
    """Failed logins per client IP, and the lock they lead to. `now` is `time.monotonic()`."""

    def __init__(self, after_failures: int, lock_s: float) -> None:
        self.after_failures = after_failures
        self.lock_s = lock_s
        self._failures: dict[str, int] = {}
        self._locked_until: dict[str, float] = {}

    def remaining(self, client_ip: str, now: float) -> float:
        """Seconds this IP stays locked; 0 when it is not locked."""
        until = self._locked_until.get(client_ip)
        if until is None:
            return 0.0
        remaining = until - now
        if remaining <= 0:
            del self._locked_until[client_ip]
            return 0.0
        return remaining

    def attempts_left(self, client_ip: str) -> int:
        return self.after_failures - self._failures.get(client_ip, 0)

    def succeeded(self, client_ip: str) -> None:
        self._failures.pop(client_ip, None)

    def failed(self, client_ip: str, now: float) -> bool:
        """Count a failure; True when it is the one that locks the IP."""
        failures = self._failures.get(client_ip, 0) + 1
        if failures >= self.after_failures:
            self._failures.pop(client_ip, None)
            self._locked_until[client_ip] = now + self.lock_s
            return True
        self._failures[client_ip] = failures
        return False

    def clear(self) -> None:
        self._failures.clear()
        self._locked_until.clear()
