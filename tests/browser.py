"""Debian's chromium, as every browser test (and scripts/station_screenshot.py) starts it.

As root in a container it needs --no-sandbox; without the background-networking flags it tries
Google's hosts at every start, and this machine's closed network refuses them many at a time.
Playwright drives it by `executable_path`: it never downloads a browser of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def missing_chromium() -> str | None:
    """Why no browser test can run here, or None."""
    if Path(CHROMIUM).exists():
        return None
    return f"{CHROMIUM} missing: `make test` installs it (apt-get install chromium)"


@contextmanager
def playwright_chromium() -> Iterator[Any]:
    """A Playwright browser on Debian's chromium, closed at the end."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
