"""Holds learned per model: the hold a unit starts at, from its model's recent records.

Without it every unit starts at its bay's `hold_s` and escalates to the longer holds of
`escalation_holds_s` while it ends `not_reset`. A lot of a model that needs 30 s then pays a
failed 18 s attempt per unit: a whole extra power cycle, boot and solenoid rest. Here the
records of the model's recent units decide where the next unit starts (README "Holds learned
per model"):

- **The model**: the unit's model as SADP reported it, else the bay's profile unless that is
  the generic profile (which says nothing of the model). No model, nothing learned.
- **The evidence**: the model's latest `RECENT_ATTEMPTS` hard-reset attempts
  (power-cycle-hold, running-hold) that ended `reset_verified` or `not_reset`. Other
  outcomes say nothing about the hold: a unit that never came back, the wrong unit, a fault.
- **Per target hold**: the units verified at it (distinct units: by MAC, else serial, else
  their first job) and its attempts, verified or not.
- **Sure**: a hold at which at least `min_units` units verified and at least `SURE_SHARE`
  (90 %) of its attempts verified.
- **The learned start**: the shortest sure hold, never below the floor and never above the
  hard press limit (60 s). The floor is the low end of the vendor's documented window, of the
  model's shipped profile if rig has one, else of the bay's profile; a bay whose config sets
  its own `hold_s` below that window (a benchmark, a lab that chose so) lowers the floor to
  that `hold_s`.
- **No sure hold**: the bay's `hold_s`, as without learning.

One indexed query per unit (RecordStore.hold_attempts), made once the unit is known and
before the press (rig.procedures.bay, `plan_hold`).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rig.config import BayConfig
from rig.hardware.base import MAX_PRESS_S
from rig.job import HARD_PROCEDURES, Unit
from rig.outcomes import Outcome
from rig.profiles import GENERIC, Profile, all_profiles, get_profile
from rig.records.store import RecordStore

log = logging.getLogger(__name__)

#: How many of a model's latest attempts speak for it: a lot's recent units, not last year's.
RECENT_ATTEMPTS = 50
#: The share of a hold's recent attempts that must have verified for it to be sure.
SURE_SHARE = 0.9
#: The outcomes that say whether a hold was long enough.
HOLD_OUTCOMES = (Outcome.RESET_VERIFIED.value, Outcome.NOT_RESET.value)
#: The plan's basis when nothing was learned: the bay's hold_s (its profile's, or its own).
PROFILE_BASIS = "profile"


@dataclass(frozen=True)
class HoldRecord:
    """What a model's recent attempts say of one target hold."""

    hold_s: float
    units_verified: int  # distinct units verified at this hold
    units_tried: int  # distinct units with an attempt at this hold
    attempts: int
    attempts_verified: int

    def sure(self, min_units: int) -> bool:
        share_ok = self.attempts_verified >= SURE_SHARE * self.attempts
        return self.units_verified >= min_units and share_ok

    def line(self, key: str) -> str:
        return (
            f"{self.hold_s:g} s verified {self.units_verified} of {self.units_tried} units of {key}"
        )


@dataclass(frozen=True)
class Learned:
    """A model's holds as its recent attempts tell them, shortest first."""

    key: str
    holds: tuple[HoldRecord, ...]
    min_units: int

    @property
    def sure(self) -> HoldRecord | None:
        """The shortest sure hold, if any."""
        return next((h for h in self.holds if h.sure(self.min_units)), None)

    def start_s(self, floor_s: float) -> float | None:
        """The hold a unit of this model starts at: the shortest sure hold within the floor
        and the hard press limit; None when no hold is sure yet."""
        sure = self.sure
        if sure is None:
            return None
        return min(MAX_PRESS_S, max(floor_s, sure.hold_s))

    def progress(self) -> str:
        """Why nothing is learned yet, for the plan's step and `rig profiles --learned`."""
        if not self.holds:
            return "no attempts yet"
        # The hold closest to sure: verified often enough, with the most units.
        candidates = [h for h in self.holds if h.attempts_verified >= SURE_SHARE * h.attempts]
        if not candidates:
            return f"no hold verified {SURE_SHARE:.0%} of its attempts yet"
        best = max(candidates, key=lambda h: h.units_verified)
        return (
            f"not enough units yet ({best.units_verified} of {self.min_units} at {best.hold_s:g} s)"
        )


@dataclass(frozen=True)
class HoldChoice:
    """The hold a unit starts at, why (the plan's `hold_basis`), and the step's details."""

    hold_s: float
    basis: str
    details: dict[str, Any]


def tally(key: str, rows: Iterable[dict[str, Any]], min_units: int) -> Learned:
    """The per-hold counts of a model's attempts (RecordStore.hold_attempts rows)."""
    attempts: dict[float, list[tuple[str, bool]]] = {}
    for row in rows:
        # One unit is one unit however many attempts it took: its MAC, else its serial, else
        # the chain of attempts it was (a unit the rig never named).
        unit = row["mac"] or row["serial"] or f"job {row['first_job_id'] or row['id']}"
        verified = row["outcome"] == Outcome.RESET_VERIFIED.value
        attempts.setdefault(round(float(row["target_hold_s"]), 3), []).append((unit, verified))
    holds = tuple(
        HoldRecord(
            hold_s=hold_s,
            units_verified=len({unit for unit, ok in tries if ok}),
            units_tried=len({unit for unit, _ in tries}),
            attempts=len(tries),
            attempts_verified=sum(ok for _, ok in tries),
        )
        for hold_s, tries in sorted(attempts.items())
    )
    return Learned(key, holds, min_units)


