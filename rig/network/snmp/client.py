"""A small synchronous facade over pysnmp 7's asyncio hlapi: get, set (read back), walk.

pysnmp 7 is asyncio only (`get_cmd`, `set_cmd`, `walk_cmd` of pysnmp.hlapi.v3arch.asyncio,
`await UdpTransportTarget.create(...)`). The rig is threads: a bay's worker, the station's
port watcher, `rig switch check`. So each client runs one event loop on a thread of its own
and every call is a coroutine handed to it; callers on any thread wait for the result.

Errors are one line each, naming the switch: a timeout (which is also what a wrong
community or v3 user looks like: SNMP agents do not answer those, they drop them), an error
status the agent sent, an OID the agent does not have. Secrets never appear in a message,
a log line or a repr.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pysnmp.hlapi.v3arch.asyncio import (
    CommunityData,
    ContextData,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    UdpTransportTarget,
    UsmUserData,
    bulk_walk_cmd,
    get_cmd,
    set_cmd,
    walk_cmd,
)
from pysnmp.hlapi.v3arch.asyncio import auth as usm
from pysnmp.proto import rfc1902

from rig.errors import HardwareFault

T = TypeVar("T")

#: Rows asked for per GETBULK round trip: a 48-port switch's forwarding table in a few.
BULK_ROWS = 32
Oid = tuple[int, ...]

#: v3 protocols by the word the config uses.
AUTH_PROTOCOLS = {
    "md5": usm.USM_AUTH_HMAC96_MD5,
    "sha": usm.USM_AUTH_HMAC96_SHA,
    "sha224": usm.USM_AUTH_HMAC128_SHA224,
    "sha256": usm.USM_AUTH_HMAC192_SHA256,
    "sha384": usm.USM_AUTH_HMAC256_SHA384,
    "sha512": usm.USM_AUTH_HMAC384_SHA512,
}
PRIV_PROTOCOLS = {
    "des": usm.USM_PRIV_CBC56_DES,
    "3des": usm.USM_PRIV_CBC168_3DES,
    "aes": usm.USM_PRIV_CFB128_AES,
    "aes192": usm.USM_PRIV_CFB192_AES,
    "aes256": usm.USM_PRIV_CFB256_AES,
}


class SnmpError(HardwareFault):
    """The switch did not do what was asked. A switch is a bay's power actuator: a switch
    that does not answer is a hardware fault of the bay, not the unit's."""


class SnmpTimeout(SnmpError):
    """No answer in time: the agent is down, unreachable, or refused the credentials."""


class NoSuchObject(SnmpError):
    """The agent has no such object: a port that does not exist, a MIB it does not carry."""


@dataclass(frozen=True)
class Credentials:
    """SNMP v2c (`community`) or v3 (`user`, with auth and priv keys). `repr` shows no
    secret: these objects end up in tracebacks."""

    community: str | None = field(default=None, repr=False)
    user: str | None = None
    auth_key: str | None = field(default=None, repr=False)
    priv_key: str | None = field(default=None, repr=False)
    auth_protocol: str = "sha"
    priv_protocol: str = "aes"
    #: The SNMPv3 context name: empty on most switches; per VLAN on some (Cisco's "vlan-31"
    #: for that VLAN's bridge table); the data file's name with snmpsim.
    context: str = ""

    def describe(self) -> str:
        """For messages: the version and the user, never a secret."""
        if self.user is not None:
            level = "authPriv" if self.priv_key else "authNoPriv" if self.auth_key else "noAuth"
            return f"v3 user {self.user!r} ({level})"
        return "v2c community"

    def context_data(self) -> ContextData:
        return ContextData(contextName=self.context) if self.context else ContextData()

    def auth_data(self) -> CommunityData | UsmUserData:
        if self.user is None:
            return CommunityData(self.community or "", mpModel=1)
        return UsmUserData(
            self.user,
            authKey=self.auth_key,
            privKey=self.priv_key,
            authProtocol=AUTH_PROTOCOLS[self.auth_protocol] if self.auth_key else None,
            privProtocol=PRIV_PROTOCOLS[self.priv_protocol] if self.priv_key else None,
        )


