"""The simulated camera's ISAPI web server: routes, Digest handshake, connection resets.

Served on 127.0.0.1 at an ephemeral port (the port stays the same for the camera's life, like a
camera keeps its IP; while the camera is off, accepted connections are reset at once):

* `GET /SDK/activateStatus`, no login:
  `<ActivateStatus version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">`
  `<Activated>true|false</Activated></ActivateStatus>`; 404 on a unit without activation.
* `GET /ISAPI/System/deviceInfo`, HTTP Digest (MD5, qop="auth", realm "IP Camera(NNNNN)"):
  a `DeviceInfo` like the V5.5.0 capture, CRLF line ends.
* `PUT /ISAPI/System/factoryReset?mode=full|basic`, Digest: `ResponseStatus` statusCode 7
  "Reboot Required"; applied at the next boot (full: inactive, or admin/12345 on a unit without
  activation; basic: keeps network settings and the password).
* `PUT /ISAPI/System/reboot`, Digest: `ResponseStatus` statusCode 1 "OK"; offline right after
  the answer, back `boot_s` later.
* The QA pass (`qa.py`): `POST /ISAPI/Security/challenge` (no login while inactive) and
  `PUT /ISAPI/System/activate` (weak passwords refused: HTTP 400, statusString "Risk
  password"); Digest: `GET /ISAPI/Streaming/channels/101/picture` (a JPEG of the test scene,
  or the spec's picture fault), `GET /ISAPI/ContentMgmt/Storage` (the card, or none),
  `PUT /ISAPI/System/updateFirmware` (`application/octet-stream` only; flashes for
  `upgrade_s`, then reboots into `upgrade_to`, or its old firmware when `upgrade_fails`) and
  `GET /ISAPI/System/upgradeStatus`.
* Login failures: a request without Digest credentials gets the plain 401 challenge (as in the
  capture) and is not a failed login. A wrong user or password is, and its 401 carries a
  `userCheck` (lockStatus unlock, retryLoginTime = attempts left). After `lock_after_failures`
  failures the client IP is locked for `lock_s`: every Digest request gets 401 with a `userCheck`
  lockStatus lock, unlockTime = seconds left (no login is checked meanwhile). The lock lives in
  RAM, so a reboot or power loss clears it. An inactive camera answers logins with 401 and a
  `userCheck` isActivated false, not counted as failures (there is no password to guess).

The camera's state (what is online, who is locked, the password) lives in `SimCamera`; the
handler only asks it.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import sys
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qs, urlsplit

from . import qa
from .auth import digest_proves, parse_digest
from .bodies import NOT_FOUND_HTML, UNAUTHORIZED_HTML
from .spec import LOOPBACK

if TYPE_CHECKING:
    from .unit import SimCamera

log = logging.getLogger("rig.sim")

_MAX_BODY = 64 * 1024
_MAX_FIRMWARE = 64 * 1024 * 1024  # a digicap.dav is tens of MB
UPDATE_FIRMWARE = "/ISAPI/System/updateFirmware"


def abort_socket(sock: socket.socket) -> None:
    """Reset a TCP connection, as a camera losing power would drop it.

    Linger 0 makes the final close send RST; shutdown wakes a handler thread blocked in recv
    (close alone would not while its makefile() objects are open).
    """
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class CameraHTTPServer(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True
    block_on_close = True  # server_close() joins the handler threads: no leaks after stop()

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
    body = b""  # the request's body, read before dispatch
    timeout = 10  # an idle keep-alive connection does not hold a thread forever

    @property
    def camera(self) -> SimCamera:
        return cast(CameraHTTPServer, self.server).camera

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
            abort_socket(self.connection)
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
            "/ISAPI/Security/challenge": ("POST", self._challenge_answer),
            "/ISAPI/System/activate": ("PUT", self._activate),
            "/ISAPI/Streaming/channels/101/picture": ("GET", self._picture),
            "/ISAPI/ContentMgmt/Storage": ("GET", self._storage),
            UPDATE_FIRMWARE: ("PUT", self._update_firmware),
            "/ISAPI/System/upgradeStatus": ("GET", self._upgrade_status),
        }
        route = routes.get(path)
        if route is None:
            self._reply(404, NOT_FOUND_HTML, "text/html")
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
        limit = _MAX_FIRMWARE if urlsplit(self.path).path == UPDATE_FIRMWARE else _MAX_BODY
        if length < 0 or length > limit:
            self.close_connection = True
            self._reply(400 if length < 0 else 413, b"", "text/plain")
            return False
        self.body = self.rfile.read(length) if length else b""
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
                self._reply(401, UNAUTHORIZED_HTML, "text/html", (self._challenge(),))
            return False
        params = parse_digest(rest)
        if not cam._nonce_known(params.get("nonce", "")):
            # A nonce from before a reboot (or made up): ask again, like stale="TRUE" says.
            self._reply(401, UNAUTHORIZED_HTML, "text/html", (self._challenge(stale=True),))
            return False
        user = params.get("username", "")

        def check(password: str) -> bool:
            return digest_proves(
                params, method=self.command, uri=self.path, realm=cam.realm, password=password
            )

        result = cam._login(client_ip, user, check)
        if result == "ok":
            return True
        log.debug("cam %s: login %r from %s: %s", cam.spec.mac, user, client_ip, result)
        body = cam.user_check_xml(cam._lock_remaining(client_ip), client_ip)
        self._reply(401, body, headers=(self._challenge(),))
        return False

    # --- the QA pass (qa.py) -------------------------------------------------------------

    def _refused(self, refusal: qa.Refused) -> None:
        body = self.camera.response_status_xml(self.path, refusal.code, refusal.string, refusal.sub)
        self._reply(refusal.http, body)

    def _challenge_answer(self) -> None:
        # An inactive unit answers without a login (there is no password yet); an active one
        # wants its admin's.
        if self.camera.activated and not self._authorized():
            return
        try:
            self._reply(200, self.camera._challenge(self.body))
        except qa.Refused as refusal:
            self._refused(refusal)

    def _activate(self) -> None:
        try:
            self.camera._activate_over_isapi(self.body)
        except qa.Refused as refusal:
            self._refused(refusal)
            return
        self._reply(200, self.camera.response_status_xml(self.path, 1, "OK", "ok"))

    def _picture(self) -> None:
        if self._authorized():
            self._reply(200, self.camera._snapshot(), "image/jpeg")

    def _storage(self) -> None:
        if self._authorized():
            self._reply(200, self.camera.storage_xml())

    def _update_firmware(self) -> None:
        if not self._authorized():
            return
        if self.headers.get("Content-Type", "").split(";")[0].strip() != (
            "application/octet-stream"
        ):
            # What a real unit answers an image sent as XML (REFERENCE.md §1).
            self._refused(qa.Refused(400, 6, "Invalid XML Content", "badXmlContent"))
            return
        if len(self.body) < 1024:
            self._refused(qa.Refused(400, 6, "Invalid Content", "badFirmware"))
            return
        self.camera._start_upgrade(self.body)
        self._reply(200, self.camera.response_status_xml(self.path, 1, "OK", "ok"))

    def _upgrade_status(self) -> None:
        if self._authorized():
            self._reply(200, self.camera.upgrade_status_xml())

    def _activate_status(self) -> None:
        if not self.camera.spec.has_activation:
            self._reply(404, NOT_FOUND_HTML, "text/html")
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
