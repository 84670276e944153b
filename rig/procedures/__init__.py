"""The procedures the job runner runs (rig.runner), one module each.

A bay's procedure presses its solenoid (power-cycle-hold, running-hold); the software reset
needs no bay. Adding one is a module here and an entry in `BAY_PROCEDURES` (or its own
command, as the software reset has).
"""

from __future__ import annotations

from rig.job import ProcedureName
from rig.procedures.bay import BayProcedure
from rig.procedures.power_cycle_hold import PowerCycleHold
from rig.procedures.running_hold import RunningHold

BAY_PROCEDURES: dict[ProcedureName, type[BayProcedure]] = {
    ProcedureName.POWER_CYCLE_HOLD: PowerCycleHold,
    ProcedureName.RUNNING_HOLD: RunningHold,
}

__all__ = ["BAY_PROCEDURES", "BayProcedure", "PowerCycleHold", "RunningHold"]
