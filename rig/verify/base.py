"""How a job proves the reset: the Verifier interface and what it returns.

A verifier is made for one job (it keeps what it saw before the cut to compare after).
The procedure calls, in order: identify() while the unit is up, wait_gone() right after the
power cut (a procedure without a cut skips it), wait_back() after the release, then judge().
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from rig.job import Unit, Verdict


class Verifier(ABC):
    """One job's proof. Each method may add raw evidence to `self.evidence`."""

    def __init__(self) -> None:
        self.evidence: list[dict[str, Any]] = []
        self.unit = Unit()
        #: The bay's switch port and the MACs learned on it, when the bay's power is a port.
        self.port: tuple[str, tuple[str, ...]] | None = None

    @property
    def known_by(self) -> str | None:
        """How the unit was identified ("switch port", "scanned serial"...), once known."""
        return None

    @property
    def needs_cut_slot(self) -> bool:
        """Must this job's power cut wait for a slot of its own (rig.station.CutGate)?

        Yes while the unit is to be known as "the one that vanishes at the cut": two cuts at
        once would make that ambiguous. A unit already known (by MAC) needs none."""
        return True

    def mac_of(self, serial: str | None) -> str | None:
        """The MAC the unit of label serial `serial` answers by now, if the verifier can
        tell: a hint for the port check before identify() (nothing is concluded from it)."""
        return None

    def on_port(self, where: str, macs: Sequence[str]) -> None:
        """Before identify(): the bay's power is switch port `where`, `macs` are on it."""
        self.port = (where, tuple(macs))

    @abstractmethod
    def identify(self, scanned_serial: str | None, *, cut: bool = True) -> Unit:
        """Who is in the bay, while it is still up. `cut`: the procedure will cut the power
        (then the unit that vanishes names it); without a cut the unit must be known another
        way."""

    @abstractmethod
    def wait_gone(self, min_wait_s: float) -> bool:
        """After the power cut: True once the unit has vanished (or cannot be checked).

        May return as soon as it knows; may take longer than `min_wait_s` if it needs to.
        """

    @abstractmethod
    def wait_back(self, timeout_s: float) -> Verdict | None:
        """After the release: None once the unit is back, else the verdict (no_response...)."""

    @abstractmethod
    def judge(self) -> Verdict:
        """Is the unit that came back the one in the bay, and in factory state?"""

    def close(self) -> None:  # noqa: B027 - optional
        """Release sockets and the like; idempotent."""
