"""Who asks for the QA pass and with what: `rig reset --qa`, `[station] qa = true`, or a
profile's `qa = true`; the options of a bay's unit (its profile's limits, the station's
firmware policy for its model); and the pass run as a job of the unit (rig.jobs.run_unit).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from rig.config import BayConfig, RigConfig
from rig.job import JobReport, Unit
from rig.network.isapi import IsapiClient
from rig.procedures.qa import QaOptions, QaPass
from rig.qa.firmware import FirmwarePolicy
from rig.qa.picture import PictureLimits
from rig.runner import JobRunner, StageListener
from rig.software.targets import Password
from rig.verify.network import NetworkWatch
from rig.verify.software import SoftwareVerifier


@dataclass(frozen=True)
class QaRequest:
    """The QA pass as a run asks for it: the bench password and the config's policy."""

    password: Password
    config: RigConfig
    every_unit: bool = False  # `rig reset --qa`: whatever the station and profiles say

    def wanted(self, bay: BayConfig) -> bool:
        # The pass talks to the unit over the network: a bay the operator verifies by eye
        # has no SADP watch to find it with (`rig reset --qa` refuses such a bay).
        if bay.verify != "network":
            return False
        return self.every_unit or self.config.station.qa or bay.profile.qa

    def options(self, bay: BayConfig) -> QaOptions:
        profile = bay.profile
        policy = self.config.qa.firmware.get(profile.model)
        if policy is None:
            policy = FirmwarePolicy(min_firmware=profile.min_firmware)
        elif policy.min_firmware is None:
            policy = replace(policy, min_firmware=profile.min_firmware)
        return QaOptions(
            firmware=policy,
            picture=PictureLimits(blur_threshold=profile.blur_threshold),
            has_card_slot=profile.has_card_slot,
            snapshot_gap_s=self.config.qa.snapshot_gap_s,
            boot_timeout_s=bay.boot_timeout_s,
        )


def wants_qa(config: RigConfig, bays: list[BayConfig]) -> bool:
    """Does any of these bays' units get the QA pass without `--qa`?"""
    return config.station.qa or any(bay.profile.qa for bay in bays)


@dataclass(frozen=True)
class QaRun:
    """A QaRequest bound to a session's SADP watch: what run_unit is handed."""

    request: QaRequest
    network: NetworkWatch

    def run(
        self,
        runner: JobRunner,
        *,
        bay: BayConfig,
        unit: Unit,
        scanned_serial: str | None,
        attempt: int,
        first_job_id: int,
        on_stage: StageListener | None,
    ) -> tuple[JobReport, bool]:
        """The QA job of a unit whose reset was proven; and whether the unit may be left
        activated (then the bay's hard reset must follow)."""
        settings = self.network.config

        def isapi(host: str, port: int) -> IsapiClient:
            return IsapiClient(host, port, timeout_s=settings.http_timeout_s)

        verifier = SoftwareVerifier(
            self.network.poller,
            settle_s=settings.settle_s,
            http_timeout_s=settings.http_timeout_s,
            isapi=isapi,
        )
        procedure = QaPass(
            unit,
            self.request.password,
            self.request.options(bay),
            verifier=verifier,
            isapi=isapi,
            scanned_serial=scanned_serial,
        )
        try:
            report = runner.run(
                procedure,
                bay=bay.name,
                profile=bay.profile.model,
                attempt=attempt,
                first_job_id=first_job_id,
                on_stage=on_stage,
            )
        finally:
            verifier.close()
        return report, procedure.left_activated
