"""SimCamera: one simulated camera, driven by its power and reset-pin inputs, in real time.

The camera reacts to what the rig's hardware does (threads, `time.monotonic`):

* `power_off()` takes it offline at once: SADP goes silent, HTTP connections are reset.
* `power_on()` boots it: online `boot_s` later.
* The vendor's hard reset: if the reset pin is already down when power returns, the bootloader
  waits while it stays down. On release (or power loss) it factory-resets only when the pin was
  held continuously for at least `reset_hold_s` since the power-up. It comes online `boot_s`
  after the release.
* Factory reset: a unit with activation (`CameraSpec.has_activation`: firmware >= 5.3 unless
  the spec says otherwise) becomes inactive (no password at all, logins refused); a unit
  without gets `admin`/`12345` back. DHCP returns to the factory setting (off), BootTime is
  that of the new boot.
* Faults for tests: `dead` (never boots again after it goes down), `reboot_loop` (after a power-up
  it is up `up_s`, down `down_s`, forever), `ignores_power_cut` (a relay that does not cut).

The camera holds all state (under one lock); `isapi` serves it over HTTP, `sadp` formats its
SADP answer, `auth` keeps the lock-out and nonces.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Literal

from . import bodies, qa, sadp
from .auth import Lockout, LoginResult, Nonces
from .isapi import CameraHTTPServer, abort_socket
from .spec import ADMIN, FACTORY_DHCP, LOOPBACK, OLD_FACTORY_PASSWORD, CameraSpec

log = logging.getLogger("rig.sim")

Phase = Literal["off", "held", "booting", "up", "dead"]


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
        self._firmware = spec.firmware
        self._pending_firmware: str | None = None  # flashed, running from the next boot
        self._upgrade: tuple[float, float] | None = None  # (started, done) of a flash
        self._nonce: str | None = None  # the activation challenge's R, until the next boot
        self._frozen: bytes | None = None  # the frame a frozen stream keeps sending
        self._looping = False
        # Every power change or reboot bumps the epoch; events of an older epoch are void.
        self._epoch = 0
        self._press = 0  # running-hold presses, same idea as the epoch
        self._events: list[tuple[float, int, int, Callable[[float], None]]] = []
        self._seq = itertools.count()
        self._lockout = Lockout(spec.lock_after_failures, spec.lock_s)
        self._nonces = Nonces()
        self._conns: set[socket.socket] = set()
        self._resets = 0
        self._power_cycles = 0
        self._logins: list[tuple[str, bool]] = []
        self._requests: list[tuple[str, str]] = []
        self._last_reset: str | None = None
        self._started = False
        self._stopping = False
        self._server: CameraHTTPServer | None = None
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
        server = CameraHTTPServer(self, self.spec.http_port)
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

    def feed(self, power: bool, pin: bool) -> None:
        """Push the inputs' current states in (a wiring that is told of each change, instead
        of `watch` polling for it). Only what differs from the camera's state is applied.

        When both changed at once, press before power-on and release after it: the order a
        reset takes, so a fast sequence still counts as held at power-up.
        """
        with self._lock:
            if pin and not self._pin:
                self.pin_down()
            if power != self._supply:
                if power:
                    self.power_on()
                else:
                    self.power_off()
            if not pin and self._pin:
                self.pin_up()

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
        """Activation state; always True on a unit without activation."""
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
        if self._pending_firmware is not None:
            log.info("cam %s: running firmware %s", self.spec.mac, self._pending_firmware)
            self._firmware, self._pending_firmware = self._pending_firmware, None
        self._upgrade = None
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
        self._nonce = None
        self._nonces.clear()
        self._lockout.clear()

    def _reset_connections(self) -> None:
        for sock in self._conns:
            abort_socket(sock)
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
            self.feed(power, pin)
            stop.wait(poll_s)

    # ----------------------------------------------------------------- auth

    def _lock_remaining(self, client_ip: str) -> float:
        with self._lock:
            return self._lockout.remaining(client_ip, time.monotonic())

    def _login(self, client_ip: str, user: str, check: Callable[[str], bool]) -> LoginResult:
        """One login attempt; `check(password)` says whether the client proved that password."""
        with self._lock:
            now = time.monotonic()
            if self._lockout.remaining(client_ip, now) > 0:
                self._logins.append((user, False))
                return "locked"
            if not self._activated:
                self._logins.append((user, False))
                return "inactive"
            ok = user == ADMIN and self._password is not None and check(self._password)
            self._logins.append((user, ok))
            if ok:
                self._lockout.succeeded(client_ip)
                return "ok"
            if self._lockout.failed(client_ip, now):
                log.info("cam %s: %s locked for %.0f s", self.spec.mac, client_ip, self.spec.lock_s)
                return "locked"
            return "failure"

    def _new_nonce(self) -> str:
        with self._lock:
            return self._nonces.new()

    def _nonce_known(self, nonce: str) -> bool:
        with self._lock:
            return self._nonces.known(nonce)

    # ----------------------------------------------------------------- for the servers

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

    # ----------------------------------------------------------------- the QA pass (qa.py)

    @property
    def firmware(self) -> str:
        """The firmware it runs now (an upgrade counts from the boot after the flash)."""
        return self._firmware

    def _challenge(self, body: bytes) -> bytes:
        nonce, answer = qa.answer_challenge(body)
        with self._lock:
            self._nonce = nonce
        return answer

    def _activate_over_isapi(self, body: bytes) -> None:
        """Raises qa.Refused unless the body activates the unit."""
        with self._lock:
            if not self.spec.has_activation or self._activated:
                raise qa.Refused(403, 4, "Invalid Operation", "activated")
            nonce, self._nonce = self._nonce, None  # one activation per challenge
            if nonce is None:
                raise qa.Refused(400, 4, "Invalid Operation", "noChallenge")
            password = qa.activation_password(body, nonce)
            if qa.risky(password):
                log.info("cam %s: activation refused: risk password", self.spec.mac)
                raise qa.Refused(400, 4, "Risk password", "riskPassword")
            self._activated = True
            self._password = password
            log.info("cam %s: activated over ISAPI", self.spec.mac)

    def _snapshot(self) -> bytes:
        fault = self.spec.picture
        if fault == "frozen":
            with self._lock:
                if self._frozen is None:
                    self._frozen = qa.snapshot("ok")
                return self._frozen
        return qa.snapshot(fault)

    def storage_xml(self) -> bytes:
        return qa.storage_xml(self.spec.card_mb)

    def _start_upgrade(self, image: bytes) -> None:
        with self._lock:
            now = time.monotonic()
            self._upgrade = (now, now + self.spec.upgrade_s)
            epoch = self._epoch
            log.info("cam %s: flashing %d bytes", self.spec.mac, len(image))

            def done(due: float) -> None:
                if epoch != self._epoch:
                    return
                if not self.spec.upgrade_fails:
                    self._pending_firmware = self.spec.upgrade_to
                else:
                    log.info("cam %s: flash failed: keeps %s", self.spec.mac, self._firmware)
                self._reboot(due, "firmware upgrade")

            self._schedule(now + self.spec.upgrade_s, done)

    def upgrade_status_xml(self) -> bytes:
        with self._lock:
            if self._upgrade is None:
                return qa.upgrade_status_xml(False, 0)
            started, ends = self._upgrade
            span = max(ends - started, 1e-6)
            percent = min(99, int(100 * (time.monotonic() - started) / span))
            return qa.upgrade_status_xml(True, percent)

    # ----------------------------------------------------------------- wire formats

    def activate_status_xml(self) -> bytes:
        return bodies.activate_status_xml(self._activated)

    def device_info_xml(self) -> bytes:
        return bodies.device_info_xml(self.spec, self._firmware)

    def user_check_xml(self, lock_remaining_s: float, client_ip: str) -> bytes:
        with self._lock:
            attempts_left = self._lockout.attempts_left(client_ip)
        return bodies.user_check_xml(self._activated, lock_remaining_s, attempts_left)

    @staticmethod
    def response_status_xml(url: str, code: int, string: str, sub: str) -> bytes:
        return bodies.response_status_xml(url, code, string, sub)

    def sadp_probe_match(self, probe_uuid: str) -> bytes | None:
        """The camera's answer to an inquiry probe, or None while it is not online."""
        with self._lock:
            if not self._accepting():
                return None
            return sadp.probe_match(
                self.spec,
                probe_uuid,
                http_port=self.http_port,
                dhcp=self._dhcp,
                boot_time=self.boot_time,
                activated=self._activated,
                firmware=self._firmware,
            )
