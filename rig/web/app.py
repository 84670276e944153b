"""The station page: a Starlette app over a `StationFeed` and the station's scan stream.

Routes:

- `GET /`: the page (static HTML, CSS and JS, package data); it draws itself from the
  events below and works on a phone-sized screen.
- `GET /events`: server-sent events, one `state` event (JSON) now and after every change.
- `GET /state`: the same state, once (scripts, `curl`).
- `POST /scan` (`scan=SERIAL` or `scan=BAY SERIAL`, urlencoded form or JSON): into the
  station's scans.
- `POST /stop`: the stop button, the `q` a technician types: running units end, then the
  station.
- `GET /report`: the records' HTML report (`rig report --html`), certificates anchored
  `#certificate-JOB`; `GET /label/JOB.png` and `.pdf`: a verified unit's label;
  `POST /label/JOB/print`: that label to the station's printer (`[labels]`), again.

Access (`TokenGate`): with a token (`RIG_WEB_TOKEN`) every request must carry it, as
`Authorization: Bearer TOKEN`, an `X-Rig-Token` header, `?token=TOKEN` (then it becomes an
HttpOnly cookie and the address is cleaned of it, so it is never in the page or its links) or
that cookie; anything else is refused. A POST from another site's page is refused either way.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from rig.errors import UsageError
from rig.records.store import RecordError, RecordStore
from rig.records.units import units_from_jobs
from rig.web.changes import PageFeed
from rig.web.feed import StationFeed
from rig.web.scans import WebScans, check_scan

if TYPE_CHECKING:
    from rig.labels.content import LabelData

log = logging.getLogger(__name__)

TOKEN_COOKIE = "rig_token"
TOKEN_HEADER = "x-rig-token"
#: A keep-alive comment this often keeps proxies and phones from closing a quiet stream.
PING_S = 10


class TokenGate:
    """ASGI middleware: with a token, refuse every request that does not carry it."""

    def __init__(self, app: ASGIApp, token: str | None, what: str = "this station") -> None:
        self.app = app
        self.token = token or None
        self.what = what  # what the refusal names: the station page, or the fleet page

    def _matches(self, given: str | None) -> bool:
        # compare_digest: how much of a guess matched must not show in the response time.
        return given is not None and hmac.compare_digest(given.encode(), str(self.token).encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if request.method == "POST" and not _same_origin(request):
            await PlainTextResponse("rig: refused: a request from another site\n", 403)(
                scope, receive, send
            )
            return
        if self.token is None:
            await self.app(scope, receive, send)
            return
        auth = request.headers.get("authorization", "")
        bearer = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        if self._matches(bearer) or self._matches(request.headers.get(TOKEN_HEADER)):
            await self.app(scope, receive, send)
            return
        if self._matches(request.cookies.get(TOKEN_COOKIE)):
            await self.app(scope, receive, send)
            return
        if self._matches(request.query_params.get("token")):
            # Into a cookie, and out of the address bar, the history and the page's links.
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            target = request.url.path + (f"?{urlencode(rest)}" if rest else "")
            response = RedirectResponse(target, status_code=303)
            response.set_cookie(
                TOKEN_COOKIE, str(self.token), httponly=True, samesite="strict", path="/"
            )
            await response(scope, receive, send)
            return
        await PlainTextResponse(
            f"rig: refused: {self.what} needs its token (RIG_WEB_TOKEN): "
            "open the page as /?token=TOKEN\n",
            401,
        )(scope, receive, send)


def _same_origin(request: Request) -> bool:
    """A POST from the station's own page, or from a tool that sends no Origin (curl)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == request.headers.get("host", "")


def live_page_routes(feed: PageFeed, html: str) -> list[BaseRoute]:
    """What every live page serves: itself (`html`, a file of rig/web/static), its state as
    JSON, its server-sent events (the state again after each change), and its static files."""

    async def page(request: Request) -> Response:
        text = (resources.files("rig.web") / "static" / html).read_text(encoding="utf-8")
        return HTMLResponse(text, headers=PAGE_HEADERS)

    async def state(request: Request) -> Response:
        return JSONResponse(feed.state())

    async def events(request: Request) -> Response:
        async def stream() -> Any:
            async for item in feed.changes():
                yield {"event": "state", "data": json.dumps(item)}

        return EventSourceResponse(stream(), ping=PING_S, headers={"Cache-Control": "no-store"})

    return [
        Route("/", page),
        Route("/state", state),
        Route("/events", events),
        Mount("/static", StaticFiles(packages=[("rig.web", "static")]), name="static"),
    ]


