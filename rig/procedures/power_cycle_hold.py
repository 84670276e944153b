"""The vendor's hard reset: power off, press and hold, power on, keep holding, release."""

from __future__ import annotations

from rig.job import ProcedureName, StepName
from rig.outcomes import Outcome
from rig.procedures.bay import BayProcedure
from rig.runner import JobContext, stop

#: The plunger's travel: a push solenoid ends its stroke in 10-30 ms, so power returns only once
#: the pin is really down, this long after the press began.
TRAVEL_S = 0.05


class PowerCycleHold(BayProcedure):
    name = ProcedureName.POWER_CYCLE_HOLD

    def reset(self, job: JobContext) -> None:
        plan, power, presser, clock = self.plan, self.bay.power, self.bay.presser, job.clock
        self.identify(job, cut=True)
        if self.before_cut is not None and self.verifier.needs_cut_slot:
            job.stage("waiting for a power-cut slot")
            self.before_cut()
        with job.step(StepName.POWER_OFF, off_s=plan.off_s, power=power.name) as d:
            power.off()
            cut_at = clock.monotonic()
            job.stage("power off", cut_at + plan.off_s)
            gone = self.verifier.wait_gone(plan.off_s)
            if gone:
                # The unit is known now (scan, switch port, or the one that vanished): its
                # hold is chosen while the power stays off, before the press is sized.
                self.plan_hold(d)
            clock.sleep_until(cut_at + plan.off_s)
            d["unit_gone"] = gone
            d["off_s"] = round(clock.monotonic() - cut_at, 4)
        if not gone:
            raise stop(Outcome.HARDWARE_FAULT, "power did not cut: the unit kept answering")
        self.rest(job)
        with job.step(StepName.PRESS, max_s=self.guard_s()):
            job.stage("pressing")
            press_sent = clock.monotonic()
            presser.press(self.guard_s())
            clock.sleep_until(press_sent + TRAVEL_S)
        with job.step(StepName.POWER_ON, power=power.name):
            on_sent = clock.monotonic()
            power.on()
            powered_at = clock.monotonic()
        # The hold runs from power-on to release. A presser that times itself (the board)
        # counts from its PRESS: the power-on came the plunger's travel (and whatever the host
        # took beyond it) later. A relay switches as its command goes out; a power that takes
        # a while (a switch port: PoE detection, then the poll that sees it deliver) is on
        # from when the rig saw it, which is also where the host's clock starts the hold.
        power_from = powered_at if power.on_delay_s else on_sent
        self.hold_and_release(job, hold_from=powered_at, press_to_hold_s=power_from - press_sent)
