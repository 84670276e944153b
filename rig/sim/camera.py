"""A simulated Hikvision IP camera: power and reset-pin inputs, an ISAPI HTTP server, SADP answers.

The camera reacts to what the rig's hardware does, in real time (threads, `time.monotonic`):

* `power_off()` takes it offline at once: SADP goes silent, HTTP connections are reset.
* `power_on()` boots it: online `boot_s` later.
* The vendor's hard reset: if the reset pin is already down when power returns, the bootloader
  waits while it stays down. On release (or power loss) it factory-resets only when the pin was
  held continuously for at least `reset_hold_s` since the power-up. It comes online `boot_s`
  after the release.
* Factory reset: firmware >= 5.3 becomes inactive (no password at all, logins refused);
  older firmware (no activation) gets `admin`/`12345` back. DHCP returns to the factory
  setting (off), BootTime is that of the new boot.
* Faults for tests: `dead` (never boots again after it goes down), `reboot_loop` (after a power-up
  it is up `up_s`, down `down_s`, forever), `ignores_power_cut` (a relay that does not cut).

ISAPI, served on 127.0.0.1 at an ephemeral port (the port stays the same for the camera's life,
like a camera keeps its IP; while the camera is off, accepted connections are reset at once):

* `GET /SDK/activateStatus`, no login:
  `<ActivateStatus version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">`
  `<Activated>true|false</Activated></ActivateStatus>`; 404 on firmware < 5.3.
* `GET /ISAPI/System/deviceInfo`, HTTP Digest (MD5, qop="auth", realm "IP Camera(NNNNN)"):
  a `DeviceInfo` like the V5.5.0 capture, CRLF line ends.
* `PUT /ISAPI/System/factoryReset?mode=full|basic`, Digest: `ResponseStatus` statusCode 7
  "Reboot Required"; applied at the next boot (full: inactive, or admin/12345 on old firmware;
  basic: keeps network settings and the password).
* `PUT /ISAPI/System/reboot`, Digest: `ResponseStatus` statusCode 1 "OK"; offline right after
  the answer, back `boot_s` later.
* Login failures: a request without Digest credentials gets the plain 401 challenge (as in the
  capture) and is not a failed login. A wrong user or password is, and its 401 carries a
  `userCheck` (lockStatus unlock, retryLoginTime = attempts left). After `lock_after_failures`
  failures the client IP is locked for `lock_s`: every Digest request gets 401 with a `userCheck`
  lockStatus lock, unlockTime = seconds left (no login is checked meanwhile). The lock lives in
  RAM, so a reboot or power loss clears it. An inactive camera answers logins with 401 and a
  `userCheck` isActivated false, not counted as failures (there is no password to guess).

SADP answers are built here (`sadp_probe_match`, `sadp_restore_inactive`) and sent by
`rig.sim.network.SimNetwork`, which documents the datagrams.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import heapq
import hmac
import itertools
import logging
import math
import re
import secrets
import socket
import struct
import sys
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, cast
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

log = logging.getLogger("rig.sim")

LOOPBACK = "127.0.0.1"
OLD_FACTORY_PASSWORD = "12345"
ADMIN = "admin"
# First firmware with the activation step (no default password any more).
ACTIVATION_FIRMWARE = (5, 3)
# Hikvision cameras leave the factory with DHCP off (static 192.168.1.64).
FACTORY_DHCP = False
# Illustrative: the number a camera sends in SADP <DeviceType>; nothing should depend on it.
SADP_DEVICE_TYPE_IPC = "138153"

_HIK_NS = "http://www.hikvision.com/ver20/XMLSchema"
_ISAPI_NS = "http://www.isapi.org/ver20/XMLSchema"
_FIRMWARE_RE = re.compile(r"V?(\d+)\.(\d+)(?:\.(\d+))?", re.IGNORECASE)
_MAC_RE = re.compile(r"^[0-9a-f]{2}(?:-[0-9a-f]{2}){5}$")
_DIGEST_PARAM_RE = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')
_MAX_BODY = 64 * 1024
_MAX_NONCES = 256
_UNAUTHORIZED_HTML = (
    b"<!DOCTYPE html><html><head><title>Document Error: Unauthorized</title></head><body>"
    b"<h2>Access Error: 401 -- Unauthorized</h2><p>Authentication Error</p></body></html>"
)
_NOT_FOUND_HTML = (
    b"<!DOCTYPE html><html><head><title>Document Error: Not Found</title></head><body>"
    b"<h2>Access Error: 404 -- Not Found</h2><p>Cannot open URL</p></body></html>"
)

Phase = Literal["off", "held", "booting", "up", "dead"]
LoginResult = Literal["ok", "failure", "locked", "inactive"]


def firmware_version(firmware: str) -> tuple[int, int, int]:
    """(major, minor, patch) of a SoftwareVersion such as "V5.7.3build 230222"."""
    match = _FIRMWARE_RE.search(firmware)
    if match is None:
        raise ValueError(f"firmware {firmware!r} has no version number like V5.7.3")
    return int(match[1]), int(match[2]), int(match[3] or 0)


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def _abort_socket(sock: socket.socket) -> None:
    """Reset a TCP connection, as a camera losing power would drop it.

    Linger 0 makes the final close send RST; shutdown wakes a handler thread blocked in recv
    (close alone would not while its makefile() objects are open).
    """
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


@dataclass
class CameraSpec:
    """What one simulated camera is and how it behaves. Durations are seconds."""

    mac: str  # lower case with dashes, as SADP shows it; colons are accepted and converted
    device_sn: str  # full DeviceSN: model + date + serial run together
    model: str
    firmware: str = "V5.7.3build 230222"  # < 5.3: old firmware without activation
    boot_s: float = 3.0  # from power-up (or release, when held at power-up) until it answers
    reset_hold_s: float = 10.0  # continuous hold from power-up that makes the bootloader reset
    activated: bool = True  # initial state (ignored on old firmware, which has no activation)
    password: str = "Bench-Secret-1"  # initial admin password
    dead: bool = False  # never boots again once it has gone down (power loss or reboot)
    reboot_loop: bool = False  # after a power-up/reboot: up `up_s`, down `down_s`, forever
    up_s: float = 2.0
    down_s: float = 3.0
    ignores_power_cut: bool = False  # keeps running when the relay "cuts" (a failed relay)
    lock_after_failures: int = 7
    lock_s: float = 1800.0
    dhcp: bool = True  # initial network setting; a factory reset sets FACTORY_DHCP
    # When set, holding the pin this long while the camera runs also resets it (the
    # `running-hold` procedure). None: the pin is ignored while running, as DESIGN §6 says.
    running_hold_s: float | None = None
    # Some devices spell the SADP tags Ipv4Address etc.; parsers must not care.
    sadp_ipv4_prefix: str = "IPv4"
    http_port: int = 0  # 0: ephemeral
    version: tuple[int, int, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.mac = self.mac.strip().lower().replace(":", "-")
        if not _MAC_RE.match(self.mac):
            raise ValueError(f"mac {self.mac!r} is not six hex pairs")
        self.version = firmware_version(self.firmware)
        for name in ("boot_s", "reset_hold_s", "up_s", "down_s", "lock_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.lock_after_failures < 1:
            raise ValueError("lock_after_failures must be at least 1")
        if self.sadp_ipv4_prefix not in ("IPv4", "Ipv4"):
            raise ValueError("sadp_ipv4_prefix must be 'IPv4' or 'Ipv4'")

    @property
    def has_activation(self) -> bool:
        return self.version >= ACTIVATION_FIRMWARE

    @classmethod
    def sample(cls, n: int = 1, **changes: Any) -> CameraSpec:
        """A plausible unit number `n` (distinct MAC and serial per n), fields overridable."""
        values: dict[str, Any] = {
            "mac": f"44-19-b6-00-{(n >> 8) & 0xFF:02x}-{n & 0xFF:02x}",
            "device_sn": f"DS-2CD2143G2-I20230815AAWRJ{12345000 + n:08d}",
            "model": "DS-2CD2143G2-I",
        }
        values.update(changes)
        return cls(**values)


class SimCamera:
    """One simulated camera. Inputs: power_on/off, pin_down/up (or `watch`). Thread-safe."""

    def __init__(self, spec: CameraSpec) -> None:
        self.spec = spec
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._supply = False  # what the relay delivers
        self._powered = False  # what the camera gets (differs when ignores_power_cut)
        self._pin = False
        self._phase: Phase = "off"
        self._online = False
        self.online_since: float | None = None
        self._activated = spec.activated or not spec.has_activation
        self._password: str | None = spec.password if self._activated else None
        self._dhcp = spec.dhcp
        self._boot_wall = time.time()
        self._power_up_at = 0.0
        self._pending_reset: str | None = None  # "full" | "basic", applied at the next boot
        self._looping = False
        # Every power change or reboot bumps the epoch; events of an older epoch are void.
        self._epoch = 0
        self._press = 0  # running-hold presses, same idea as the epoch
        self._events: list[tuple[float, int, int, Callable[[float], None]]] = []
        self._seq = itertools.count()
        self._failures: dict[str, int] = {}
        self._locked_until: dict[str, float] = {}
        self._nonces: OrderedDict[str, None] = OrderedDict()
        self._conns: set[socket.socket] = set()
        self._resets = 0
        self._power_cycles = 0
        self._logins: list[tuple[str, bool]] = []
        self._requests: list[tuple[str, str]] = []
        self._last_reset: str | None = None
        self._started = False
        self._stopping = False
        self._server: _CameraHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._watcher: tuple[threading.Thread, threading.Event] | None = None
        digits = "".join(re.findall(r"\d", spec.device_sn))[-5:]
        self.realm = f"IP Camera({digits or '00000'})"

    # ----------------------------------------------------------------- lifecycle

    def start(self, online: bool = True) -> SimCamera:
        """Open the HTTP server and the event thread.

        online=True: powered and answering now (a camera already running in the bay).
        online=False: unpowered; `power_on()` boots it.
        """
        with self._lock:
            if self._started:
                raise RuntimeError("SimCamera.start() called twice")
            self._started = True
        server = _CameraHTTPServer(self, self.spec.http_port)
        self._server = server
        name = f"rig.sim.cam-{self.spec.mac}"
        self._threads = [
            threading.Thread(target=self._run_events, name=f"{name}-events", daemon=True),
            threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"{name}-http",
                daemon=True,
            ),
        ]
        for thread in self._threads:
            thread.start()
        with self._lock:
            if online:
                self._supply = self._powered = True
                self._phase = "up"
                self._online = True
                self._boot_wall = time.time()
        log.info(
            "cam %s (%s %s) HTTP on %s:%d, %s",
            self.spec.mac,
            self.spec.model,
            self.spec.firmware,
            LOOPBACK,
            self.http_port,
            "online" if online else "unpowered",
        )
        return self

    def stop(self) -> None:
        """Close the server, sockets and threads. Idempotent; state stays readable."""
        self.unwatch()
        with self._lock:
            if not self._started or self._stopping:
                return
            self._stopping = True
            self._online = False
            self._reset_connections()
            self._cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()  # joins the handler threads (block_on_close)
        for thread in self._threads:
            thread.join(timeout=5)
        log.debug("cam %s stopped", self.spec.mac)

    def __enter__(self) -> SimCamera:
        if not self._started:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"SimCamera({self.spec.mac}, {self.spec.device_sn}, phase={self._phase})"

    # ----------------------------------------------------------------- physical inputs

    def power_on(self) -> None:
        with self._lock:
            if self._supply:
                return
            self._supply = True
            if self._powered:  # ignores_power_cut: it never lost power, nothing happens
                log.info("cam %s: relay closed again (it never lost power)", self.spec.mac)
                return
            self._power_up(time.monotonic())

    def power_off(self) -> None:
        with self._lock:
            if not self._supply:
                return
            self._supply = False
            if self.spec.ignores_power_cut:
                log.info("cam %s: relay opened but the camera keeps power", self.spec.mac)
                return
            now = time.monotonic()
            if self._phase == "held":
                self._end_hold(now)  # the bootloader may already have reset it
            self._powered = False
            self._epoch += 1
            self._phase = "off"
            self._go_offline("power cut")

    def pin_down(self) -> None:
        with self._lock:
            if self._pin:
                return
            self._pin = True
            self._press += 1
            log.debug("cam %s: pin down (phase %s)", self.spec.mac, self._phase)
            if self._phase == "up" and self.spec.running_hold_s is not None:
                press = self._press
                self._schedule(
                    time.monotonic() + self.spec.running_hold_s,
                    lambda due: self._running_hold_reached(due, press),
                )

    def pin_up(self) -> None:
        with self._lock:
            if not self._pin:
                return
            self._pin = False
            self._press += 1  # cancels a running-hold in progress
            now = time.monotonic()
            log.debug("cam %s: pin up (phase %s)", self.spec.mac, self._phase)
            if self._phase == "held":
                self._end_hold(now)
                self._begin_boot(now, self.spec.boot_s)

    def watch(
        self,
        power_is_on: Callable[[], bool],
        pin_is_down: Callable[[], bool],
        poll_s: float = 0.002,
    ) -> None:
        """Follow two callables (e.g. gpiozero mock pin states) and feed every change in.

        Replaces a previous watch. The current states are applied at once, so the camera starts
        in step with the hardware.
        """
        self.unwatch()
        stop = threading.Event()
        thread = threading.Thread(
            target=self._watch_loop,
            args=(power_is_on, pin_is_down, poll_s, stop),
            name=f"rig.sim.cam-{self.spec.mac}-watch",
            daemon=True,
        )
        self._watcher = (thread, stop)
        thread.start()

    def unwatch(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher[1].set()
            if watcher[0] is not threading.current_thread():
                watcher[0].join(timeout=5)

    def activate(self, password: str = "Bench-Secret-1") -> None:
        """Bench helper (not on the wire): activate / set the admin password, as a tech would."""
        with self._lock:
            self._activated = True
            self._password = password

    # ----------------------------------------------------------------- state for tests

    @property
    def online(self) -> bool:
        return self._online

    @property
    def activated(self) -> bool:
        """Activation state; always True on old firmware, which has no activation."""
        return self._activated

    @property
    def in_factory_state(self) -> bool:
        with self._lock:
            if self.spec.has_activation:
                return not self._activated
            return self._password == OLD_FACTORY_PASSWORD

    @property
    def password(self) -> str | None:
        return self._password

    @property
    def dhcp(self) -> bool:
        return self._dhcp

    @property
    def phase(self) -> Phase:
        return self._phase

    @property
    def powered(self) -> bool:
        """Whether the camera has power (stays True with ignores_power_cut)."""
        return self._powered

    @property
    def pin_is_down(self) -> bool:
        return self._pin

    @property
    def resets(self) -> int:
        return self._resets

    @property
    def last_reset(self) -> str | None:
        """Kind of the last factory reset: "hard", "running-hold", "full" or "basic"."""
        return self._last_reset

    @property
    def power_cycles(self) -> int:
        """Power-ups the camera really got (none while ignores_power_cut)."""
        return self._power_cycles

    @property
    def logins(self) -> list[tuple[str, bool]]:
        with self._lock:
            return list(self._logins)

    @property
    def requests_seen(self) -> list[tuple[str, str]]:
        """(method, request-target) of every HTTP request it served."""
        with self._lock:
            return list(self._requests)

    @property
    def boot_time(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self._boot_wall))

    @property
    def http_port(self) -> int:
        if self._server is None:
            raise RuntimeError("camera not started")
        return int(self._server.server_address[1])

    @property
    def http_address(self) -> tuple[str, int]:
        return (LOOPBACK, self.http_port)

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}"

    # ----------------------------------------------------------------- state machine

    def _power_up(self, now: float) -> None:
        self._powered = True
        self._power_cycles += 1
        self._epoch += 1
        self._power_up_at = now
        self._looping = self.spec.reboot_loop
        if self.spec.dead:
            self._phase = "dead"
            log.info("cam %s: power on, but it is dead", self.spec.mac)
        elif self._pin:
            self._phase = "held"
            log.info("cam %s: power on with the pin held (bootloader waits)", self.spec.mac)
        else:
            log.info("cam %s: power on, booting", self.spec.mac)
            self._begin_boot(now, self.spec.boot_s)

    def _end_hold(self, now: float) -> None:
        held = now - self._power_up_at
        if held >= self.spec.reset_hold_s:
            log.info("cam %s: pin held %.3f s from power-up: factory reset", self.spec.mac, held)
            self._factory_reset("hard")
        else:
            log.info(
                "cam %s: pin held %.3f s < %.3f s: no reset",
                self.spec.mac,
                held,
                self.spec.reset_hold_s,
            )

    def _begin_boot(self, now: float, delay_s: float) -> None:
        if self._pending_reset is not None:
            self._factory_reset(self._pending_reset)
        self._phase = "booting"
        self._boot_wall = time.time()
        self._schedule(now + delay_s, self._finish_boot)

    def _finish_boot(self, due: float) -> None:
        self._phase = "up"
        self._online = True
        self.online_since = time.monotonic()  # the benchmark's zero for detection latency
        log.info(
            "cam %s: online (activated=%s, dhcp=%s)", self.spec.mac, self._activated, self._dhcp
        )
        if self._looping:
            self._schedule(due + self.spec.up_s, self._loop_drop)

    def _loop_drop(self, due: float) -> None:
        self._epoch += 1
        self._go_offline("reboot loop")
        self._begin_boot(due, self.spec.down_s)

    def _running_hold_reached(self, due: float, press: int) -> None:
        if press != self._press or not self._pin or self._phase != "up":
            return
        log.info("cam %s: pin held %.3f s while running", self.spec.mac, self.spec.running_hold_s)
        self._factory_reset("running-hold")
        self._reboot(due, "running-hold reset")

    def _reboot(self, now: float, why: str) -> None:
        self._epoch += 1
        self._go_offline(why)
        self._looping = self.spec.reboot_loop
        if self.spec.dead:
            self._phase = "dead"
            return
        self._begin_boot(now, self.spec.boot_s)

    def _factory_reset(self, kind: str) -> None:
        self._resets += 1
        self._last_reset = kind
        self._pending_reset = None
        if kind == "basic":  # keeps network settings and users
            log.info("cam %s: basic restore", self.spec.mac)
            return
        if self.spec.has_activation:
            self._activated = False
            self._password = None
        else:
            self._password = OLD_FACTORY_PASSWORD
        self._dhcp = FACTORY_DHCP
        log.info("cam %s: factory reset (%s)", self.spec.mac, kind)

    def _go_offline(self, why: str) -> None:
        if self._online:
            log.info("cam %s: offline (%s)", self.spec.mac, why)
        self._online = False
        self._reset_connections()
        # RAM state of the web server dies with the boot.
        self._nonces.clear()
        self._failures.clear()
        self._locked_until.clear()

    def _reset_connections(self) -> None:
        for sock in self._conns:
            _abort_socket(sock)
        self._conns.clear()

    def _schedule(self, due: float, action: Callable[[float], None]) -> None:
        heapq.heappush(self._events, (due, next(self._seq), self._epoch, action))
        self._cond.notify_all()

    def _run_events(self) -> None:
        with self._cond:
            while not self._stopping:
                now = time.monotonic()
                while self._events and self._events[0][0] <= now:
                    due, _, epoch, action = heapq.heappop(self._events)
                    if epoch == self._epoch:
                        try:
                            action(due)
                        except Exception:  # a sim bug must not kill the camera's clock
                            log.exception("cam %s: event failed", self.spec.mac)
                timeout = self._events[0][0] - now if self._events else None
                self._cond.wait(timeout)

    def _watch_loop(
        self,
        power_is_on: Callable[[], bool],
        pin_is_down: Callable[[], bool],
        poll_s: float,
        stop: threading.Event,
    ) -> None:
        failed = False
        while not stop.is_set():
            try:
                power = bool(power_is_on())
                pin = bool(pin_is_down())
            except Exception:
                if not failed:  # once, not every 2 ms
                    log.exception("cam %s: watch callable failed", self.spec.mac)
                failed = True
                stop.wait(poll_s)
                continue
            failed = False
            # When both changed within one poll, press before power-on and release after it:
            # the order a reset takes, so a fast sequence still counts as held at power-up.
            if pin and not self._pin:
                self.pin_down()
            if power != self._supply:
                if power:
                    self.power_on()
                else:
                    self.power_off()
            if not pin and self._pin:
                self.pin_up()
            stop.wait(poll_s)

    # ----------------------------------------------------------------- auth

    def _lock_remaining(self, client_ip: str) -> float:
        with self._lock:
            until = self._locked_until.get(client_ip)
            if until is None:
                return 0.0
            remaining = until - time.monotonic()
            if remaining <= 0:
                del self._locked_until[client_ip]
                return 0.0
            return remaining

    def _attempts_left(self, client_ip: str) -> int:
        with self._lock:
            return self.spec.lock_after_failures - self._failures.get(client_ip, 0)

    def _login(self, client_ip: str, user: str, check: Callable[[str], bool]) -> LoginResult:
        """One login attempt; `check(password)` says whether the client proved that password."""
        with self._lock:
            if self._lock_remaining(client_ip) > 0:
                self._logins.append((user, False))
                return "locked"
            if not self._activated:
                self._logins.append((user, False))
                return "inactive"
            ok = user == ADMIN and self._password is not None and check(self._password)
            self._logins.append((user, ok))
            if ok:
                self._failures.pop(client_ip, None)
                return "ok"
            failures = self._failures.get(client_ip, 0) + 1
            if failures >= self.spec.lock_after_failures:
                self._failures.pop(client_ip, None)
                self._locked_until[client_ip] = time.monotonic() + self.spec.lock_s
                log.info("cam %s: %s locked for %.0f s", self.spec.mac, client_ip, self.spec.lock_s)
                return "locked"
            self._failures[client_ip] = failures
            return "failure"

    def _new_nonce(self) -> str:
        # Same look as the capture: hex of a base64 string.
        nonce = base64.b64encode(secrets.token_bytes(18)).hex()
        with self._lock:
            self._nonces[nonce] = None
            while len(self._nonces) > _MAX_NONCES:
                self._nonces.popitem(last=False)
        return nonce

    def _nonce_known(self, nonce: str) -> bool:
        with self._lock:
            return nonce in self._nonces

    def _accepting(self) -> bool:
        return self._online and not self._stopping

    def _track(self, sock: socket.socket) -> bool:
        with self._lock:
            if not self._accepting():
                return False
            self._conns.add(sock)
            return True

    def _untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._conns.discard(sock)

    def _saw(self, method: str, target: str) -> None:
        with self._lock:
            self._requests.append((method, target))

    def _request_factory_reset(self, mode: str) -> None:
        with self._lock:
            self._pending_reset = mode
            log.info("cam %s: factoryReset mode=%s pending until reboot", self.spec.mac, mode)

    def _reboot_now(self, why: str) -> None:
        with self._lock:
            if self._online:
                self._reboot(time.monotonic(), why)

    # ----------------------------------------------------------------- wire formats

    def _xml_bool(self, value: bool) -> str:
        return "true" if value else "false"

    def activate_status_xml(self) -> bytes:
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<ActivateStatus version="2.0" xmlns="{_HIK_NS}">\n'
            f"<Activated>{self._xml_bool(self._activated)}</Activated>\n"
            "</ActivateStatus>\n"
        ).encode()

    def device_info_xml(self) -> bytes:
        spec = self.spec
        version, _, build = spec.firmware.partition("build")
        lines = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<DeviceInfo version="2.0" xmlns="{_HIK_NS}">',
            "<deviceName>IP CAMERA</deviceName>",
            f"<deviceID>{uuid.uuid5(uuid.NAMESPACE_OID, spec.mac)}</deviceID>",
            "<deviceDescription>IPCamera</deviceDescription>",
            "<deviceLocation>hangzhou</deviceLocation>",
            "<systemContact>Hikvision.China</systemContact>",
            f"<model>{escape(spec.model)}</model>",
            f"<serialNumber>{escape(spec.device_sn)}</serialNumber>",
            f"<macAddress>{spec.mac.replace('-', ':')}</macAddress>",
            f"<firmwareVersion>{escape(version.strip())}</firmwareVersion>",
        ]
        if build.strip():
            lines.append(
                f"<firmwareReleasedDate>build {escape(build.strip())}</firmwareReleasedDate>"
            )
        lines += [
            "<encoderVersion>V7.3</encoderVersion>",
            "<encoderReleasedDate>build 230101</encoderReleasedDate>",
            "<bootVersion>V1.3.4</bootVersion>",
            "<bootReleasedDate>100316</bootReleasedDate>",
            "<hardwareVersion>0x0</hardwareVersion>",
            "<deviceType>IPCamera</deviceType>",
            "<telecontrolID>88</telecontrolID>",
            "<supportBeep>false</supportBeep>",
            "<supportVideoLoss>false</supportVideoLoss>",
            "</DeviceInfo>",
        ]
        return ("\r\n".join(lines) + "\r\n").encode()

    def user_check_xml(self, lock_remaining_s: float, client_ip: str) -> bytes:
        locked = lock_remaining_s > 0
        retry = 0 if locked else self._attempts_left(client_ip)
        return (
            f'<userCheck version="2.0" xmlns="{_ISAPI_NS}">\n'
            "  <statusValue>401</statusValue>\n"
            "  <statusString>Unauthorized</statusString>\n"
            f"  <isActivated>{self._xml_bool(self._activated)}</isActivated>\n"
            f"  <lockStatus>{'lock' if locked else 'unlock'}</lockStatus>\n"
            f"  <unlockTime>{math.ceil(lock_remaining_s) if locked else 0}</unlockTime>\n"
            f"  <retryLoginTime>{retry}</retryLoginTime>\n"
            "</userCheck>\n"
        ).encode()

    @staticmethod
    def response_status_xml(url: str, code: int, string: str, sub: str) -> bytes:
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<ResponseStatus version="2.0" xmlns="{_HIK_NS}">\n'
            f"<requestURL>{escape(url)}</requestURL>\n"
            f"<statusCode>{code}</statusCode>\n"
            f"<statusString>{string}</statusString>\n"
            f"<subStatusCode>{sub}</subStatusCode>\n"
            "</ResponseStatus>\n"
        ).encode()

    def _ipv6_link_local(self) -> str:
        raw = bytearray(bytes.fromhex(self.spec.mac.replace("-", "")))
        raw[0] ^= 0x02  # EUI-64: flip the universal/local bit, put ff:fe in the middle
        eui = bytes(raw[:3]) + b"\xff\xfe" + bytes(raw[3:])
        groups = (int.from_bytes(eui[i : i + 2], "big") for i in range(0, 8, 2))
        return "fe80::" + ":".join(f"{g:x}" for g in groups)

    def sadp_probe_match(self, probe_uuid: str) -> bytes | None:
        """The camera's answer to an inquiry probe, or None while it is not online."""
        with self._lock:
            if not self._accepting():
                return None
            spec = self.spec
            ip = spec.sadp_ipv4_prefix
            fields: list[tuple[str, str]] = [("Uuid", probe_uuid[:64]), ("Types", "inquiry")]
            if spec.has_activation:
                fields += [
                    ("Encrypt", "true"),
                    ("Salt", hashlib.sha256(spec.device_sn.encode()).hexdigest()),
                ]
            fields += [
                ("DeviceType", SADP_DEVICE_TYPE_IPC),
                ("DeviceDescription", spec.model),
                ("DeviceSN", spec.device_sn),
                ("CommandPort", "8000"),
                ("HttpPort", str(self.http_port)),
                ("MAC", spec.mac),
                (f"{ip}Address", LOOPBACK),
                (f"{ip}SubnetMask", "255.0.0.0"),
                (f"{ip}Gateway", LOOPBACK),
                ("IPv6Address", self._ipv6_link_local()),
                ("IPv6Gateway", "::"),
                ("IPv6MaskLen", "64"),
                ("DHCP", self._xml_bool(self._dhcp)),
                ("AnalogChannelNum", "0"),
                ("DigitalChannelNum", "1"),
                ("SoftwareVersion", spec.firmware),
                ("DSPVersion", "V7.3, build 230101"),
                ("BootTime", self.boot_time),
                ("OEMInfo", "N/A"),
            ]
            if spec.has_activation:  # older firmware has no activation and omits all this
                fields += [
                    ("Activated", self._xml_bool(self._activated)),
                    ("PasswordResetAbility", "true"),
                    ("PasswordResetModeSecond", "true"),
                    ("DeviceLock", "true"),
                    ("SupportGUID", "true"),
                    ("SupportSecurityQuestion", "true"),
                    ("SupportHCPlatform", "true"),
                ]
        body = "".join(f"    <{tag}>{escape(value)}</{tag}>\n" for tag, value in fields)
        return (
            f'<?xml version="1.0" encoding="UTF-8" ?>\n<ProbeMatch>\n{body}</ProbeMatch>\n'.encode()
        )


