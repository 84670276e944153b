"""Work of many callers folded into few: one request, one commit, for every caller that asks
at the same moment, instead of one each.

At a station the bays run in step (loaded together, the same timings): 16 bays polling
their PoE ports every 20 ms, or walking the forwarding table at the same identify, are 16
times the requests a managed switch's small CPU must answer, each waiting behind the others;
48 bays ending a step in the same moment are 48 commits (48 fsyncs) in a row. `Batched`
lets the first caller lead one read (or write) of every key asked for so far while the
others wait for it; whoever asks during one joins the next, never the one in flight (its
answer could be older than the question, or its commit not include the row).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Batched(Generic[K, V]):
    """`get(key)`: the value of `key` from the next `read(keys)` to start; thread-safe."""

    def __init__(self, read: Callable[[frozenset[K]], Mapping[K, V]]) -> None:
        self._read = read
        self._cond = threading.Condition()
        self._asked: set[K] = set()  # keys for the next read
        self._reading = False
        self._started = 0  # reads started so far; read n answers those who asked before it
        self._results: dict[int, Mapping[K, V] | BaseException] = {}
        self._waiting: dict[int, int] = {}  # read number -> callers still to collect it
        self.reads = 0  # how many reads were made (tests, the benchmark)

    def get(self, key: K) -> V:
        with self._cond:
            self._asked.add(key)
            mine = self._started + 1  # the next read to start, whether one runs now or not
            self._waiting[mine] = self._waiting.get(mine, 0) + 1
            while mine not in self._results:
                if self._reading:
                    self._cond.wait()
                    continue
                self._lead()
            result = self._results[mine]
            self._waiting[mine] -= 1
            if not self._waiting[mine]:
                del self._waiting[mine], self._results[mine]
        if isinstance(result, BaseException):
            raise result
        return result[key]

    def _lead(self) -> None:
        """Read every key asked for so far (called, and returning, with the lock held)."""
        self._reading = True
        self._started += 1
        number, keys = self._started, frozenset(self._asked)
        self._asked.clear()
        self._cond.release()
        try:
            result: Mapping[K, V] | BaseException = self._read(keys)
        except Exception as exc:  # every caller of this read gets it, as its own call would
            result = exc
        finally:
            self._cond.acquire()
            self._reading = False
            self.reads += 1
        self._results[number] = result
        self._cond.notify_all()
