"""What every procedure that presses a bay's reset pin shares: the solenoid's rest, identifying
the unit, the hold and its release, the wait for the unit and the verdict, the safe state.

Pure logic over the bay's interfaces (PowerSwitch, Presser, Verifier) and the job's Clock: it
never imports gpiozero, serial or requests, so tests run an 18 s hold in milliseconds.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from rig.errors import HardwareFault
from rig.hardware.base import MAX_PRESS_S
from rig.hardware.bay import BayHardware
from rig.job import Plan, StepName, Unit, Verdict
from rig.procedures.base import VerifiedProcedure
from rig.runner import JobContext
from rig.verify.base import Verifier

if TYPE_CHECKING:
    from rig.holds import HoldChoice

#: Chooses a unit's starting hold once it is known (rig.holds.HoldLearner.choose, bound to
#: the bay).
ChooseHold = Callable[[Unit], "HoldChoice"]

#: The pin goes down before the hold's clock starts; this much slack on top of hold_s lets the
#: normal release come first, while the backend's own guard still releases it if we hang.
GUARD_MARGIN_S = 1.5


class BayProcedure(VerifiedProcedure):
    """One attempt at resetting the unit in one bay (a strategy of rig.runner)."""

    def __init__(
        self,
        bay: BayHardware,
        verifier: Verifier,
        plan: Plan,
        *,
        before_cut: Callable[[], None] | None = None,
        choose_hold: ChooseHold | None = None,
    ) -> None:
        self.bay = bay
        self.verifier = verifier
        self.plan = plan
        # The station staggers the power cuts of its bays (identity by "the unit that vanished"
        # needs one cut at a time); a procedure that cuts blocks here until its bay's turn.
        self.before_cut = before_cut
        # Learned holds (rig.holds): the plan's hold is chosen per unit, once it is known.
        self.choose_hold = choose_hold
        self._hold_s: float | None = None

    # -- what the runner reads ------------------------------------------------------------

    @property
    def hold_s(self) -> float | None:
        return self._hold_s

    def run(self, job: JobContext) -> Verdict:
        self.reset(job)
        return self.verify(job)

    @abstractmethod
    def reset(self, job: JobContext) -> None:
        """The procedure's own steps, from identifying the unit to the release."""

    def make_safe(self, job: JobContext) -> None:
        with job.step(StepName.SAFE) as d:
            problems = self.bay.make_safe()
            d["safe"] = self.bay.is_safe()
            if problems:
                d["problems"] = problems

    # -- the shared steps -------------------------------------------------------------------

    def rest(self, job: JobContext) -> None:
        """Wait out what is left of the solenoid's rest. Called right before the press: the
        identification and the power-off of the next unit overlap the rest of the last."""
        rest_s = self.bay.presser.rest_remaining_s()
        if rest_s > 0:
            with job.step(StepName.COOLDOWN, rest_s=round(rest_s, 3)):
                job.stage("solenoid resting", job.clock.monotonic() + rest_s)
                job.clock.sleep(rest_s)

    def identify(self, job: JobContext, *, cut: bool, plan_hold: bool = False) -> None:
        """Who is in the bay, while it is up. `plan_hold`: the unit is as known as it will be
        before the press (no cut follows to name it), so its hold is chosen here too."""
        scanned = self.plan.scanned_serial
        with job.step(StepName.IDENTIFY, scanned_serial=scanned) as d:
            job.stage("identifying the unit")
            # A switch bay's port knows the MACs behind it (its forwarding table), before any
            # cut: the verifier takes the one on the port as the unit (a scan must agree). A
            # scanned unit already answering is looked for on the port by its own MAC.
            on_port = self.bay.power.port_macs(expect=self.verifier.mac_of(scanned))
            if on_port is not None:
                d.update(port=on_port.where, port_macs=list(on_port.macs), fdb=on_port.source)
                self.verifier.on_port(on_port.where, on_port.macs)
            unit = self.verifier.identify(scanned, cut=cut)
            d.update(unit.as_dict())
            if self.verifier.known_by is not None:
                d["known_by"] = self.verifier.known_by
            if plan_hold:
                self.plan_hold(d)

    def plan_hold(self, details: dict[str, Any]) -> None:
        """The hold this unit starts at, chosen from its model's records (rig.holds) and put
        in the plan (the runner records the change) and in the step's details. Called once
        the unit is known and before the press: the press's guard is sized from it."""
        if self.choose_hold is None:
            return
        choice = self.choose_hold(self.unit)
        self.plan = replace(self.plan, hold_s=choice.hold_s, hold_basis=choice.basis)
        details["plan_hold"] = choice.details

    def guard_s(self) -> float:
        # A power that takes a while to come back (a switch port waits for deliveringPower)
        # starts the hold later: the guard waits that much longer, never past the hard limit.
        on_delay_s = self.bay.power.on_delay_s
        return min(MAX_PRESS_S, self.plan.hold_s + GUARD_MARGIN_S + on_delay_s)

    def hold_and_release(
        self, job: JobContext, *, hold_from: float, press_to_hold_s: float
    ) -> None:
        """Hold until `hold_from + hold_s` (host clock), then release, with nothing in between:
        the release shares the hold's step so no record write (an fsync) can lengthen the hold.

        The hold on record is release minus `hold_from` by the host's clock; for a presser that
        times itself, its own press length minus `press_to_hold_s` (how long after the press
        the hold began: the press-to-power-on offset, 0 for a running hold).
        """
        presser, target_s = self.bay.presser, self.plan.hold_s
        with job.step(StepName.HOLD, target_hold_s=target_s) as d:
            job.stage("holding", hold_from + target_s)
            job.clock.sleep_until(hold_from + target_s)
            release = presser.release()
            released_at = job.clock.monotonic()
            if release.early:
                d["auto_released"] = True  # the hold ended earlier, at the guard's moment
            else:
                if release.timed_by == "board" and release.held_s is not None:
                    self._hold_s = round(release.held_s - press_to_hold_s, 4)
                    d["timed_by"] = "board"
                else:
                    self._hold_s = round(released_at - hold_from, 4)
                d["hold_s"] = self._hold_s
                d["hold_error_ms"] = round((self._hold_s - target_s) * 1000, 1)
            if release.held_s is not None:
                d["pressed_s"] = round(release.held_s, 4)
        if release.early:
            raise HardwareFault("the solenoid was released early by its safety guard")

    def verify(self, job: JobContext) -> Verdict:
        timeout_s = self.plan.boot_timeout_s
        with job.step(StepName.WAIT_BACK, boot_timeout_s=timeout_s) as d:
            job.stage("waiting for the unit to boot", job.clock.monotonic() + timeout_s)
            verdict = self.verifier.wait_back(timeout_s)
            d["back"] = verdict is None
        if verdict is not None:
            return verdict
        with job.step(StepName.VERIFY) as d:
            job.stage("checking factory state")
            verdict = self.verifier.judge()
            d.update(outcome=verdict.outcome.value, reason=verdict.reason, **verdict.evidence)
        return verdict
