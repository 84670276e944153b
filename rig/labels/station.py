"""`[labels]` at `rig run`: each verified unit's label printed as the unit is done.

A `Station.unit_listener`. The bay's worker only queues the label: one printer thread makes
and sends it, so a printer that is slow, off or out of labels never holds up a bay. What
happened is told to the operator (and the station page) in one line.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from rig.config import LabelsConfig
from rig.job import JobReport
from rig.labels.content import LabelData, LabelError, label_for_report
from rig.outcomes import Outcome

log = logging.getLogger(__name__)


class LabelPrinter:
    def __init__(self, config: LabelsConfig, *, station: str, tell: Callable[[str], None]) -> None:
        self.config = config
        self.station = station
        self.tell = tell
        self._queue: queue.SimpleQueue[tuple[str, LabelData] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="labels", daemon=True)
        self._thread.start()
        self.printed: list[int] = []  # job ids whose label went to the printer

    def unit_done(self, bay: str, reports: list[JobReport]) -> None:
        last = reports[-1]
        if last.result.outcome is Outcome.RESET_VERIFIED:
            data = label_for_report(last, station=self.station, base_url=self.config.url)
            self._queue.put((bay, data))

    def reprint(self, data: LabelData, bay: str | None) -> str:
        """Queue a label again (the station page's Print button: a label jammed, or lost)."""
        self._queue.put((bay or "-", data))
        return f"label of {data.serial} queued for {self.describe()}"

    def describe(self) -> str:
        if self.config.brother is not None:
            return f"Brother {self.config.model} at {self.config.brother}"
        return f"CUPS printer {self.config.cups}"

    def close(self, timeout_s: float = 30.0) -> None:
        """Let the labels queued so far print (up to `timeout_s`), then stop."""
        self._queue.put(None)
        self._thread.join(timeout=timeout_s)

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            bay, data = item
            try:
                where = self._print(data)
            except LabelError as exc:
                self.tell(f"bay {bay}: label of {data.serial} not printed: {exc}")
            except Exception as exc:  # a label must never take the station down
                log.exception("label of job %s", data.job_id)
                self.tell(f"bay {bay}: label of {data.serial} not printed: {exc}")
            else:
                self.printed.append(data.job_id)
                self.tell(f"bay {bay}: label of {data.serial} sent to {where}")

    def _print(self, data: LabelData) -> str:
        from rig.labels.layout import label_pdf, render_label
        from rig.labels.printers import brother_raster, print_brother, print_cups

        size = self.config.size
        if self.config.brother is not None:
            job = brother_raster(render_label(data, size), size, model=self.config.model)
            print_brother(job, self.config.brother)
            return self.describe()
        assert self.config.cups is not None
        print_cups(label_pdf(data, size), self.config.cups, title=f"rig label {data.serial}")
        return self.describe()
