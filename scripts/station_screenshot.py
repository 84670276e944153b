"""The README's pictures of the station page: `rig demo --bays 4 --web` in headless chromium.

    .venv/bin/python scripts/station_screenshot.py   # docs/station-web.png, -phone, label

Runs the demo (simulated bays on 127.0.0.1 only) on a free port, waits until a bay has a
verdict while others still hold, takes a desktop and a phone-sized picture and the label of
the verified unit, then presses the page's stop button and waits for the demo to end.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # chromium as the browser tests start it: tests/browser.py
from tests.browser import playwright_chromium  # noqa: E402

# When A has its verdict, B is holding its second, longer attempt and C and D wait for theirs.
READY = """() => {
  const text = (bay, part) =>
    document.querySelector(`[data-bay='${bay}'] ${part}`)?.textContent || "";
  return text("A", ".badge").startsWith("reset_verified") && text("B", ".stage") === "holding";
}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(url: str, timeout_s: float = 60) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            if requests.get(url + "state", timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the demo's page did not come up at {url}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "station-web.png")
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    data_dir = tempfile.mkdtemp(prefix="rig-shot-")
    timing = ["--off-s", "2", "--hold-s", "6", "--boot-s", "1.5", "--data-dir", data_dir]
    demo = subprocess.Popen(
        [sys.executable, "-m", "rig", "demo", "--bays", "4", "--web", f"127.0.0.1:{port}", *timing],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_up(url)
        with playwright_chromium() as browser:
            page = browser.new_page(viewport={"width": 1100, "height": 760})
            page.goto(url)
            page.wait_for_function(READY, timeout=120_000)
            page.screenshot(path=str(args.out), full_page=True)
            phone = browser.new_page(viewport={"width": 390, "height": 844})
            phone.goto(url)
            phone.wait_for_selector("#connection.live", timeout=30_000)
            phone_out = args.out.with_name(args.out.stem + "-phone.png")
            phone.screenshot(path=str(phone_out))
            # The label of A's unit, as the page links it.
            state = requests.get(url + "state", timeout=10).json()
            verified = next(u for u in state["units"] if u["verified"])
            label = requests.get(f"{url}label/{verified['job_id']}.png", timeout=10)
            label_out = args.out.with_name("label-62x29.png")
            label_out.write_bytes(label.content)
            page.on("dialog", lambda dialog: dialog.accept())
            page.click("#stop")
        print(f"wrote {args.out}, {phone_out} and {label_out}")
        return 0 if demo.wait(timeout=180) == 0 else 1
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()


if __name__ == "__main__":
    sys.exit(main())