def model_key(bay: BayConfig, unit: Unit) -> str | None:
    """Whose records speak for this unit: its SADP model, else the bay's named profile."""
    if unit.model:
        return unit.model
    return bay.profile.model if bay.profile.model != GENERIC else None


def window_profile(key: str, fallback: Profile) -> Profile:
    """The shipped profile of the model, whose window is its documented one, else `fallback`."""
    return all_profiles().get(key, fallback)


def floor_s(bay: BayConfig, key: str) -> float:
    """The shortest hold learning may start a unit of `key` at in this bay."""
    low = window_profile(key, bay.profile).hold_window_s[0]
    if bay.hold_s_set:  # a hold below the window set on purpose is the bay's floor
        return min(low, bay.hold_s)
    return low


class HoldLearner:
    """Chooses each unit's starting hold from the records its station writes."""

    def __init__(
        self, store: RecordStore, *, min_units: int = 5, recent: int = RECENT_ATTEMPTS
    ) -> None:
        self.store = store
        self.min_units = min_units
        self.recent = recent

    def learned(self, key: str) -> Learned:
        rows = self.store.hold_attempts(
            key, procedures=HARD_PROCEDURES, outcomes=HOLD_OUTCOMES, limit=self.recent
        )
        return tally(key, rows, self.min_units)

    def choose(self, bay: BayConfig, unit: Unit) -> HoldChoice:
        """The hold this unit starts at in this bay (rig.procedures.bay calls it once the
        unit is known, before the press)."""
        key = model_key(bay, unit)
        if key is None:
            return self._profile(bay, why="model unknown")
        try:
            learned = self.learned(key)
        except sqlite3.Error as exc:
            # Learning is a saving, never a reason to stop a bay: the bay's hold still works.
            log.warning("holds of %s not read: %s", key, exc)
            return self._profile(bay, model=key, why=f"records not read: {exc}")
        floor = floor_s(bay, key)
        start = learned.start_s(floor)
        sure = learned.sure
        if start is None or sure is None:
            return self._profile(bay, model=key, why=learned.progress())
        basis = f"learned: {sure.line(key)}"
        if start != sure.hold_s:
            basis = f"learned: {start:g} s, the floor ({sure.line(key)})"
        details = {
            "hold_s": start,
            "basis": basis,
            "model": key,
            "floor_s": floor,
            "units_verified": sure.units_verified,
            "attempts": sure.attempts,
            "attempts_verified": sure.attempts_verified,
        }
        return HoldChoice(start, basis, details)

    def _profile(self, bay: BayConfig, *, why: str, model: str | None = None) -> HoldChoice:
        details = {"hold_s": bay.hold_s, "basis": PROFILE_BASIS, "model": model, "why": why}
        return HoldChoice(bay.hold_s, PROFILE_BASIS, details)


@dataclass(frozen=True)
class ModelHolds:
    """One row of `rig profiles --learned`: a model, its profile's hold and what is learned."""

    learned: Learned
    profile: Profile  # the model's shipped profile, else the generic one
    start_s: float | None  # the learned starting hold (the floor: the profile's window)

    def as_json(self) -> dict[str, Any]:
        sure = self.learned.sure
        return {
            "model": self.learned.key,
            "profile": self.profile.model,
            "profile_hold_s": self.profile.hold_s,
            "hold_window_s": list(self.profile.hold_window_s),
            "learned_hold_s": self.start_s,
            "units_verified": sure.units_verified if sure else None,
            "units_tried": sure.units_tried if sure else None,
            "attempts": sure.attempts if sure else None,
            "attempts_verified": sure.attempts_verified if sure else None,
            "status": "learned" if sure else self.learned.progress(),
            "holds": [
                {
                    "hold_s": h.hold_s,
                    "units_verified": h.units_verified,
                    "units_tried": h.units_tried,
                    "attempts": h.attempts,
                    "attempts_verified": h.attempts_verified,
                }
                for h in self.learned.holds
            ],
        }


def learned_models(store: RecordStore, *, min_units: int) -> list[ModelHolds]:
    """What the records have taught of every model with hard-reset attempts on record. The
    floor is the model's documented window (a bay's own lower hold_s is not known here)."""
    learner = HoldLearner(store, min_units=min_units)
    generic = get_profile(GENERIC)
    rows = []
    for key in store.hold_keys(procedures=HARD_PROCEDURES):
        if key == GENERIC:
            continue  # a unit of no known model: nothing is learned for it
        learned = learner.learned(key)
        profile = window_profile(key, generic)
        rows.append(ModelHolds(learned, profile, learned.start_s(profile.hold_window_s[0])))
    return rows
