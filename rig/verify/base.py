"""How a job proves the reset: the Verifier interface and what it returns.

A verifier is made for one job (it keeps what it saw before the cut to compare after).
The procedure calls, in order: identify() while the unit is up, wait_gone() right after the
power cut, wait_back() after the release, then judge().
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from rig.outcomes import Outcome


@dataclass
class Unit:
    """What we know of the unit in the bay. Identity is by MAC, never by IP."""

    serial: str | None = None  # full DeviceSN when known, else the scanned label serial
    mac: str | None = None
    model: str | None = None
    firmware: str | None = None
    ip: str | None = None
    activated: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "serial": self.serial,
            "mac": self.mac,
            "model": self.model,
            "firmware": self.firmware,
            "ip": self.ip,
            "activated": self.activated,
        }


@dataclass
class Verdict:
    outcome: Outcome
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)


class Verifier(ABC):
    """One job's proof. Each method may add raw evidence to `self.evidence`."""

    def __init__(self) -> None:
        self.evidence: list[dict[str, Any]] = []
        self.unit = Unit()

    @abstractmethod
    def identify(self, scanned_serial: str | None) -> Unit:
        """Who is in the bay, while it is still up."""

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
