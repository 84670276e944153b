"""The QA pass's cost per unit, for `python -m rig.benchmark`: real time against simulated
cameras on 127.0.0.1 (inactive, as a proven reset leaves them), measured against its floor.

The floor is what the pass cannot do without: one more boot (the restore's reboot), the gap
between the two snapshots and the settle time a unit back must stay up. Everything beyond it
is the rig's: the RSA key, the HTTP calls, the SADP polls that see the unit go and come back.
"""

from __future__ import annotations

import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from rig.clock import SystemClock
from rig.config import NetworkConfig
from rig.job import Unit
from rig.network.isapi import IsapiClient
from rig.procedures.qa import QaOptions, QaPass
from rig.records.store import RecordStore
from rig.runner import JobRunner
from rig.sim.camera import CameraSpec, SimCamera
from rig.sim.network import SimNetwork
from rig.software.targets import Password
from rig.verify.network import NetworkWatch
from rig.verify.software import SoftwareVerifier

BENCH_PASSWORD = "Bench-Mark-2026"  # reaches only the simulated cameras


@dataclass
class QaCost:
    boot_s: float
    gap_s: float
    settle_s: float
    passes_s: list[float] = field(default_factory=list)
    steps_s: dict[str, list[float]] = field(default_factory=dict)
    passed: int = 0

    @property
    def floor_s(self) -> float:
        return self.boot_s + self.gap_s + self.settle_s

    @property
    def added_s(self) -> list[float]:
        return [total - self.floor_s for total in self.passes_s]

    def median_step(self, name: str) -> float:
        return statistics.median(self.steps_s.get(name) or [0.0])


def measure_qa_pass(
    units: int, *, boot_s: float, poll_s: float, settle_s: float, gap_s: float = 1.0
) -> QaCost:
    cost = QaCost(boot_s=boot_s, gap_s=gap_s, settle_s=settle_s)
    options = QaOptions(snapshot_gap_s=gap_s, boot_timeout_s=max(30.0, 4 * boot_s))
    with SimNetwork() as network, tempfile.TemporaryDirectory(prefix="rig-qa-bench-") as tmp:
        host, _, port = network.target.rpartition(":")
        config = NetworkConfig(sadp_target=(host, int(port)), sadp_poll_s=poll_s, settle_s=settle_s)

        def isapi(host: str, port: int) -> IsapiClient:
            return IsapiClient(host, port, timeout_s=config.http_timeout_s)

        with NetworkWatch(config) as watch, RecordStore(Path(tmp)) as store:
            runner = JobRunner(store, SystemClock(), station="benchmark")
            for n in range(1, units + 1):
                spec = CameraSpec.sample(n, boot_s=boot_s, activated=False)
                camera = SimCamera(spec).start()
                network.add(camera)
                try:
                    unit = Unit(serial=spec.device_sn, mac=spec.mac, model=spec.model)
                    verifier = SoftwareVerifier(
                        watch.poller, settle_s=settle_s, isapi=isapi, http_timeout_s=5.0
                    )
                    procedure = QaPass(
                        unit, Password(BENCH_PASSWORD), options, verifier=verifier, isapi=isapi
                    )
                    report = runner.run(procedure, bay="A", profile=spec.model)
                    verifier.close()
                finally:
                    network.remove(camera)
                    camera.stop()
                steps = report.result.steps
                cost.passes_s.append(
                    (steps[-1].ended_mono or steps[-1].started_mono) - steps[0].started_mono
                )
                for step in steps:
                    cost.steps_s.setdefault(step.name, []).append(step.duration_s or 0.0)
                cost.passed += report.result.qa == "passed"
    return cost
