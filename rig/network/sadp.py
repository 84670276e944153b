"""SADP, Hikvision's UDP discovery: the probe, the ProbeMatch parser, a client and a poller.

SADP works at layer 2 reach (multicast, TTL 1), so it finds a camera on its factory address
(192.168.1.64) whatever subnet the rig is on. Identity is by MAC, never by IP: many reset
cameras share the same address. See DESIGN.md §4.
"""

from __future__ import annotations

import collections
import dataclasses
import ipaddress
import logging
import re
import socket
import struct
import threading
import time
import uuid as uuidlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal, Protocol

from rig.errors import NetworkError, ParseError
from rig.network.version import FirmwareVersion, parse_firmware
from rig.network.xmlutil import (
    DEFAULT_MAX_BYTES,
    child_text,
    fields,
    name_is,
    parse_bool,
    parse_xml,
)

__all__ = [
    "SADP_MULTICAST",
    "ForeignReply",
    "SadpClient",
    "SadpEvent",
    "SadpPoller",
    "SadpReply",
    "SadpStats",
    "build_probe",
    "normalise_mac",
    "parse_probe_match",
]

log = logging.getLogger(__name__)

#: Where Hikvision's own SADP tool sends its probes.
SADP_MULTICAST: tuple[str, int] = ("239.255.255.250", 37020)

_UUID_RE = re.compile(r"[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}")
_MAC_RE = re.compile(r"[0-9a-f]{2}(?:([-:])[0-9a-f]{2})(?:\1[0-9a-f]{2}){4}|[0-9a-f]{12}")


class ForeignReply(ParseError):
    """A well-formed ProbeMatch answering someone else's probe (another SADP tool, or ours
    from an earlier window). Not an error of the sender: it is simply not for us."""

    def __init__(self, message: str, uuid: str) -> None:
        super().__init__(message)
        self.uuid = uuid


def build_probe(uuid: str) -> bytes:
    """The exact inquiry probe Hikvision's SADP tool sends, with `uuid` in upper case.

    The uuid must be in the canonical 8-4-4-4-12 form: it goes into the XML as is, and the
    reply's Uuid is compared with it.
    """
    if not _UUID_RE.fullmatch(uuid):
        raise ValueError(f"SADP probe uuid must be a canonical UUID, got {uuid!r}")
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f"<Probe><Uuid>{uuid.upper()}</Uuid><Types>inquiry</Types></Probe>"
    ).encode("ascii")


def normalise_mac(text: str | None) -> str:
    """`68:6D:BC:EE:F8:F0`, `68-6d-bc-ee-f8-f0` or `686dbceef8f0` -> `68-6d-bc-ee-f8-f0`.

    Raises ParseError for anything else, and for the all-zero and broadcast addresses: the MAC
    is the unit's identity, and those two would make different units look the same.
    """
    if text is None:
        raise ParseError("MAC is missing")
    value = text.strip().lower()
    if not _MAC_RE.fullmatch(value):
        raise ParseError(f"MAC {text.strip()[:40]!r} is not a MAC address")
    digits = value.replace("-", "").replace(":", "")
    if digits in ("000000000000", "ffffffffffff"):
        raise ParseError(f"MAC {text.strip()!r} cannot identify a unit")
    return "-".join(digits[i : i + 2] for i in range(0, 12, 2))


@dataclass(frozen=True)
class SadpReply:
    """One unit's ProbeMatch, the fields that matter parsed, everything kept in `raw`."""

    uuid: str
    mac: str  # normalised: lower case with dashes
    device_sn: str | None  # model + date + serial run together
    model: str | None  # DeviceDescription
    firmware: str | None  # SoftwareVersion as sent, e.g. "V5.7.3build 230222"
    ipv4: str | None
    http_port: int | None
    dhcp: bool | None
    boot_time: str | None
    activated: bool | None  # None: the unit did not say (firmware before 5.3 may omit it)
    raw: dict[str, str] = field(default_factory=dict, repr=False, hash=False, compare=False)
    xml: str = field(default="", repr=False, hash=False, compare=False)
    sender: str | None = None  # source address of the datagram, when it came off a socket

    def matches_serial(self, label_serial: str) -> bool:
        """Is `label_serial` (as printed on the unit's label) the end of this DeviceSN?"""
        wanted = label_serial.strip().upper()
        if not wanted or not self.device_sn:
            return False
        return self.device_sn.strip().upper().endswith(wanted)

    @property
    def firmware_version(self) -> FirmwareVersion | None:
        return parse_firmware(self.firmware)