def oid_text(oid: Oid) -> str:
    return ".".join(str(n) for n in oid)


def parse_oid(text: str) -> Oid:
    return tuple(int(part) for part in text.strip(".").split("."))


class SnmpClient:
    """One agent (`host`, `port`), synchronous and thread-safe. `name` starts its messages."""

    def __init__(
        self,
        name: str,
        host: str,
        port: int = 161,
        *,
        credentials: Credentials,
        timeout_s: float = 1.0,
        retries: int = 1,
    ) -> None:
        self.name = name
        self.host = host
        self.port = port
        self.credentials = credentials
        self.timeout_s = timeout_s
        self.retries = retries
        self._bulk = True  # until the agent answers a GETBULK badly
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"snmp-{name}", daemon=True
        )
        self._thread.start()
        self._engine: SnmpEngine | None = None
        self._target: UdpTransportTarget | None = None
        self._closed = False

    # -- plumbing ---------------------------------------------------------------------------

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            coro.close()
            raise SnmpError(f"switch {self.name}: closed")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        # pysnmp bounds each request by timeout_s x (retries + 1); a walk is many requests.
        return future.result()

    async def _session(self) -> tuple[SnmpEngine, UdpTransportTarget]:
        if self._engine is None:
            # Made on the loop's own thread: the engine's dispatcher binds to this loop.
            self._engine = SnmpEngine()
        if self._target is None:
            try:
                self._target = await UdpTransportTarget.create(
                    (self.host, self.port), timeout=self.timeout_s, retries=self.retries
                )
            except Exception as exc:  # pysnmp raises its own PySnmpError for a bad host
                raise SnmpError(f"switch {self.name}: cannot reach {self.where}: {exc}") from None
        return self._engine, self._target

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def _check(self, what: str, indication: Any, status: Any, index: Any, binds: Any) -> None:
        if indication:
            text = str(indication)
            if "timeout" in text.lower() or "no snmp response" in text.lower():
                raise SnmpTimeout(
                    f"switch {self.name}: no SNMP answer from {self.where} to {what} within "
                    f"{self.timeout_s * (self.retries + 1):g} s (agent down, or the "
                    f"{self.credentials.describe()} is wrong: agents drop those unanswered)"
                )
            if any(word in text.lower() for word in ("digest", "unknown user", "decrypt")):
                raise SnmpError(
                    f"switch {self.name}: {what}: the agent refused the "
                    f"{self.credentials.describe()} ({text}: auth or priv key, or protocol)"
                )
            raise SnmpError(f"switch {self.name}: {what}: {text}")
        if status and int(status):
            position = int(index or 0)
            culprit = ""
            if 0 < position <= len(binds):
                culprit = f" at {binds[position - 1][0].prettyPrint()}"
            message = status.prettyPrint() if hasattr(status, "prettyPrint") else str(status)
            if message in ("noSuchName", "notWritable", "noAccess", "noCreation"):
                raise NoSuchObject(f"switch {self.name}: {what}: {message}{culprit}")
            raise SnmpError(f"switch {self.name}: {what}: agent said {message}{culprit}")

    @staticmethod
    def _value(bind: Any) -> Any:
        """The Python value of a var-bind: int for numbers, bytes for strings, None for
        noSuchObject / noSuchInstance / endOfMibView."""
        value = bind[1]
        tag = value.__class__.__name__
        if tag in ("NoSuchObject", "NoSuchInstance", "EndOfMibView", "Null"):
            return None
        if isinstance(value, rfc1902.OctetString):
            return bytes(value.asOctets())
        if isinstance(value, rfc1902.ObjectName):
            return tuple(value)
        try:
            return int(value)
        except (TypeError, ValueError):
            return value.prettyPrint()

    # -- the three calls ----------------------------------------------------------------------

    def get(self, oids: Sequence[Oid]) -> dict[Oid, Any]:
        """The values of `oids` (None for one the agent does not have)."""
        return self._run(self._get(oids))

    async def _get(self, oids: Sequence[Oid]) -> dict[Oid, Any]:
        engine, target = await self._session()
        what = f"GET {oid_text(oids[0])}" + (f" (+{len(oids) - 1})" if len(oids) > 1 else "")
        result = await get_cmd(
            engine,
            self.credentials.auth_data(),
            target,
            self.credentials.context_data(),
            *(ObjectType(ObjectIdentity(oid_text(oid))) for oid in oids),
            lookupMib=False,  # numbers in, numbers out: no MIB module is loaded or compiled
        )
        self._check(what, *result)
        return {tuple(b[0]): self._value(b) for b in result[3]}

    def set_int(self, oid: Oid, value: int, *, read_back: bool = True) -> Any:
        """SET an INTEGER and read it back: the value the agent holds afterwards (an agent
        may answer a SET on an object it cannot write with no error at all). Without
        `read_back`, None: the caller reads what took with the next request it makes anyway."""
        return self._run(self._set_int(oid, value, read_back))

    async def _set_int(self, oid: Oid, value: int, read_back: bool) -> Any:
        engine, target = await self._session()
        result = await set_cmd(
            engine,
            self.credentials.auth_data(),
            target,
            self.credentials.context_data(),
            ObjectType(ObjectIdentity(oid_text(oid)), rfc1902.Integer32(value)),
            lookupMib=False,
        )
        self._check(f"SET {oid_text(oid)} = {value}", *result)
        if not read_back:
            return None
        return (await self._get([oid]))[oid]

    def walk(self, prefix: Oid, *, max_rows: int = 100_000) -> list[tuple[Oid, Any]]:
        """Every object under `prefix`, in order. GETBULK (v2c and v3: `BULK_ROWS` rows a round
        trip; a forwarding table of 66 MACs is three round trips instead of 67), falling back
        to GETNEXT for good on an agent that answers GETBULK badly (some small switches do)."""
        if self._bulk:
            try:
                return self._run(self._walk(prefix, max_rows, bulk=True))
            except SnmpTimeout:
                raise  # the agent is away, not bad at GETBULK
            except SnmpError:
                self._bulk = False
        return self._run(self._walk(prefix, max_rows, bulk=False))

    async def _walk(self, prefix: Oid, max_rows: int, *, bulk: bool) -> list[tuple[Oid, Any]]:
        engine, target = await self._session()
        start = ObjectType(ObjectIdentity(oid_text(prefix)))
        auth, context = self.credentials.auth_data(), self.credentials.context_data()
        options = {"lexicographicMode": False, "lookupMib": False}
        results = (
            bulk_walk_cmd(engine, auth, target, context, 0, BULK_ROWS, start, **options)
            if bulk
            else walk_cmd(engine, auth, target, context, start, **options)
        )
        rows: list[tuple[Oid, Any]] = []
        async for result in results:
            self._check(f"walk {oid_text(prefix)}", *result)
            for bind in result[3]:
                oid = tuple(bind[0])
                if oid[: len(prefix)] != prefix:
                    return rows
                value = self._value(bind)
                if value is not None:
                    rows.append((oid, value))
            if len(rows) >= max_rows:
                raise SnmpError(f"switch {self.name}: walk {oid_text(prefix)}: over {max_rows}")
        return rows

    # -- closing ------------------------------------------------------------------------------

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True

        async def shut() -> None:
            if self._engine is not None:
                self._engine.close_dispatcher()

        with contextlib.suppress(Exception):  # closing must not fail a safe path
            asyncio.run_coroutine_threadsafe(shut(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()

    def __enter__(self) -> SnmpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SnmpClient({self.name!r}, {self.where}, {self.credentials.describe()})"
