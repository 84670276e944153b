"""The running hold: with the unit powered, hold the reset pin `hold_s`, release, verify.

There is no power cut, so nothing vanishes to name the unit: it is the one answering before
the press, or the one that goes down after the release and comes back (rig.verify.network).
"""

from __future__ import annotations

from rig.job import ProcedureName, StepName
from rig.procedures.bay import BayProcedure
from rig.runner import JobContext


class RunningHold(BayProcedure):
    name = ProcedureName.RUNNING_HOLD

    def reset(self, job: JobContext) -> None:
        self.identify(job, cut=False, plan_hold=True)
        self.rest(job)
        with job.step(StepName.PRESS, max_s=self.guard_s()):
            job.stage("pressing")
            down_at = job.clock.monotonic()  # the pin goes down at once; the hit is hold
            self.bay.presser.press(self.guard_s())
        # There is no power-on: the hold counts from the press, on either clock.
        self.hold_and_release(job, hold_from=down_at, press_to_hold_s=0.0)