def _port_or_none(text: str | None) -> int | None:
    if text is None or not text.isdigit() or len(text) > 5:
        return None
    port = int(text)
    return port if 0 < port < 65536 else None


def _ipv4_or_none(text: str | None) -> str | None:
    # The address is used later as an HTTP target, so only a real dotted quad gets through.
    if not text:
        return None
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        return None


def parse_probe_match(
    data: bytes, *, expect_uuid: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> SadpReply:
    """Parse one SADP datagram. Field names in any case; unknown fields kept in `raw`.

    Raises ForeignReply if the Uuid is not `expect_uuid` (case-insensitive), ParseError for
    anything that is not a ProbeMatch with a Uuid and a valid MAC.
    """
    root = parse_xml(data, max_bytes=max_bytes, what="SADP reply")
    if not name_is(root, "ProbeMatch"):
        raise ParseError(f"SADP reply is a <{str(root.tag)[:40]}>, not a <ProbeMatch>")
    reply_uuid = child_text(root, "Uuid")
    if not reply_uuid:
        raise ParseError("SADP reply has no Uuid")
    if expect_uuid is not None and reply_uuid.casefold() != expect_uuid.strip().casefold():
        raise ForeignReply(f"SADP reply answers probe {reply_uuid[:40]!r}, not ours", reply_uuid)
    mac = normalise_mac(child_text(root, "MAC"))

    def text(name: str) -> str | None:
        return child_text(root, name) or None  # an empty element says nothing

    return SadpReply(
        uuid=reply_uuid,
        mac=mac,
        device_sn=text("DeviceSN"),
        model=text("DeviceDescription"),
        firmware=text("SoftwareVersion"),
        ipv4=_ipv4_or_none(text("IPv4Address")),
        http_port=_port_or_none(text("HttpPort")),
        dhcp=parse_bool(text("DHCP")),
        boot_time=text("BootTime"),
        activated=parse_bool(text("Activated")),
        raw=fields(root),
        xml=bytes(data).decode("utf-8-sig"),  # parse_xml proved it is UTF-8
    )


@dataclass
class SadpStats:
    """Counters over a client's life, for the job record and for diagnosing a noisy segment."""

    probes: int = 0
    replies: int = 0  # distinct units returned, summed over probes
    duplicates: int = 0  # same MAC again within one window
    foreign: int = 0  # answers to someone else's probe
    late: int = 0  # answers to one of our earlier probes, arriving after its window
    junk: int = 0  # not a ProbeMatch, unreadable, or over recv_cap


class SadpClient:
    """One UDP socket that sends SADP probes and collects the ProbeMatch replies.

    Replies come back to the sending socket (DESIGN §4), so the socket is bound to an
    ephemeral port and no multicast group is joined. Probes from several threads are
    serialised: two windows sharing one socket would steal each other's replies.
    """

    # Remember a few of our own recent probes so a slow unit's late answer is counted as late,
    # not mistaken for another SADP tool on the segment.
    _RECENT_PROBES = 16

    def __init__(
        self,
        target: tuple[str, int] = SADP_MULTICAST,
        *,
        source: str | None = None,
        interface: str | None = None,
        ttl: int = 1,
        recv_cap: int = 65536,
    ) -> None:
        if not 1 <= ttl <= 255:
            raise ValueError(f"SADP ttl must be 1..255, got {ttl}")
        if recv_cap < 1:
            raise ValueError(f"SADP recv_cap must be positive, got {recv_cap}")
        self.target = target
        self.source = source
        self.interface = interface
        self.recv_cap = recv_cap
        self.stats = SadpStats()
        self._lock = threading.Lock()
        self._recent: collections.deque[str] = collections.deque(maxlen=self._RECENT_PROBES)
        self._sock: socket.socket | None = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._configure(self._sock, ttl)
        except BaseException:
            self._sock.close()
            self._sock = None
            raise

    def _configure(self, sock: socket.socket, ttl: int) -> None:
        # TTL 1 keeps probes on the bench segment: SADP is link-local by nature, and the
        # kernel default is not something to rely on.
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
        if self.interface is not None:
            self._bind_to_device(sock, self.interface)
        address = self.source if self.source is not None else "0.0.0.0"
        try:
            if self.source is not None:
                # Without this the kernel picks the multicast interface from the routing
                # table, which on a Pi with Wi-Fi up is often not the bench Ethernet.
                sock.setsockopt(
                    socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(self.source)
                )
            sock.bind((address, 0))
        except OSError as exc:
            raise NetworkError(
                f"cannot bind the SADP socket to {address}: {exc.strerror or exc}"
            ) from exc

    @staticmethod
    def _bind_to_device(sock: socket.socket, interface: str) -> None:
        option = getattr(socket, "SO_BINDTODEVICE", None)
        if option is None:
            raise NetworkError(f"binding SADP to interface {interface!r} needs Linux")
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, interface.encode() + b"\0")
            # SO_BINDTODEVICE already constrains multicast egress; naming the interface for
            # IP_MULTICAST_IF too (struct ip_mreqn) makes that explicit on every kernel.
            mreqn = struct.pack("@4s4si", bytes(4), bytes(4), socket.if_nametoindex(interface))
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, mreqn)
        except PermissionError as exc:
            raise NetworkError(
                f"binding SADP to interface {interface!r} is not permitted: run as root or "
                "grant CAP_NET_RAW (setcap cap_net_raw+ep on the python binary)"
            ) from exc
        except OSError as exc:
            raise NetworkError(
                f"cannot bind SADP to interface {interface!r}: {exc.strerror or exc}"
            ) from exc

    @property
    def closed(self) -> bool:
        return self._sock is None

    @property
    def local_address(self) -> tuple[str, int]:
        if self._sock is None:
            raise NetworkError("SADP client is closed")
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    def probe(
        self, window_s: float, on_reply: Callable[[SadpReply], None] | None = None
    ) -> list[SadpReply]:
        """Send one probe and collect the units that answer within `window_s`, one per MAC.

        `on_reply` sees each unit the moment its answer arrives (the poller notices a unit
        coming back without waiting for the window to close). Raises NetworkError if the
        probe cannot be sent. Foreign, late and junk datagrams are counted in `stats` and
        otherwise ignored.
        """
        if window_s < 0:
            raise ValueError(f"SADP window must not be negative, got {window_s}")
        with self._lock:
            sock = self._sock
            if sock is None:
                raise NetworkError("SADP client is closed")
            probe_uuid = str(uuidlib.uuid4()).upper()
            deadline = time.monotonic() + window_s
            try:
                sock.sendto(build_probe(probe_uuid), self.target)
            except OSError as exc:
                raise NetworkError(
                    f"SADP probe to {self.target[0]}:{self.target[1]} failed: {exc.strerror or exc}"
                ) from exc
            self.stats.probes += 1
            self._recent.append(probe_uuid.casefold())
            return self._collect(sock, probe_uuid, deadline, on_reply)

    def _datagrams(
        self, sock: socket.socket, deadline: float
    ) -> Iterator[tuple[bytes, tuple[str, int]]]:
        """Every datagram that reaches `sock` before `deadline` (oversized ones included, one
        byte over the cap so the caller can tell them from one exactly at it)."""
        while (remaining := deadline - time.monotonic()) > 0:
            sock.settimeout(remaining)
            try:
                data, sender = sock.recvfrom(self.recv_cap + 1)
            except TimeoutError:
                return
            except ConnectionError:
                # An ICMP error from an earlier send surfacing here; nothing to read.
                continue
            except OSError as exc:
                raise NetworkError(f"SADP receive failed: {exc.strerror or exc}") from exc
            yield data, sender

    def _collect(
        self,
        sock: socket.socket,
        probe_uuid: str,
        deadline: float,
        on_reply: Callable[[SadpReply], None] | None = None,
    ) -> list[SadpReply]:
        by_mac: dict[str, SadpReply] = {}
        for data, sender in self._datagrams(sock, deadline):
            if len(data) > self.recv_cap:
                self.stats.junk += 1
                continue
            try:
                reply = parse_probe_match(data, expect_uuid=probe_uuid)
            except ForeignReply as exc:
                if exc.uuid.casefold() in self._recent:
                    self.stats.late += 1
                else:
                    self.stats.foreign += 1
                continue
            except ParseError as exc:
                self.stats.junk += 1
                log.debug("SADP junk from %s: %s", sender, exc)
                continue
            if reply.mac in by_mac:
                self.stats.duplicates += 1
                continue
            by_mac[reply.mac] = dataclasses.replace(reply, sender=str(sender[0]))
            if on_reply is not None:
                on_reply(by_mac[reply.mac])
        self.stats.replies += len(by_mac)
        return list(by_mac.values())

    def close(self) -> None:
        """Close the socket; idempotent."""
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None

    def __enter__(self) -> SadpClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._sock is None else "open"
        return f"SadpClient(target={self.target!r}, source={self.source!r}, {state})"


