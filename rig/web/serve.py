"""`rig run --web [ADDR:PORT]`: the station page served from a thread of the station.

uvicorn serves the app (rig.web.app) on a socket bound here, so a port in use is one clear
line before any bay moves, and port 0 (tests) picks a free one. By default the page listens
on 127.0.0.1 only; an address other hosts can reach needs a token in `RIG_WEB_TOKEN`, and
every request without it is refused.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import uvicorn

from rig.errors import RigError, UsageError
from rig.web.app import make_app
from rig.web.feed import StationFeed
from rig.web.scans import WebScans

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from rig.labels.station import LabelPrinter
    from rig.operator import Operator
    from rig.station import Station

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_LISTEN = f"{DEFAULT_HOST}:{DEFAULT_PORT}"
TOKEN_ENV = "RIG_WEB_TOKEN"
#: Below this a token is guessable from the lab network.
MIN_TOKEN_CHARS = 12


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_listen(
    text: str, where: str = "--web", default_port: int = DEFAULT_PORT
) -> tuple[str, int]:
    """`ADDR:PORT`, `[V6ADDR]:PORT`, `ADDR` or `PORT` -> (host, port); UsageError otherwise."""
    value = text.strip()
    host, port_text = DEFAULT_HOST, str(default_port)
    example = f"{DEFAULT_HOST}:{default_port}"
    if value.startswith("["):
        inside, _, rest = value[1:].partition("]")
        host, port_text = inside, rest.removeprefix(":") or port_text
    elif value.isdigit():
        port_text = value
    elif value.count(":") == 1:
        host, port_text = value.split(":")
    elif value and ":" not in value:
        host = value
    else:
        raise UsageError(f"{where}: expected ADDR:PORT (e.g. {example}), got {text!r}")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise UsageError(f"{where}: port must be a number 0–65535, got {port_text!r}")
    if not host:
        raise UsageError(f"{where}: no address in {text!r} (e.g. {example})")
    return host, int(port_text)


@dataclass(frozen=True)
class WebOption:
    """Where the page listens and the token it asks for, checked before the station starts."""

    host: str
    port: int
    token: str | None

    @classmethod
    def from_args(
        cls, listen: str, env: Mapping[str, str] | None = None, default_port: int = DEFAULT_PORT
    ) -> WebOption:
        env = os.environ if env is None else env
        host, port = parse_listen(listen, default_port=default_port)
        token = env.get(TOKEN_ENV) or None
        if token is not None and len(token) < MIN_TOKEN_CHARS:
            raise UsageError(f"{TOKEN_ENV}: too short: use at least {MIN_TOKEN_CHARS} characters")
        if token is None and not is_loopback(host):
            raise UsageError(
                f"--web {host}:{port}: listening beyond this machine needs a token: set {TOKEN_ENV}"
            )
        return cls(host, port, token)


class WebServer:
    """uvicorn on a socket of our own, in a daemon thread; `stop()` ends it."""

    def __init__(self, app: ASGIApp, host: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._sock.bind((host, port))
        except OSError as exc:
            self._sock.close()
            raise RigError(f"--web {host}:{port}: cannot listen: {exc.strerror or exc}") from None
        self.host, self.port = host, self._sock.getsockname()[1]
        self._server = uvicorn.Server(
            uvicorn.Config(
                app,
                log_level="warning",
                access_log=False,
                lifespan="off",
                # An open event stream would hold the shutdown: the feed ends them, and this
                # bounds the wait for a page that does not let go.
                timeout_graceful_shutdown=2,
            )
        )
        self._thread = threading.Thread(target=self._serve, name="web", daemon=True)
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def _serve(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as exc:  # SystemExit too: uvicorn exits on a startup failure
            self._error = exc

    def start(self, timeout_s: float = 30.0) -> None:
        self._thread.start()
        waited = 0.0
        while not self._server.started and self._thread.is_alive() and waited < timeout_s:
            self._thread.join(0.02)
            waited += 0.02
        if not self._server.started:
            self.stop()
            raise RigError(f"--web {self.url}: the web server did not start ({self._error})")

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._sock.close()


class NotingOperator:
    """The station's operator, whose messages (a scan refused, a bay held back) the page shows
    too. Prompts still go to the operator: a manual bay needs someone at the bench."""

    def __init__(self, operator: Operator, feed: StationFeed) -> None:
        self._operator = operator
        self._feed = feed

    def tell(self, message: str) -> None:
        self._operator.tell(message)
        self._feed.note(message)

    def wait_enter(self, message: str) -> None:
        self._feed.note(message)
        self._operator.wait_enter(message)

    def confirm(self, question: str) -> bool:
        self._feed.note(question)
        return self._operator.confirm(question)


@contextmanager
def station_web(
    station: Station, scans: WebScans, option: WebOption, *, labels: LabelPrinter | None = None
) -> Iterator[WebServer]:
    """The page of `station` (which reads `scans`), served while the block runs; with the
    station's label printer (`labels`), the page can print a unit's label again."""
    feed = StationFeed(
        station.progress,
        station=station.config.station.name,
        bays=[bay.name for bay in station.config.bays],
        data_dir=station.data_dir,
    )
    station.unit_listeners.append(feed.unit_done)
    station.operator = NotingOperator(station.operator, feed)
    feed.label_url = station.config.labels.url
    app = make_app(feed, scans, token=option.token, print_label=labels.reprint if labels else None)
    server = WebServer(app, option.host, option.port)
    server.start()
    station.operator.tell(f"station page: {server.url}" + (" (token)" if option.token else ""))
    try:
        yield server
    finally:
        feed.close()
        server.stop()


def serve_station(
    station: Station,
    base: Iterable[str],
    option: WebOption,
    *,
    terminal: bool,
    labels: LabelPrinter | None = None,
) -> int:
    """Run `station` with its page: its scans are `base` (stdin, the scanner) and the page's.
    At a terminal (`terminal`) the end of `base` (Ctrl-D) ends the station as ever; otherwise
    the stop button, `q` or a signal does."""
    scans = WebScans(base, base_ends=terminal)
    station.scans = scans
    with station_web(station, scans, option, labels=labels):
        try:
            return station.run()
        finally:
            scans.close()
