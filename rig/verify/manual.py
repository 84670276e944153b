"""The operator as verifier: the rig asks, the operator looks (SADP Tool, the web page) and
answers; the answer is recorded as the evidence. Used on a bench with no camera network."""

from __future__ import annotations

from rig.job import Unit, Verdict
from rig.operator import Operator
from rig.outcomes import Outcome
from rig.verify.base import Verifier


class ManualVerifier(Verifier):
    def __init__(self, operator: Operator, *, bay: str) -> None:
        super().__init__()
        self._operator = operator
        self._bay = bay

    @property
    def needs_cut_slot(self) -> bool:
        return False  # the operator, not a vanishing unit, says who is in the bay

    def identify(self, scanned_serial: str | None, *, cut: bool = True) -> Unit:
        self.unit = Unit(serial=scanned_serial)
        return self.unit

    def wait_gone(self, min_wait_s: float) -> bool:
        # Nobody can see the power go; the relay's click is the operator's to hear.
        self.evidence.append({"check": "power_cut", "method": "not checked (manual verifier)"})
        return True

    def wait_back(self, timeout_s: float) -> Verdict | None:
        back = self._operator.confirm(
            f"Bay {self._bay}: has the camera come back (it answers on the network)?"
        )
        self.evidence.append({"check": "back", "method": "operator", "answer": back})
        if back:
            return None
        return Verdict(Outcome.NO_RESPONSE, "the operator reports the unit did not come back")

    def judge(self) -> Verdict:
        reset = self._operator.confirm(
            f"Bay {self._bay}: is the camera in factory state (SADP Tool shows it Inactive)?"
        )
        self.evidence.append({"check": "factory_state", "method": "operator", "answer": reset})
        if reset:
            return Verdict(
                Outcome.RESET_VERIFIED, "confirmed by the operator", {"verified_by": "operator"}
            )
        return Verdict(
            Outcome.NOT_RESET,
            "the operator reports it is still activated",
            {"verified_by": "operator"},
        )
