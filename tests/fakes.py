"""Test doubles shared by the tests: a scripted operator and a scripted verifier, one bay job
run through the job runner, and the one real-time wait."""

from __future__ import annotations

import time
from collections.abc import Callable

from rig.clock import FakeClock
from rig.hardware.bay import BayHardware
from rig.job import JobReport, Plan, Unit, Verdict
from rig.outcomes import Outcome
from rig.procedures import BAY_PROCEDURES
from rig.records.store import RecordStore
from rig.runner import JobRunner
from rig.verify.base import Verifier


class ScriptedOperator:
    """Answers prompts from a list, and remembers what it was told."""

    def __init__(self, answers: list[bool] | None = None) -> None:
        self.answers = list(answers or [])
        self.told: list[str] = []

    def tell(self, message: str) -> None:
        self.told.append(message)

    def wait_enter(self, message: str) -> None:
        self.told.append(message)

    def confirm(self, question: str) -> bool:
        self.told.append(question)
        return self.answers.pop(0)


class ScriptedVerifier(Verifier):
    """A verifier whose answers a test chooses; it records when each call came."""

    def __init__(
        self,
        clock: FakeClock,
        *,
        gone: bool = True,
        back: Verdict | None = None,
        verdict: Verdict | None = None,
        unit: Unit | None = None,
    ) -> None:
        super().__init__()
        self._clock = clock
        self._gone = gone
        self._back = back
        self._verdict = verdict or Verdict(Outcome.RESET_VERIFIED, "factory state")
        self._unit = unit or Unit(
            serial="DS-2CD2143G2-I20230815AAWRJ12345678", mac="aa-bb-cc-00-11-22"
        )
        self.calls: list[tuple[str, float]] = []

    def identify(self, scanned_serial: str | None, *, cut: bool = True) -> Unit:
        self.calls.append(("identify", self._clock.monotonic()))
        self.unit = self._unit
        return self.unit

    def wait_gone(self, min_wait_s: float) -> bool:
        self.calls.append(("wait_gone", self._clock.monotonic()))
        return self._gone

    def wait_back(self, timeout_s: float) -> Verdict | None:
        self.calls.append(("wait_back", self._clock.monotonic()))
        return self._back

    def judge(self) -> Verdict:
        self.calls.append(("judge", self._clock.monotonic()))
        return self._verdict


def run_bay_job(
    store: RecordStore,
    clock: FakeClock,
    *,
    hw: BayHardware,
    verifier: Verifier,
    plan: Plan,
    station: str = "bench-1",
    profile: str = "DS-2CD2143G2-I",
) -> JobReport:
    """One job of a bay's procedure through the job runner, as `rig reset` runs it."""
    procedure = BAY_PROCEDURES[plan.procedure](hw, verifier, plan)
    return JobRunner(store, clock, station=station).run(procedure, bay=hw.name, profile=profile)


def wait_until(
    predicate: Callable[[], object], timeout_s: float = 3.0, step_s: float = 0.005
) -> float | None:
    """Seconds until `predicate()` held (checked every `step_s`), or None after `timeout_s`.

    Real time: for what runs on its own threads (simulated cameras, boards, child processes).
    A test asserts `is not None`, never a duration: a loaded machine may take longer.
    """
    start = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - start
        if time.monotonic() - start > timeout_s:
            return None
        time.sleep(step_s)
