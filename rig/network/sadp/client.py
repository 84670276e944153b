"""The SADP client: one UDP socket that sends probes and collects the units' answers.

SADP works at layer 2 reach (multicast, TTL 1), so it finds a camera on its factory address
(192.168.1.64) whatever subnet the rig is on. Identity is by MAC, never by IP: many reset
cameras share the same address.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import logging
import selectors
import socket
import struct
import threading
import time
import uuid as uuidlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import TracebackType

from rig.errors import NetworkError, ParseError
from rig.network.sadp.message import (
    SADP_MULTICAST,
    ForeignReply,
    SadpReply,
    build_probe,
    parse_probe_match,
)

__all__ = ["SadpClient", "SadpStats"]

log = logging.getLogger(__name__)


@dataclass
class SadpStats:
    """Counters over a client's life, for the job record and for diagnosing a noisy segment."""

    probes: int = 0
    replies: int = 0  # distinct units returned, summed over probes
    duplicates: int = 0  # same MAC again within one window
    foreign: int = 0  # answers to someone else's probe
    late: int = 0  # answers to one of our earlier probes, arriving after its window
    woken: int = 0  # windows ended early by wake()
    junk: int = 0  # not a ProbeMatch, unreadable, or over recv_cap


class SadpClient:
    """One UDP socket that sends SADP probes and collects the ProbeMatch replies.

    Units answer to the address and port the probe came from, not to the multicast group
    (docs/architecture.md), so the socket is bound to an ephemeral port and no multicast group
    is joined. Probes from several threads are
    serialised: two windows sharing one socket would steal each other's replies.

    A window waits in `selectors` on the socket and on a wake pair, so `wake()` (another
    thread) ends it at once without any polling loop: the poller ends a slow window the moment
    someone starts expecting a unit to go or come back.
    """

    # Remember a few of our own recent probes so a slow unit's late answer is counted as late,
    # not mistaken for another SADP tool on the segment.
    _RECENT_PROBES = 16
    _PARSED_CAP = 4096  # answers kept parsed: far more than the units of one bench LAN

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
        self._parsed: dict[bytes, tuple[SadpReply, str]] = {}  # see _parse
        # wake(): a byte written to `_wake_w` ends the window in progress, or the next one
        # (right after its probe is sent) if none is; clear_wake() drops one left pending.
        self._wake_lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._sock: socket.socket | None = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._configure(self._sock, ttl)
        except BaseException:
            self._sock.close()
            self._sock = None
            self._wake_r.close()
            self._wake_w.close()
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
        coming back without waiting for the window to close). It also sees a late answer (to
        one of our recent probes, arriving in this window): still proof the unit is there,
        though not one of this window's replies. Raises NetworkError if the probe cannot be
        sent. Foreign, late and junk datagrams are counted in `stats`; `wake()` ends the
        window early (the replies so far are returned).
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

    def wake(self) -> bool:
        """End the window in progress now (from another thread); if none is, the next one
        ends right after its probe is sent, unless clear_wake() comes first."""
        with self._wake_lock:
            if self._sock is None:
                return False
            # A full pair holds wakes already: the window ends all the same.
            with contextlib.suppress(BlockingIOError):
                self._wake_w.send(b"w")
            return True

    def clear_wake(self) -> None:
        """Drop a wake that no window has taken (it came as the window closed)."""
        with self._wake_lock:
            if self._sock is not None:
                self._drain_wake()

    def _drain_wake(self) -> bool:
        woken = False
        while True:
            try:
                woken = bool(self._wake_r.recv(64)) or woken
            except (BlockingIOError, InterruptedError):
                return woken
            except OSError:
                return woken  # closed

    def _datagrams(
        self, sock: socket.socket, deadline: float
    ) -> Iterator[tuple[bytes, tuple[str, int]]]:
        """Every datagram that reaches `sock` before `deadline` or a wake (oversized ones
        included, one byte over the cap so the caller can tell them from one exactly at it).

        One select over the socket and the wake pair: the thread sleeps in the kernel until a
        datagram, a wake or the deadline, so an idle poller costs no CPU."""
        sock.setblocking(False)
        with selectors.DefaultSelector() as selector:
            selector.register(sock, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while (remaining := deadline - time.monotonic()) > 0:
                ready = {key.fileobj for key, _ in selector.select(remaining)}
                if self._wake_r in ready:
                    with self._wake_lock:
                        woken = self._drain_wake()
                    if woken:
                        self.stats.woken += 1
                        return
                if sock not in ready:
                    continue
                try:
                    data, sender = sock.recvfrom(self.recv_cap + 1)
                except (BlockingIOError, InterruptedError):
                    continue
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
                reply = self._parse(data, probe_uuid)
            except ForeignReply as exc:
                if exc.uuid.casefold() in self._recent:
                    self.stats.late += 1
                    if on_reply is not None and (late := self._late_reply(data)) is not None:
                        # Late, but the unit answered: it is there (not this window's reply).
                        on_reply(dataclasses.replace(late, sender=str(sender[0])))
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

    def _parse(self, data: bytes, probe_uuid: str) -> SadpReply:
        """`parse_probe_match` of an answer to `probe_uuid`, parsed once per unit state: a
        unit answers every probe with the same datagram but for the Uuid it echoes, and 48
        units polled twice a second are a hundred XML parses a second, most of an idle
        station's CPU. An answer seen before (the same bytes around this probe's Uuid) is
        the earlier parse with this Uuid; any other datagram is parsed in full."""
        token = probe_uuid.encode("ascii")
        key = data.replace(token, b"") if token in data else None
        cached = self._parsed.get(key) if key is not None else None
        if cached is not None:
            template, old = cached
            return dataclasses.replace(
                template,
                uuid=probe_uuid,
                raw={k: probe_uuid if v == old else v for k, v in template.raw.items()},
                xml=template.xml.replace(old, probe_uuid),
            )
        reply = parse_probe_match(data, expect_uuid=probe_uuid)
        if key is not None and reply.uuid == probe_uuid:
            if len(self._parsed) >= self._PARSED_CAP:
                self._parsed.clear()  # units come and go: start over rather than grow
            self._parsed[key] = (reply, probe_uuid)
        return reply

    @staticmethod
    def _late_reply(data: bytes) -> SadpReply | None:
        try:
            return parse_probe_match(data)
        except ParseError:
            return None  # answers an old probe but names no unit (no valid MAC): nothing

    def close(self) -> None:
        """Close the socket; idempotent."""
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None
                with self._wake_lock:
                    self._wake_r.close()
                    self._wake_w.close()

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