class Prober(Protocol):
    """What the poller needs of a client (a SadpClient, or a fake in tests)."""

    def probe(
        self, window_s: float, on_reply: Callable[[SadpReply], None] | None = None
    ) -> list[SadpReply]: ...


EventKind = Literal["appeared", "vanished"]


@dataclass(frozen=True)
class SadpEvent:
    kind: EventKind
    mac: str
    reply: SadpReply  # for "vanished", the last reply seen before it went
    at: float  # monotonic seconds


class SadpPoller:
    """Probes every `poll_s` in a background thread and tracks which units are present.

    A unit vanishes after `misses_to_vanish` consecutive polls without it: one lost UDP
    datagram must not look like a power cut. A poll whose probe could not be sent is not a
    miss (it proves nothing about the units); it is counted in `errors`.

    The client is borrowed, not owned: closing it is the caller's job.
    """

    # A long run of a flapping unit must not grow memory without bound.
    _MAX_EVENTS = 10_000

    def __init__(
        self,
        client: Prober,
        *,
        poll_s: float = 0.5,
        window_s: float | None = None,
        misses_to_vanish: int = 2,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if poll_s <= 0:
            raise ValueError(f"poll_s must be positive, got {poll_s}")
        if misses_to_vanish < 1:
            raise ValueError(f"misses_to_vanish must be at least 1, got {misses_to_vanish}")
        self._client = client
        self.poll_s = poll_s
        # Cameras answer within milliseconds; listening the whole period keeps polling simple
        # and catches the slow ones.
        self.window_s = poll_s if window_s is None else window_s
        self.misses_to_vanish = misses_to_vanish
        self._monotonic = monotonic
        self._cond = threading.Condition(threading.RLock())
        self._present: dict[str, SadpReply] = {}
        self._misses: dict[str, int] = {}
        self._events: collections.deque[SadpEvent] = collections.deque(maxlen=self._MAX_EVENTS)
        self._subscribers: list[Callable[[SadpEvent], None]] = []
        self._polls = 0
        self._errors = 0
        self._last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- state, all under the condition's lock ---------------------------------------------

    def present(self) -> dict[str, SadpReply]:
        """The latest reply of every unit currently present, by MAC."""
        with self._cond:
            return dict(self._present)

    @property
    def events(self) -> list[SadpEvent]:
        """Every appear/vanish so far, oldest first (a copy)."""
        with self._cond:
            return list(self._events)

    @property
    def polls(self) -> int:
        with self._cond:
            return self._polls

    @property
    def errors(self) -> int:
        with self._cond:
            return self._errors

    @property
    def last_error(self) -> str | None:
        with self._cond:
            return self._last_error

    def subscribe(self, callback: Callable[[SadpEvent], None]) -> Callable[[], None]:
        """Call `callback(event)` from the poller thread for each event; returns an unsubscribe.

        Callbacks run outside the poller's lock, so they may call back into the poller; one
        that raises is logged and does not stop the others or the polling.
        """
        with self._cond:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._cond:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def wait_for(self, predicate: Callable[[dict[str, SadpReply]], bool], timeout_s: float) -> bool:
        """Block until `predicate(present)` is true (re-checked after every poll) or timeout.

        Returns the predicate's last value. The predicate runs with the poller's lock held:
        keep it quick.
        """
        with self._cond:
            return self._cond.wait_for(lambda: predicate(dict(self._present)), timeout_s)

    # --- the thread -------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start polling; a no-op if already running."""
        with self._cond:
            if self.running:
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="sadp-poller", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float | None = None) -> None:
        """Stop polling and wait for the thread (at most the window plus `timeout_s`)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.window_s + (1.0 if timeout_s is None else timeout_s))
        with self._cond:
            self._cond.notify_all()

    def __enter__(self) -> SadpPoller:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                replies = self._client.probe(self.window_s, on_reply=self._arrived)
            except Exception as exc:
                self._record_error(exc)
            else:
                self.poll_once(replies)
            next_at += self.poll_s
            now = time.monotonic()
            if next_at < now:
                next_at = now  # fell behind (slow window): poll again now, never in a burst
            self._stop.wait(next_at - now)

    def _record_error(self, exc: Exception) -> None:
        if isinstance(exc, NetworkError):
            log.warning("SADP poll failed: %s", exc)
        else:
            log.exception("SADP poll failed unexpectedly")
        with self._cond:
            self._errors += 1
            self._last_error = f"{type(exc).__name__}: {exc}"
            self._cond.notify_all()

    def _arrived(self, reply: SadpReply) -> None:
        """A unit answered mid-window: present from now on (misses are counted per poll)."""
        with self._cond:
            new_events: list[SadpEvent] = []
            if reply.mac not in self._present:
                new_events.append(SadpEvent("appeared", reply.mac, reply, self._monotonic()))
                self._events.extend(new_events)
            self._present[reply.mac] = reply
            self._misses[reply.mac] = 0
            self._cond.notify_all()
            subscribers = list(self._subscribers)
        for event in new_events:
            for callback in subscribers:
                try:
                    callback(event)
                except Exception:
                    log.exception("SADP event subscriber failed on appeared %s", event.mac)

    def poll_once(self, replies: list[SadpReply]) -> list[SadpEvent]:
        """Fold one poll's replies into the state; returns (and publishes) its events.

        The thread calls this after every probe; tests and callers with their own loop may
        call it directly.
        """
        with self._cond:
            now = self._monotonic()
            seen = {reply.mac: reply for reply in replies}
            new_events: list[SadpEvent] = []
            for mac, reply in seen.items():
                if mac not in self._present:
                    new_events.append(SadpEvent("appeared", mac, reply, now))
                self._present[mac] = reply
                self._misses[mac] = 0
            for mac in [m for m in self._present if m not in seen]:
                self._misses[mac] += 1
                if self._misses[mac] >= self.misses_to_vanish:
                    gone = self._present.pop(mac)
                    del self._misses[mac]
                    new_events.append(SadpEvent("vanished", mac, gone, now))
            self._events.extend(new_events)
            self._polls += 1
            subscribers = list(self._subscribers)
            self._cond.notify_all()
        for event in new_events:
            for callback in subscribers:
                try:
                    callback(event)
                except Exception:
                    log.exception("SADP event subscriber failed on %s %s", event.kind, event.mac)
        return new_events

    def __repr__(self) -> str:
        with self._cond:
            return (
                f"SadpPoller(poll_s={self.poll_s}, present={len(self._present)}, "
                f"polls={self._polls}, running={self.running})"
            )
