"""Table 1: how exactly the hold is applied, on mock pins and through the simulated board,
measured from the actuators' own change times (relay back on -> pin up)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from gpiozero.pins.mock import MockFactory, MockPWMPin

from rig.clock import SystemClock
from rig.hardware.bay import BayHardware
from rig.hardware.board import BoardLink, BoardPowerSwitch, BoardPresser
from rig.hardware.gpio import GpioRelay, GpioSolenoid
from rig.job import Plan, ProcedureName, Unit, Verdict
from rig.outcomes import Outcome
from rig.procedures import BAY_PROCEDURES
from rig.records.store import RecordStore
from rig.runner import JobRunner
from rig.sim.board import SimBoard
from rig.verify.base import Verifier


class _NoVerify(Verifier):
    """Hold precision needs no camera: every check passes at once."""

    def identify(self, scanned_serial: str | None, *, cut: bool = True) -> Unit:
        return self.unit

    def wait_gone(self, min_wait_s: float) -> bool:
        return True

    def wait_back(self, timeout_s: float) -> Verdict | None:
        return None

    def judge(self) -> Verdict:
        return Verdict(Outcome.RESET_VERIFIED, "benchmark")


def _one_job(runner: JobRunner, bay: BayHardware, plan: Plan) -> None:
    """One job through the job runner, as `rig reset` runs it (records included)."""
    procedure = BAY_PROCEDURES[plan.procedure](bay, _NoVerify(), plan)
    runner.run(procedure, bay=bay.name, profile="benchmark")


def _runner() -> tuple[JobRunner, RecordStore]:
    store = RecordStore(Path(tempfile.mkdtemp(prefix="rig-bench-")))
    return JobRunner(store, SystemClock(), station="benchmark"), store


# -- 1. hold precision ------------------------------------------------------------------------


def hold_on_mock_pins(presses: int, hold_s: float) -> list[float]:
    """Errors (ms) of the applied hold: relay pin back to de-energised -> solenoid pin to 0."""
    factory = MockFactory(pin_class=MockPWMPin)
    clock = SystemClock()
    pins = [(17, 27), (22, 23), (5, 6), (12, 13)]  # four bays, so no press waits out a rest
    bays = [
        BayHardware(
            f"B{i}",
            GpioRelay(r, active_high=False, pin_factory=factory),
            GpioSolenoid(s, clock, pin_factory=factory),
        )
        for i, (r, s) in enumerate(pins)
    ]
    plan = Plan(ProcedureName.POWER_CYCLE_HOLD, off_s=0.2, hold_s=hold_s, boot_timeout_s=5)
    errors = []
    runner, store = _runner()
    for n in range(presses):
        bay = bays[n % len(bays)]
        relay, solenoid = factory.pin(pins[n % 4][0]), factory.pin(pins[n % 4][1])
        relay.clear_states()
        solenoid.clear_states()
        base_relay, base_solenoid = relay._last_change, solenoid._last_change
        _one_job(runner, bay, plan)
        power_on = base_relay + sum(s.timestamp for s in relay.states[:3])  # cut, then back on
        release = base_solenoid + sum(s.timestamp for s in solenoid.states)  # last change: up
        errors.append((release - power_on - hold_s) * 1000)
    for bay in bays:
        bay.close()
    store.close()
    return errors


def hold_on_sim_board(presses: int, hold_s: float) -> list[float]:
    """The same through the firmware's logic behind a pty, timed by the board's own pins."""
    changes: list[tuple[float, int, bool, bool]] = []
    clock = SystemClock()
    plan = Plan(ProcedureName.POWER_CYCLE_HOLD, off_s=0.2, hold_s=hold_s, boot_timeout_s=5)
    errors = []
    runner, store = _runner()
    with store, SimBoard(channels=4) as board:
        board.add_listener(
            lambda ch: changes.append(
                (time.monotonic(), ch, board.power_is_on(ch), board.pin_is_down(ch))
            )
        )
        with BoardLink("bench", board.port) as link:
            bays = [
                BayHardware(f"ch{ch}", BoardPowerSwitch(link, ch), BoardPresser(link, ch, clock))
                for ch in range(1, 5)
            ]
            for n in range(presses):
                ch = n % 4 + 1
                changes.clear()
                _one_job(runner, bays[ch - 1], plan)
                time.sleep(0.05)
                ours = [c for c in changes if c[1] == ch]
                power_on = next(t for t, _, on, down in ours if on and down)
                release = next(t for t, _, on, down in ours if t > power_on and not down)
                errors.append((release - power_on - hold_s) * 1000)
    return errors
