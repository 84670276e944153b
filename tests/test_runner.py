"""The one job runner: every kind of job ends through the same mapping of what went wrong to an
outcome, with a safe bay and a finished record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from rig.clock import FakeClock
from rig.errors import NetworkError
from rig.job import Plan, ProcedureName, Unit
from rig.outcomes import Outcome
from rig.procedures.software import SoftwareOptions, SoftwareReset
from rig.records.store import RecordError, RecordStore
from rig.runner import JobRunner
from rig.software.targets import Password, Target
from tests.fakes import ScriptedVerifier, run_bay_job
from tests.test_procedure import assert_safe, make_bay

PLAN = Plan(ProcedureName.POWER_CYCLE_HOLD, off_s=5.0, hold_s=18.0, boot_timeout_s=180.0)


class UnreachableNetwork:
    """A software reset's verifier whose SADP socket fails as the unit is looked for."""

    def __init__(self) -> None:
        self.unit = Unit()
        self.evidence: list[dict[str, Any]] = []

    def find(self, *, mac: str | None, serial: str | None) -> None:
        raise NetworkError("SADP probe to 127.0.0.1:9 failed: Network is unreachable")


def test_a_network_error_ends_every_kind_of_job_the_same_way(
    pins: MockFactory, clock: FakeClock, tmp_path: Path
) -> None:
    verifier = ScriptedVerifier(clock)

    def unreachable(timeout_s: float) -> None:
        raise NetworkError("SADP probe to 127.0.0.1:9 failed: Network is unreachable")

    verifier.wait_back = unreachable  # type: ignore[method-assign,assignment]
    hw = make_bay(pins, clock)  # held: a device gpiozero collects lets go of its pin
    with RecordStore(tmp_path) as store:
        hard = run_bay_job(store, clock, hw=hw, verifier=verifier, plan=PLAN)
        software = SoftwareReset(
            Target(mac="44-19-b6-00-00-01", serial=None),
            Password("secret-1"),
            SoftwareOptions(),
            verifier=UnreachableNetwork(),  # type: ignore[arg-type]
            isapi=lambda host, port: pytest.fail("no web request without the unit"),
        )
        soft = JobRunner(store, clock, station="bench-1").run(software, bay=None, profile="p")
        records = {job["job_id"]: job for job in store.jobs()}
    for report in (hard, soft):
        assert report.result.outcome is Outcome.NO_RESPONSE
        assert report.result.reason == (
            "network error: SADP probe to 127.0.0.1:9 failed: Network is unreachable"
        )
        assert records[report.job_id]["outcome"] == "no_response"
    assert_safe(pins)
    assert (records[hard.job_id]["bay"], records[soft.job_id]["bay"]) == ("A", None)


def test_records_that_cannot_be_written_stop_the_command_with_the_bay_safe(
    pins: MockFactory, clock: FakeClock, tmp_path: Path, mocker: Any
) -> None:
    hw = make_bay(pins, clock)
    with RecordStore(tmp_path) as store:
        real_add_step = store.add_step

        def disk_full_at_the_hold(job_id: int, step: Any) -> None:
            if step.name == "hold":
                raise RecordError(
                    f"records at {store.path}: write failed: database or disk is full"
                )
            real_add_step(job_id, step)

        mocker.patch.object(store, "add_step", side_effect=disk_full_at_the_hold)
        with pytest.raises(RecordError, match="disk is full"):
            run_bay_job(store, clock, hw=hw, verifier=ScriptedVerifier(clock), plan=PLAN)
    assert_safe(pins)
