"""One station per data directory: a second `rig run` or `rig reset` on the same records would
drive the same bays twice. An flock on `station.lock` (released by the kernel when the process
dies, even by SIGKILL, so a crash never leaves a stale lock) makes the second one refuse."""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import IO

from rig.errors import RigError
from rig.records.store import RecordError

LOCK_NAME = "station.lock"


class StationBusy(RigError):
    """Another rig process holds the data directory."""


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_NAME
        self._file: IO[str] | None = None

    def acquire(self) -> DataDirLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(self.path, "a+", encoding="ascii")  # noqa: SIM115 - held while locked
        except OSError as exc:
            raise self._unwritable(exc) from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            handle.close()
            raise StationBusy(
                f"another rig (pid {holder}) is using the records in {self.path.parent}"
            ) from None
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
        except OSError as exc:
            with contextlib.suppress(OSError):  # closing retries the flush; the fd closes anyway
                handle.close()
            raise self._unwritable(exc) from None
        self._file = handle
        return self

    def _unwritable(self, exc: OSError) -> RecordError:
        # A full or read-only disk shows here first, before the records are opened: say so in
        # the records' own words, naming the directory, not as a bare "[Errno 28]".
        return RecordError(
            f"records at {self.path.parent}: cannot open for writing: {exc.strerror or exc}"
        )

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> DataDirLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
