"""How fast the station page hears of a change (for `python -m rig.benchmark`).

The page's promise is a stage change shown within a second. This measures the path it takes
in real time: a bay's new stage (`Progress.stage`, from the bay's thread) -> the feed -> the
server's event loop -> a server-sent event read by a client over loopback HTTP. The figures
are seconds per change; the benchmark shows them against the one-second budget.
"""

from __future__ import annotations

import io
import json
import tempfile
import threading
import time
from pathlib import Path

import requests
from rich.console import Console

from rig.clock import SystemClock
from rig.progress import Progress
from rig.web.app import make_app
from rig.web.feed import StationFeed
from rig.web.scans import WebScans
from rig.web.serve import WebServer

#: The page's budget for showing a change.
BUDGET_S = 1.0


def page_latency(changes: int, *, bays: int = 4, gap_s: float = 0.05) -> list[float]:
    """Seconds from each of `changes` stage changes to its event reaching a client."""
    progress = Progress(SystemClock(), Console(file=io.StringIO()))  # kept, not shown
    names = [f"B{i}" for i in range(bays)]
    with tempfile.TemporaryDirectory(prefix="rig-web-bench-") as tmp:
        feed = StationFeed(progress, station="bench", bays=names, data_dir=Path(tmp))
        server = WebServer(make_app(feed, WebScans()), "127.0.0.1", 0)
        server.start()
        seen: dict[str, float] = {}
        connected = threading.Event()

        def read() -> None:
            with requests.get(server.url + "events", stream=True, timeout=30) as stream:
                connected.set()
                for line in stream.iter_lines(decode_unicode=True):
                    if line and line.startswith("data:"):
                        now = time.monotonic()
                        for bay in json.loads(line[5:])["bays"]:
                            seen.setdefault(bay["stage"], now)
                    if feed.closed.is_set():
                        return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        connected.wait(10)
        sent: dict[str, float] = {}
        try:
            for i in range(changes):
                stage = f"stage {i}"
                sent[stage] = time.monotonic()
                progress.stage(names[i % bays], stage)
                time.sleep(gap_s)
            deadline = time.monotonic() + 10
            while len(seen.keys() & sent.keys()) < changes and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            feed.close()
            server.stop()
        return [seen[stage] - at for stage, at in sent.items() if stage in seen]
