"""SimNetwork: one UDP socket on 127.0.0.1 standing in for the LAN's SADP multicast group.

Point the rig's `sadp_target` at `SimNetwork.target` ("127.0.0.1:PORT"). Every datagram it gets
is read as a SADP request and answered, to the address and port it came from, by the cameras
added to it. Nothing is ever sent anywhere but a loopback address.

Requests understood (root and tag names case-insensitive, namespaces ignored):

* inquiry, exactly what the rig sends:
  `<?xml version="1.0" encoding="utf-8"?><Probe><Uuid>UUID</Uuid><Types>inquiry</Types></Probe>`
  Every ONLINE camera answers with its own datagram, in the order the cameras were added:
  `<?xml version="1.0" encoding="UTF-8" ?>\\n<ProbeMatch>\\n    <Uuid>UUID</Uuid>\\n ...`
  with the fields and layout of the DVR capture: Uuid (echoed), Types (inquiry), Encrypt, Salt,
  DeviceType, DeviceDescription (model), DeviceSN, CommandPort (8000), HttpPort (the camera's
  HTTP port), MAC (dashes), IPv4Address (127.0.0.1), IPv4SubnetMask, IPv4Gateway, IPv6Address,
  IPv6Gateway, IPv6MaskLen, DHCP, AnalogChannelNum, DigitalChannelNum, SoftwareVersion,
  DSPVersion, BootTime ("YYYY-MM-DD HH:MM:SS"), OEMInfo, Activated, PasswordResetAbility,
  PasswordResetModeSecond, DeviceLock, SupportGUID, SupportSecurityQuestion, SupportHCPlatform.
  A unit without activation (`CameraSpec.has_activation`; by default firmware < 5.3) omits
  Encrypt, Salt, Activated and the fields after it; with `sadp_legacy_activated="true"` it
  sends a permanent Activated true (and still none of the others).

Anything else (unparsable, unknown Types, a ProbeMatch) is ignored, as a camera would.

`junk_every=N` (N > 0): every Nth request gets one junk datagram ahead of its answers, cycling
through garbage bytes, truncated XML, another client's Probe, an entity-expansion bomb and
bytes that are not UTF-8, so the rig's parser meets what a real LAN carries.

A "foreign" camera (another unit on the same network, not the one in the bay) is simply a
second SimCamera added here and not wired to the bay's pins.
"""

from __future__ import annotations

import ipaddress
import itertools
import logging
import socket
import threading
from collections.abc import Iterable
from types import TracebackType
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from rig.sim.camera import LOOPBACK, SimCamera

log = logging.getLogger("rig.sim")

_MAX_DATAGRAM = 8192  # a probe is ~120 bytes; anything large is not SADP

JUNK_DATAGRAMS: tuple[bytes, ...] = (
    b"\x00\x01\x02garbage\xff\xfe\x80 not xml at all",
    b'<?xml version="1.0" encoding="UTF-8" ?>\n<ProbeMatch>\n    <Uuid>8282F1DB-2FA6',
    b'<?xml version="1.0" encoding="utf-8"?><Probe><Uuid>00000000-1111-2222-3333-'
    b"444444444444</Uuid><Types>inquiry</Types></Probe>",
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 '
    b'"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><ProbeMatch><DeviceSN>&lol2;</DeviceSN>'
    b"</ProbeMatch>",
    b"<ProbeMatch><DeviceDescription>\xe9\xff\xfe</DeviceDescription></ProbeMatch>",
)


def _local_name(element: Element) -> str:
    return element.tag.rsplit("}", 1)[-1].lower()


def parse_request(data: bytes) -> dict[str, str] | None:
    """The fields of a SADP <Probe> (keys lower-cased), or None when it is not one."""
    if len(data) > _MAX_DATAGRAM:
        return None
    try:
        root = SafeET.fromstring(data)
    except (ParseError, DefusedXmlException, ValueError):
        return None
    if _local_name(root) != "probe":
        return None
    return {_local_name(child): (child.text or "").strip() for child in root}


class SimNetwork:
    """The simulated LAN segment the cameras share. Thread-safe; start()/stop() or `with`."""

    def __init__(self, cameras: Iterable[SimCamera] = (), *, junk_every: int = 0) -> None:
        if junk_every < 0:
            raise ValueError("junk_every must be >= 0")
        self.junk_every = junk_every
        self._cameras: list[SimCamera] = list(cameras)
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._junk = itertools.cycle(JUNK_DATAGRAMS)
        self.requests_seen = 0
        self.junk_sent = 0

    def start(self) -> SimNetwork:
        if self._sock is not None:
            raise RuntimeError("SimNetwork.start() called twice")
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((LOOPBACK, 0))
        sock.settimeout(0.05)  # how soon the receive loop notices stop()
        self._sock = sock
        self._thread = threading.Thread(target=self._serve, name="rig.sim.sadp", daemon=True)
        self._thread.start()
        log.info("SADP sim on %s:%d", *self.address)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._sock is not None:
            self._sock.close()

    def __enter__(self) -> SimNetwork:
        if self._sock is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def address(self) -> tuple[str, int]:
        """Where probes go: ("127.0.0.1", port)."""
        if self._sock is None:
            raise RuntimeError("SimNetwork not started")
        host, port = self._sock.getsockname()[:2]
        return (str(host), int(port))

    @property
    def target(self) -> str:
        """The address as the config's `sadp_target` string."""
        host, port = self.address
        return f"{host}:{port}"

    def add(self, camera: SimCamera) -> SimCamera:
        with self._lock:
            if camera not in self._cameras:
                self._cameras.append(camera)
        return camera

    def remove(self, camera: SimCamera) -> None:
        with self._lock:
            if camera in self._cameras:
                self._cameras.remove(camera)

    @property
    def cameras(self) -> tuple[SimCamera, ...]:
        with self._lock:
            return tuple(self._cameras)

    # -------------------------------------------------------------

    def _serve(self) -> None:
        sock = self._sock
        assert sock is not None
        while not self._stop.is_set():
            try:
                data, addr = sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError as exc:
                if self._stop.is_set():
                    break
                log.debug("SADP sim: recv failed: %s", exc)
                continue
            try:
                self._handle(data, (str(addr[0]), int(addr[1])))
            except Exception:  # one bad datagram must not end the network
                log.exception("SADP sim: handling a datagram from %s failed", addr)

    def _send(self, payload: bytes, addr: tuple[str, int]) -> None:
        # Belt and braces: the socket is bound to loopback, but never answer anywhere else.
        if not ipaddress.ip_address(addr[0]).is_loopback:
            log.warning("SADP sim: not answering non-loopback %s", addr)
            return
        assert self._sock is not None
        try:
            self._sock.sendto(payload, addr)
        except OSError as exc:
            log.debug("SADP sim: send to %s failed: %s", addr, exc)

    def _handle(self, data: bytes, addr: tuple[str, int]) -> None:
        request = parse_request(data)
        if request is None:
            log.debug("SADP sim: ignoring %d bytes from %s", len(data), addr)
            return
        kind = request.get("types", "").lower()
        probe_uuid = request.get("uuid", "")
        with self._lock:
            self.requests_seen += 1
            count = self.requests_seen
            cameras = list(self._cameras)
            junk = next(self._junk) if self.junk_every and count % self.junk_every == 0 else None
            if junk is not None:
                self.junk_sent += 1
        log.debug("SADP sim: %s from %s", kind or "?", addr)
        if junk is not None:
            self._send(junk, addr)
        if kind == "inquiry":
            for camera in cameras:
                reply = camera.sadp_probe_match(probe_uuid)
                if reply is not None:
                    self._send(reply, addr)