def parse_digest(value: str) -> dict[str, str]:
    """Parameters of a Digest Authorization header (after "Digest "), keys lower-cased."""
    params: dict[str, str] = {}
    for match in _DIGEST_PARAM_RE.finditer(value):
        quoted, bare = match[2], match[3]
        params[match[1].lower()] = quoted.replace('\\"', '"') if quoted is not None else bare
    return params


class _CameraHTTPServer(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True
    block_on_close = True  # server_close() joins handler threads: no leaks after stop()

    def __init__(self, camera: SimCamera, port: int) -> None:
        self.camera = camera
        super().__init__((LOOPBACK, port), _CameraRequestHandler)

    def verify_request(self, request: Any, client_address: Any) -> bool:
        if self.camera._accepting():
            return True
        # An unpowered camera: reset the connection at once (close with linger 0 sends RST;
        # the shutdown_request() that follows finds the socket closed and does nothing).
        if isinstance(request, socket.socket):
            with contextlib.suppress(OSError):
                request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            request.close()
        return False

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):  # resets are what a power cut does; not worth a traceback
            log.debug("cam %s: connection from %s: %s", self.camera.spec.mac, client_address, exc)
        else:
            log.exception("cam %s: handler failed", self.camera.spec.mac)


class _CameraRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as requests' digest retry expects
    timeout = 10  # an idle keep-alive connection does not hold a thread forever

    @property
    def camera(self) -> SimCamera:
        return cast(_CameraHTTPServer, self.server).camera

    def version_string(self) -> str:
        return "App-webs/"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("cam %s http: " + format, self.camera.spec.mac, *args)

    def setup(self) -> None:
        super().setup()
        self.camera._track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.camera._untrack(self.connection)

    def do_GET(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    # -------------------------------------------------------------

    def _dispatch(self) -> None:
        cam = self.camera
        if not cam._accepting():
            _abort_socket(self.connection)
            self.close_connection = True
            return
        if not self._read_body():
            return
        cam._saw(self.command, self.path)
        path = urlsplit(self.path).path
        routes: dict[str, tuple[str, Callable[[], None]]] = {
            "/SDK/activateStatus": ("GET", self._activate_status),
            "/ISAPI/System/deviceInfo": ("GET", self._device_info),
            "/ISAPI/System/factoryReset": ("PUT", self._factory_reset),
            "/ISAPI/System/reboot": ("PUT", self._reboot),
        }
        route = routes.get(path)
        if route is None:
            self._reply(404, _NOT_FOUND_HTML, "text/html")
        elif route[0] != self.command:
            body = cam.response_status_xml(self.path, 4, "Invalid Operation", "methodNotAllowed")
            self._reply(405, body)
        else:
            route[1]()

    def _read_body(self) -> bool:
        length_text = self.headers.get("Content-Length", "0")
        try:
            length = int(length_text)
        except ValueError:
            length = -1
        if length < 0 or length > _MAX_BODY:
            self.close_connection = True
            self._reply(400 if length < 0 else 413, b"", "text/plain")
            return False
        if length:
            self.rfile.read(length)
        return True

    def _reply(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/xml",
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _challenge(self, stale: bool = False) -> tuple[str, str]:
        nonce = self.camera._new_nonce()
        return (
            "WWW-Authenticate",
            f'Digest qop="auth", realm="{self.camera.realm}", nonce="{nonce}", '
            f'stale="{"TRUE" if stale else "FALSE"}"',
        )

    def _authorized(self) -> bool:
        """Check Digest credentials; on refusal send the 401 and return False."""
        cam = self.camera
        client_ip = self.client_address[0]
        header = self.headers.get("Authorization", "")
        scheme, _, rest = header.partition(" ")
        if scheme.lower() != "digest":
            # No (or Basic) credentials: a challenge, not a failed login.
            locked = cam._lock_remaining(client_ip)
            if locked > 0:
                self._reply(
                    401, cam.user_check_xml(locked, client_ip), headers=(self._challenge(),)
                )
            else:
                self._reply(401, _UNAUTHORIZED_HTML, "text/html", (self._challenge(),))
            return False
        params = parse_digest(rest)
        if not cam._nonce_known(params.get("nonce", "")):
            # A nonce from before a reboot (or made up): ask again, like stale="TRUE" says.
            self._reply(401, _UNAUTHORIZED_HTML, "text/html", (self._challenge(stale=True),))
            return False
        user = params.get("username", "")
        well_formed = (
            params.get("realm") == cam.realm
            and params.get("uri") == self.path
            and params.get("qop") == "auth"
            and params.get("algorithm", "MD5").upper() == "MD5"
            and all(params.get(k) for k in ("nc", "cnonce", "response"))
        )

        def check(password: str) -> bool:
            if not well_formed:
                return False
            ha1 = _md5(f"{user}:{cam.realm}:{password}")
            ha2 = _md5(f"{self.command}:{params['uri']}")
            expected = _md5(f"{ha1}:{params['nonce']}:{params['nc']}:{params['cnonce']}:auth:{ha2}")
            return hmac.compare_digest(expected, params["response"].lower())

        result = cam._login(client_ip, user, check)
        if result == "ok":
            return True
        log.debug("cam %s: login %r from %s: %s", cam.spec.mac, user, client_ip, result)
        body = cam.user_check_xml(cam._lock_remaining(client_ip), client_ip)
        self._reply(401, body, headers=(self._challenge(),))
        return False

    def _activate_status(self) -> None:
        if not self.camera.spec.has_activation:
            self._reply(404, _NOT_FOUND_HTML, "text/html")
            return
        self._reply(200, self.camera.activate_status_xml())

    def _device_info(self) -> None:
        if self._authorized():
            self._reply(200, self.camera.device_info_xml())

    def _factory_reset(self) -> None:
        if not self._authorized():
            return
        mode = parse_qs(urlsplit(self.path).query).get("mode", [""])[0]
        if mode not in ("full", "basic"):
            body = self.camera.response_status_xml(
                self.path, 4, "Invalid Operation", "badParameters"
            )
            self._reply(400, body)
            return
        self.camera._request_factory_reset(mode)
        self._reply(
            200, self.camera.response_status_xml(self.path, 7, "Reboot Required", "rebootRequired")
        )

    def _reboot(self) -> None:
        if not self._authorized():
            return
        # Our own connection ends gracefully after this answer; the reboot must not reset it
        # before the client has read the answer.
        self.camera._untrack(self.connection)
        self.close_connection = True
        self._reply(200, self.camera.response_status_xml(self.path, 1, "OK", "ok"))
        self.camera._reboot_now("ISAPI reboot")