#: The page runs only its own script and style, and no other site may frame it (a hidden
#: frame could click Stop).
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
}

#: A scan is a serial and a bay name: anything much longer is not one.
MAX_SCAN_BODY = 2048


async def _scan_text(request: Request) -> str:
    if int(request.headers.get("content-length") or 0) > MAX_SCAN_BODY:
        raise UsageError(f"scan: over {MAX_SCAN_BODY} bytes: not a scan")
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body: Any = await request.json()
        except ValueError:
            raise UsageError("scan: the body is not JSON") from None
        text = body.get("scan") if isinstance(body, dict) else None
    else:
        # A urlencoded form (curl -d scan=...): the stdlib reads it; multipart is not needed.
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        text = form.get("scan", [None])[0]
    if not isinstance(text, str) or not text.strip():
        raise UsageError("scan: nothing was scanned")
    return text


#: Sends a unit's label to the station's printer ([labels]); what it did, as a line.
PrintLabel = Callable[["LabelData", "str | None"], str]


def make_app(
    feed: StationFeed,
    scans: WebScans,
    *,
    token: str | None = None,
    report_title: str | None = None,
    print_label: PrintLabel | None = None,
) -> ASGIApp:
    """The station page's ASGI app, behind its token gate. With `print_label` (the station
    has a label printer) each verified unit's label can be printed again from the page."""

    async def scan(request: Request) -> Response:
        try:
            text = check_scan(await _scan_text(request), feed.bays)
        except UsageError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        if feed.stopping or feed.closed.is_set():
            return JSONResponse({"error": "the station is stopping: no new units"}, 409)
        scans.put(text)
        feed.note(f"scanned {text}")
        return JSONResponse({"queued": text}, status_code=202)

    async def stop(request: Request) -> Response:
        if not feed.stopping:
            feed.stopping = True
            scans.stop()
            feed.note("stop pressed: the running units finish, then the station stops")
        return JSONResponse({"stopping": True}, status_code=202)

    def _jobs() -> list[dict[str, Any]]:
        with RecordStore(feed.data_dir) as store:
            return store.jobs()

    async def report(request: Request) -> Response:
        from rig.records.report import DEFAULT_TITLE, render_html

        try:
            jobs = _jobs()
        except RecordError as exc:
            return PlainTextResponse(f"rig: {exc}\n", 503)
        return HTMLResponse(render_html(jobs, title=report_title or DEFAULT_TITLE))

    async def label(request: Request) -> Response:
        from rig.labels.content import LabelError, label_for_job
        from rig.labels.layout import label_pdf, label_png

        job_id: int = request.path_params["job_id"]
        kind: str = request.path_params["kind"]
        if kind not in ("png", "pdf"):
            return PlainTextResponse("rig: a label is .png or .pdf\n", 404)
        try:
            data = label_for_job(units_from_jobs(_jobs()), job_id, base_url=feed.label_url)
        except LabelError as exc:
            return PlainTextResponse(f"rig: {exc}\n", 404)
        body = label_png(data) if kind == "png" else label_pdf(data)
        return Response(body, media_type="image/png" if kind == "png" else "application/pdf")

    async def print_again(request: Request) -> Response:
        from rig.labels.content import LabelError, label_for_job

        if print_label is None:
            return JSONResponse({"error": "this station has no label printer ([labels])"}, 404)
        job_id: int = request.path_params["job_id"]
        try:
            units = units_from_jobs(_jobs())
            data = label_for_job(units, job_id, base_url=feed.label_url)
        except (LabelError, RecordError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)
        bay = next((u.last.bay for u in units if job_id in u.job_ids), None)
        line = print_label(data, bay)
        feed.note(line)
        return JSONResponse({"queued": line}, status_code=202)

    async def config(request: Request) -> Response:
        return JSONResponse({"printer": print_label is not None})

    routes = [
        *live_page_routes(feed, "index.html"),
        Route("/config", config),
        Route("/label/{job_id:int}/print", print_again, methods=["POST"]),
        Route("/scan", scan, methods=["POST"]),
        Route("/stop", stop, methods=["POST"]),
        Route("/report", report),
        Route("/label/{job_id:int}.{kind}", label),
    ]
    return TokenGate(Starlette(routes=routes), token)
