"""What every procedure gives the job runner, by default from its verifier."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from rig.job import Plan, Unit, Verdict
from rig.runner import JobContext
from rig.verify.base import Verifier


class VerifiedProcedure(ABC):
    """A procedure whose unit and evidence are its verifier's (rig.runner.Procedure)."""

    plan: Plan
    verifier: Verifier

    @property
    def unit(self) -> Unit:
        return self.verifier.unit

    @property
    def evidence(self) -> list[dict[str, Any]]:
        return self.verifier.evidence

    @property
    def hold_s(self) -> float | None:
        return None  # a procedure that holds a pin says how long

    def aborted_note(self) -> str | None:
        return None

    @abstractmethod
    def run(self, job: JobContext) -> Verdict: ...

    def make_safe(self, job: JobContext) -> None:  # noqa: B027 - nothing moved by default
        """Put what the procedure moved in its safe state."""
