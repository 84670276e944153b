"""`rig reset`: the bays of the config reset one after another, each unit's attempts printed.

The demo and the benchmark take this very path, so what they show is what a bench gets.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from rig.clock import Clock
from rig.config import BayConfig, RigConfig
from rig.fleet.link import fleet_link
from rig.hardware.factory import build_bay
from rig.hardware.gpio import pins_in_use
from rig.job import JobReport
from rig.jobs import carry_over_rest, run_unit
from rig.operator import Operator
from rig.outcomes import Outcome
from rig.progress import Progress
from rig.session import open_session

if TYPE_CHECKING:
    from rig.qa.setup import QaRequest

EXIT_OK, EXIT_FAILED = 0, 1


def print_report(report: JobReport, *, as_json: bool) -> None:
    """One JSON object (`--json`) or one line per job on stdout."""
    text = json.dumps(report.as_json(), sort_keys=True) if as_json else report.line()
    print(text, flush=True)


def reset_bays(
    config: RigConfig,
    bays: list[BayConfig],
    *,
    clock: Clock,
    data_dir: Path,
    scanned_serial: str | None,
    as_json: bool,
    operator: Operator,
    pin_factory: object = None,
    progress: Progress | None = None,
    retry: bool = False,
    qa: QaRequest | None = None,
) -> int:
    """Reset the given bays one after another; 0 when every unit ends reset_verified (and,
    with the QA pass, passed it)."""
    units: list[list[JobReport]] = []
    with open_session(config, bays, data_dir, clock=clock, operator=operator) as session:
        runner = session.runner(clock)
        learner = session.hold_learner()  # the same records teach `rig reset` and `rig run`
        qa_run = None
        if qa is not None and session.network is not None:
            from rig.qa.setup import QaRun

            qa_run = QaRun(qa, session.network)
        told: set[str] = set()
        progress = progress or Progress(clock)
        # [fleet]: the records uploaded (at the end too), the bays live on MQTT (rig.fleet).
        with progress, fleet_link(config, data_dir, progress, flush_s=10.0) as fleet:
            for bay in bays:
                hw = build_bay(
                    bay,
                    config,
                    clock,
                    operator,
                    pin_factory=pin_factory,
                    boards=session.boards,
                    switches=session.switches,
                )
                session.guard.add(hw)
                pins = pins_in_use([hw.power, hw.presser])
                if pins is not None and pins not in told:
                    told.add(pins)  # said once, at the first bay that drives Pi pins
                    operator.tell(pins)
                try:
                    carry_over_rest(session.store, hw, clock)
                    reports = run_unit(
                        runner,
                        bay=bay,
                        hw=hw,
                        make_verifier=partial(session.verifier, bay, operator),
                        scanned_serial=scanned_serial,
                        retry=retry,
                        on_stage=partial(progress.stage, bay.name),
                        qa=qa_run,
                        learner=learner,
                    )
                finally:
                    hw.close()
                units.append(reports)
                last = reports[-1].result.outcome
                progress.outcome(bay.name, last.value)
                fleet.unit_done(bay.name, reports)
                for report in reports:
                    print_report(report, as_json=as_json)
                if last is Outcome.ABORTED:
                    break  # a signal or the operator stopped the run: no further bays
    ok = units and all(u[-1].result.outcome is Outcome.RESET_VERIFIED for u in units)
    # A unit whose QA pass failed is reset (and says so) but not a unit to sell: exit 1.
    ok = ok and not any(r.result.qa == "failed" for u in units for r in u)
    return EXIT_OK if ok and len(units) == len(bays) else EXIT_FAILED
