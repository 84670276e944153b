"""What a live page's feed shares: its state read by the server, and the news that it changed.

The station's threads (or MQTT's) call `changed()`; each open page's server-sent event stream
waits in `changes()` on an asyncio event of its own loop, woken thread-safely, and gets the
state again. Changes that come together are sent as one: a stream reads the state once per
wake-up, not once per change.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any


class PageFeed:
    """The base of a page's feed: `state()` is the subclass's, the rest is here."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self.closed = threading.Event()

    def state(self) -> dict[str, Any]:
        raise NotImplementedError

    def changed(self) -> None:
        """Wake every stream; from any thread."""
        with self._lock:
            waiters = list(self._waiters)
        for loop, event in waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that loop has closed: its page is gone
                with self._lock:
                    self._waiters.discard((loop, event))

    def end_streams(self) -> None:
        """Every stream sends the state one last time and ends."""
        self.closed.set()
        self.changed()

    async def changes(self) -> AsyncIterator[dict[str, Any]]:
        """The state now, then again after each change, until the feed is closed."""
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        waiter = (loop, event)
        with self._lock:
            self._waiters.add(waiter)
        try:
            while True:
                event.clear()
                yield self.state()
                if self.closed.is_set():
                    return
                await event.wait()
        finally:
            with self._lock:
                self._waiters.discard(waiter)
