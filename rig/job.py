"""What a job is, for everyone who handles one: the runner, the procedures, the records, the
reports and the command line.

A neutral module: it imports nothing of the rig but the outcome names, so the records and the
reports never depend on how a reset is done (docs/architecture.md, "The job pipeline").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from rig.outcomes import Outcome


class ProcedureName(StrEnum):
    """How a unit is reset. The values are in the records and the config (`procedure`)."""

    POWER_CYCLE_HOLD = "power-cycle-hold"  # the vendor's hard reset
    RUNNING_HOLD = "running-hold"  # the pin held with the unit powered
    SOFTWARE_FULL = "software-full"  # ISAPI factoryReset?mode=full + reboot
    SOFTWARE_BASIC = "software-basic"  # ISAPI factoryReset?mode=basic + reboot (keeps network)
    QA = "qa"  # the QA pass after a proven reset: activate, check, restore (rig.procedures.qa)

    @property
    def presses(self) -> bool:
        """Does it move a bay's actuators (and so need a bay)?"""
        return self in (ProcedureName.POWER_CYCLE_HOLD, ProcedureName.RUNNING_HOLD)


#: The procedures a bay can be configured with (the others need no bay).
HARD_PROCEDURES = tuple(p.value for p in ProcedureName if p.presses)


class StepName(StrEnum):
    """The steps a job records, in the order the procedures may take them."""

    COOLDOWN = "cooldown"  # the solenoid still rests from its last press
    IDENTIFY = "identify"  # who is in the bay, while it is up
    FIND = "find"  # software: the unit named, found on SADP
    IDENTIFY_LOGIN = "identify_login"  # software: one login proves the web answer is that unit
    POWER_OFF = "power_off"
    PRESS = "press"
    POWER_ON = "power_on"
    HOLD = "hold"  # the hold and the release, one step (no record write lengthens a hold)
    FACTORY_RESET = "factory_reset"  # software: PUT factoryReset
    REBOOT = "reboot"  # software: PUT reboot
    WAIT_DOWN = "wait_down"  # software: the unit drops off SADP as it restarts
    WAIT_BACK = "wait_back"
    VERIFY = "verify"
    SAFE = "safe"  # the bay put in its safe state, whatever happened before
    # The QA pass (rig.procedures.qa): one step per check, its measurements in the details.
    QA_ACTIVATE = "qa_activate"
    QA_IDENTITY = "qa_identity"
    QA_FIRMWARE = "qa_firmware"
    QA_UPGRADE = "qa_upgrade"
    QA_PICTURE = "qa_picture"
    QA_STORAGE = "qa_storage"


@dataclass(frozen=True)
class Plan:
    """What a job sets out to do; stored with the job as it starts."""

    procedure: ProcedureName
    off_s: float
    hold_s: float
    boot_timeout_s: float
    scanned_serial: str | None = None  # the label serial the operator gave, if any
    named_mac: str | None = None  # the MAC the operator gave (software reset), if any
    # Why the job holds hold_s (rig.holds, rig.jobs.run_unit): "learned: 30 s verified 12 of
    # 12 units of DS-2CD2143G2-I", "profile", an escalation; None for a plan nobody chose.
    hold_basis: str | None = None


@dataclass
class Unit:
    """What we know of the unit a job is about. Identity is by MAC, never by IP."""

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


@dataclass
class Step:
    name: str
    started_mono: float
    started_wall: float
    ended_mono: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def duration_s(self) -> float | None:
        return None if self.ended_mono is None else self.ended_mono - self.started_mono


@dataclass
class Result:
    outcome: Outcome
    reason: str
    unit: Unit
    hold_s: float | None  # the hold actually applied, power-on (or press) to release
    steps: list[Step]
    evidence: list[dict[str, Any]]
    qa: str | None = None  # a QA pass's job: "passed" or "failed"; None for any other job
    qa_check: str | None = None  # the first QA check that failed


@dataclass
class JobReport:
    """A finished job as the command line and the station hand it on."""

    job_id: int
    bay: str | None  # None: a job that used no bay (a software reset)
    result: Result
    where: str = ""  # how the operator named the unit when there is no bay ("units.csv line 3")

    def as_json(self) -> dict[str, Any]:
        """The `--json` object: outside tools rely on these keys."""
        unit = self.result.unit
        return {
            "job_id": self.job_id,
            "bay": self.bay,
            "outcome": self.result.outcome.value,
            "reason": self.result.reason,
            "mac": unit.mac,
            "serial": unit.serial,
            "model": unit.model,
            "firmware": unit.firmware,
            "hold_s": self.result.hold_s,
            "qa": self.result.qa,
            "qa_check": self.result.qa_check,
            "steps": [
                {
                    "name": s.name,
                    "started_mono": s.started_mono,
                    "ended_mono": s.ended_mono,
                    "started_wall": s.started_wall,
                    "duration_s": s.duration_s,
                    "details": s.details,
                    "error": s.error,
                }
                for s in self.result.steps
            ],
        }

    def line(self) -> str:
        """The one line `rig reset` prints per job without `--json`."""
        r = self.result
        where = f"bay {self.bay}" if self.bay is not None else self.where or "no bay"
        text = (
            f"job {self.job_id} {where}: {r.outcome.value} ({r.reason});"
            f" unit {r.unit.serial or '?'} mac {r.unit.mac or '?'}"
        )
        if r.hold_s is not None:
            text += f"; hold {r.hold_s:.3f} s"
        if r.qa is not None:
            text += f"; qa: {r.qa}" + (f" ({r.qa_check})" if r.qa_check else "")
        return text
