"""Holds learned per model (rig.holds, issue 17): a lot of a model that needs the longer hold
stops paying the failed short attempt once enough of its units proved the longer one; never
below the floor, never before enough units, one model's lesson never another's; the plan on
record says why; `rig profiles --learned`; `learn_holds = false` keeps the old behaviour.

Most runs are on the fake clock and gpiozero's mock pins: a unit here is a simulated camera's
spec (CameraSpec.sample) whose reset is judged from the bay's pins themselves, the way the
simulated camera judges it (held from power-up at least `reset_hold_s`). One test runs the
station against real simulated cameras, in real time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from rig.cli import main
from rig.clock import FakeClock, SystemClock
from rig.config import BayConfig, RigConfig, parse_config
from rig.errors import ConfigError
from rig.hardware.bay import BayHardware
from rig.hardware.factory import build_bay
from rig.holds import HoldLearner, HoldRecord, Learned, tally
from rig.job import JobReport, Plan, ProcedureName, Result, Unit, Verdict
from rig.jobs import run_unit
from rig.outcomes import Outcome
from rig.profiles import all_profiles
from rig.records.store import RecordStore
from rig.reset import reset_bays
from rig.runner import JobRunner
from rig.sim.bench import gpio_bay, rig_toml, wire_to_pins
from rig.sim.camera import CameraSpec, SimCamera
from rig.sim.network import SimNetwork
from rig.station import Station
from rig.verify.base import Verifier
from tests.fakes import ScriptedOperator

RELAY, SOLENOID = 17, 27
MODEL = "DS-2CD2143G2-I"  # the bay's profile, and the simulated camera's default model
OTHER = "DS-2CD2343G2-I"


# -- a bay on mock pins, and units judged by its pins ------------------------------------------


class BayPins:
    """The bay's relay and solenoid pins as the unit in the bay feels them: when power came
    back, when the reset pin went down and when it came up, on the fake clock."""

    def __init__(
        self, factory: MockFactory, clock: FakeClock, relay: int = RELAY, solenoid: int = SOLENOID
    ) -> None:
        self.relay, self.solenoid = factory.pin(relay), factory.pin(solenoid)
        for pin in (self.relay, self.solenoid):
            pin.clear_states()  # both histories count from this one moment
        self.origin = clock.monotonic()

    def _edges(self, pin: Any) -> list[tuple[float, bool]]:
        t, last, edges = self.origin, None, []
        for state in pin.states:  # each change's time is relative to the one before
            t += state.timestamp
            on = bool(state.state)
            if on != last:
                edges.append((t, on))
                last = on
        return edges

    def held_s(self) -> float:
        """The last press, from power-up (or from the press, if the power never went) to the
        release. The relay is active-low on an NC contact: a high pin feeds the camera."""
        solenoid = self._edges(self.solenoid)
        released = max(t for t, down in solenoid if not down)
        pressed = max(t for t, down in solenoid if down and t < released)
        powered = max((t for t, on in self._edges(self.relay) if on and t < released), default=0)
        return released - max(pressed, powered)


class PinnedUnit(Verifier):
    """A unit of `spec` in the bay: SADP names its model, MAC and serial before the cut; it
    comes back and is in factory state only when the pin was held long enough."""

    def __init__(self, spec: CameraSpec, pins: BayPins) -> None:
        super().__init__()
        self.spec = spec
        self.pins = pins
        self.reset = False

    def identify(self, scanned_serial: str | None, *, cut: bool = True) -> Unit:
        self.unit = Unit(
            serial=self.spec.device_sn, mac=self.spec.mac, model=self.spec.model, activated=True
        )
        return self.unit

    def wait_gone(self, min_wait_s: float) -> bool:
        return True

    def wait_back(self, timeout_s: float) -> Verdict | None:
        self.reset = self.pins.held_s() >= self.spec.reset_hold_s - 1e-6
        return None

    def judge(self) -> Verdict:
        if self.reset:
            return Verdict(Outcome.RESET_VERIFIED, "inactive after the reset")
        return Verdict(Outcome.NOT_RESET, "still activated")


def config_for(
    *bays: dict[str, Any], station: dict[str, Any] | None = None, target: str = "127.0.0.1:9"
) -> RigConfig:
    return parse_config(rig_toml(target=target, bays=list(bays), station_keys=station))


def bay_keys(name: str = "A", **keys: Any) -> dict[str, Any]:
    return gpio_bay(name, relay=RELAY, solenoid=SOLENOID, profile=MODEL, **keys)


class Bench:
    """One bay on mock pins and the fake clock, its records, and units run through it as
    `rig reset --retry` and the station run them (rig.jobs.run_unit)."""

    def __init__(self, factory: MockFactory, clock: FakeClock, store: RecordStore) -> None:
        self.factory, self.clock, self.store = factory, clock, store
        self.pins = BayPins(factory, clock)
        self.runner = JobRunner(store, clock, station="lab-1")
        self._hardware: dict[str, BayHardware] = {}

    def hw(self, bay: BayConfig, config: RigConfig) -> BayHardware:
        if bay.name not in self._hardware:
            self._hardware[bay.name] = build_bay(
                bay, config, self.clock, ScriptedOperator(), pin_factory=self.factory
            )
        return self._hardware[bay.name]

    def units(
        self,
        specs: list[CameraSpec],
        *,
        config: RigConfig,
        learner: HoldLearner | None,
        bay: BayConfig | None = None,
        qa: Any = None,
    ) -> list[list[JobReport]]:
        bay = bay or config.bays[0]
        hw = self.hw(bay, config)
        done = []
        for spec in specs:
            done.append(
                run_unit(
                    self.runner,
                    bay=bay,
                    hw=hw,
                    make_verifier=lambda spec=spec: PinnedUnit(spec, self.pins),
                    scanned_serial=None,
                    retry=True,
                    learner=learner,
                    qa=qa,
                )
            )
        return done

    def close(self) -> None:
        for hw in self._hardware.values():
            hw.close()


@pytest.fixture
def bench(pins: MockFactory, clock: FakeClock, data_dir: Path) -> Iterator[Bench]:
    with RecordStore(data_dir) as store:
        bench = Bench(pins, clock, store)
        yield bench
        bench.close()


def lot(first: int, n: int, **spec: Any) -> list[CameraSpec]:
    """`n` distinct units (MAC, serial) of one model, numbered from `first`."""
    return [CameraSpec.sample(i, **spec) for i in range(first, first + n)]


def targets(unit: list[JobReport], store: RecordStore) -> list[float]:
    return [store.job(r.job_id)["target_hold_s"] for r in unit]


def step(job: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in job["steps"] if s["name"] == name)


# -- the lot -----------------------------------------------------------------------------------


def test_a_lot_needing_the_longer_hold_stops_paying_the_short_attempt(bench: Bench) -> None:
    config = config_for(bay_keys())  # the profile's 18 s, escalating to 30 s
    learner = HoldLearner(bench.store, min_units=5)
    units = bench.units(lot(1, 8, reset_hold_s=25.0), config=config, learner=learner)

    assert all(u[-1].result.outcome is Outcome.RESET_VERIFIED for u in units)
    # Five units prove 30 s (each paying the failed 18 s first); the rest start there.
    assert [len(u) for u in units] == [2, 2, 2, 2, 2, 1, 1, 1]
    assert [targets(u, bench.store) for u in units[4:6]] == [[18.0, 30.0], [30.0]]
    assert [r.result.hold_s for r in units[5]] == [pytest.approx(30.0)]

    # The plan on record says why, with the target it chose; the power-off step shows it.
    sixth = bench.store.job(units[5][0].job_id)
    assert sixth["plan"]["hold_s"] == 30.0 == sixth["target_hold_s"]
    basis = f"learned: 30 s verified 5 of 5 units of {MODEL}"
    assert sixth["plan"]["hold_basis"] == basis
    chosen = step(sixth, "power_off")["details"]["plan_hold"]
    assert (chosen["hold_s"], chosen["basis"], chosen["model"]) == (30.0, basis, MODEL)
    assert (chosen["units_verified"], chosen["attempts"], chosen["floor_s"]) == (5, 5, 15.0)
    assert step(sixth, "hold")["details"]["target_hold_s"] == 30.0
    # The press's guard was sized for the learned hold, not the profile's.
    assert step(sixth, "press")["details"]["max_s"] > 30.0

    # Not before enough units: the fifth still started at the profile's hold, and says why.
    fifth = bench.store.job(units[4][0].job_id)
    assert fifth["plan"]["hold_basis"] == "profile"
    why = step(fifth, "power_off")["details"]["plan_hold"]["why"]
    assert why == "not enough units yet (4 of 5 at 30 s)"
    retry = bench.store.job(units[4][1].job_id)
    assert retry["plan"]["hold_basis"] == "escalation: attempt 1 at 18 s ended not_reset"


def test_learn_holds_off_keeps_every_unit_paying_the_short_attempt(bench: Bench) -> None:
    config = config_for(bay_keys(), station={"learn_holds": False})
    assert config.station.learn_holds is False
    units = bench.units(lot(1, 7, reset_hold_s=25.0), config=config, learner=None)
    assert [len(u) for u in units] == [2] * 7
    assert {tuple(targets(u, bench.store)) for u in units} == {(18.0, 30.0)}
    first = bench.store.job(units[-1][0].job_id)
    assert first["plan"]["hold_basis"] is None
    assert "plan_hold" not in step(first, "power_off")["details"]


def test_one_models_lesson_leaves_another_model_at_its_profile(bench: Bench) -> None:
    config = config_for(bay_keys())
    learner = HoldLearner(bench.store, min_units=5)
    bench.units(lot(1, 5, reset_hold_s=25.0), config=config, learner=learner)
    other = CameraSpec.sample(
        50, model=OTHER, device_sn=f"{OTHER}20230815AAWRJ12399999", reset_hold_s=16.0
    )
    [unit] = bench.units([other], config=config, learner=learner)
    assert [targets(unit, bench.store), [r.result.outcome for r in unit]] == [
        [18.0],
        [Outcome.RESET_VERIFIED],
    ]
    job = bench.store.job(unit[0].job_id)
    assert job["model"] == OTHER and job["plan"]["hold_basis"] == "profile"
    assert step(job, "power_off")["details"]["plan_hold"]["why"] == "no attempts yet"
    # ... while the first model's next unit starts at its 30 s.
    [again] = bench.units(lot(60, 1, reset_hold_s=25.0), config=config, learner=learner)
    assert targets(again, bench.store) == [30.0]


def test_never_below_the_window_unless_the_bay_chose_a_shorter_hold(bench: Bench) -> None:
    # A lab bay set to 12 s on purpose (below the 15-20 s window) proves 12 s for the model.
    config = config_for(
        bay_keys("A", hold_s=12.0, escalation_holds_s=[12.0, 30.0]),
        gpio_bay("B", relay=5, solenoid=6, profile=MODEL),  # the profile's 18 s
    )
    lab, plain = config.bays
    assert (lab.hold_s_set, plain.hold_s_set) == (True, False)
    learner = HoldLearner(bench.store, min_units=5)
    units = bench.units(lot(1, 6, reset_hold_s=10.0), config=config, learner=learner, bay=lab)
    assert [targets(u, bench.store) for u in units] == [[12.0]] * 6
    assert bench.store.job(units[-1][0].job_id)["plan"]["hold_basis"].startswith("learned: 12 s")

    # A bay that did not choose so starts at the window's low end, never at the lab's 12 s.
    bench.pins = BayPins(bench.factory, bench.clock, relay=5, solenoid=6)  # bay B's
    [unit] = bench.units(lot(20, 1, reset_hold_s=10.0), config=config, learner=learner, bay=plain)
    job = bench.store.job(unit[0].job_id)
    assert job["target_hold_s"] == 15.0 and unit[0].result.hold_s == pytest.approx(15.0)
    assert job["plan"]["hold_basis"] == (
        f"learned: 15 s, the floor (12 s verified 6 of 6 units of {MODEL})"
    )


def test_escalation_goes_on_from_the_hold_the_first_attempt_used(bench: Bench) -> None:
    config = config_for(bay_keys(escalation_holds_s=[18.0, 30.0, 45.0]))
    learner = HoldLearner(bench.store, min_units=5)
    bench.units(lot(1, 5, reset_hold_s=25.0), config=config, learner=learner)
    # A stiffer unit of the same lot: 30 s is not enough, and 18 s is not tried again.
    [stiff] = bench.units(lot(10, 1, reset_hold_s=40.0), config=config, learner=learner)
    assert targets(stiff, bench.store) == [30.0, 45.0]
    assert stiff[-1].result.outcome is Outcome.RESET_VERIFIED


def test_a_learned_start_below_the_bays_hold_retries_at_the_bays_hold(bench: Bench) -> None:
    # 15 s is sure for the model (from a bay set to 15 s); this bay's own hold is 18 s.
    config = config_for(bay_keys(hold_s=15.0, escalation_holds_s=[30.0]))
    bench.units(lot(1, 5, reset_hold_s=14.0), config=config, learner=None)
    plain = config_for(bay_keys()).bays[0]
    learner = HoldLearner(bench.store, min_units=5)
    [unit] = bench.units(lot(10, 1, reset_hold_s=17.0), config=config, learner=learner, bay=plain)
    assert targets(unit, bench.store) == [15.0, 18.0]


class FakeQa:
    """A QA pass that leaves the unit possibly activated: the bay's hard reset must follow."""

    class request:  # QaRun.request, as run_unit reads it
        @staticmethod
        def wanted(bay: BayConfig) -> bool:
            return True

    def run(self, runner: JobRunner, **kwargs: Any) -> tuple[JobReport, bool]:
        result = Result(Outcome.NOT_RESET, "restore not proven", Unit(), None, [], [], qa="passed")
        return JobReport(0, "A", result), True


def test_the_qa_re_reset_uses_the_hold_that_verified(bench: Bench) -> None:
    config = config_for(bay_keys())
    learner = HoldLearner(bench.store, min_units=5)
    bench.units(lot(1, 5, reset_hold_s=25.0), config=config, learner=learner)
    [unit] = bench.units(lot(10, 1, reset_hold_s=25.0), config=config, learner=learner, qa=FakeQa())
    learned, qa, again = unit
    assert qa.result.qa == "passed"
    assert targets([learned, again], bench.store) == [30.0, 30.0]
    assert again.result.outcome is Outcome.RESET_VERIFIED
    plan = bench.store.job(again.job_id)["plan"]
    assert plan["hold_basis"] == f"the hold that verified job {learned.job_id}"


def test_a_running_hold_chooses_at_identify(bench: Bench) -> None:
    config = config_for(bay_keys(procedure="running-hold", hold_s=10.0, escalation_holds_s=[25]))
    learner = HoldLearner(bench.store, min_units=2)
    units = bench.units(lot(1, 3, reset_hold_s=20.0), config=config, learner=learner)
    assert [targets(u, bench.store) for u in units] == [[10.0, 25.0], [10.0, 25.0], [25.0]]
    job = bench.store.job(units[-1][0].job_id)
    assert step(job, "identify")["details"]["plan_hold"]["hold_s"] == 25.0
    assert units[-1][0].result.hold_s == pytest.approx(25.0)


# -- the rule, on records written directly -------------------------------------------------------


def attempt(
    store: RecordStore,
    *,
    hold_s: float,
    outcome: Outcome,
    unit: str,
    model: str | None = MODEL,
    profile: str = MODEL,
    procedure: ProcedureName = ProcedureName.POWER_CYCLE_HOLD,
) -> None:
    plan = Plan(procedure, off_s=5.0, hold_s=hold_s, boot_timeout_s=180.0)
    job = store.start_job(station="s", bay="A", profile=profile, plan=plan, wall=0.0)
    result = Result(outcome, "-", Unit(serial=unit, model=model), hold_s, [], [])
    store.finish_job(job, result, 1.0)


def seed(store: RecordStore, hold_s: float, verified: int, failed: int = 0, **kw: Any) -> None:
    for i in range(verified):
        attempt(store, hold_s=hold_s, outcome=Outcome.RESET_VERIFIED, unit=f"V{hold_s}-{i}", **kw)
    for i in range(failed):
        attempt(store, hold_s=hold_s, outcome=Outcome.NOT_RESET, unit=f"F{hold_s}-{i}", **kw)


UNIT = Unit(serial="DS-2CD2143G2-I20230815AAWRJ12345001", model=MODEL)


@pytest.fixture
def store(data_dir: Path) -> Iterator[RecordStore]:
    with RecordStore(data_dir) as store:
        yield store


@pytest.fixture
def plain_bay() -> BayConfig:
    return config_for(bay_keys()).bays[0]


def test_a_hold_is_sure_at_ninety_percent_of_its_attempts(
    store: RecordStore, plain_bay: BayConfig
) -> None:
    learner = HoldLearner(store, min_units=5)
    seed(store, 18.0, verified=8, failed=1)  # 89 %: not sure
    seed(store, 30.0, verified=5)
    assert learner.choose(plain_bay, UNIT).hold_s == 30.0
    seed(store, 18.0, verified=1)  # 9 of 10: sure, and the shorter
    assert learner.choose(plain_bay, UNIT).hold_s == 18.0


def test_outcomes_that_say_nothing_of_the_hold_do_not_count(
    store: RecordStore, plain_bay: BayConfig
) -> None:
    learner = HoldLearner(store, min_units=5)
    seed(store, 30.0, verified=5)
    for outcome in (Outcome.NO_RESPONSE, Outcome.WRONG_DEVICE, Outcome.HARDWARE_FAULT):
        attempt(store, hold_s=30.0, outcome=outcome, unit="X")
    seed(store, 18.0, verified=5, procedure=ProcedureName.SOFTWARE_FULL)  # no hold at all
    assert learner.choose(plain_bay, UNIT).hold_s == 30.0
    assert learner.learned(MODEL).sure == HoldRecord(30.0, 5, 5, 5, 5)


def test_only_the_latest_attempts_speak_for_the_model(
    store: RecordStore, plain_bay: BayConfig
) -> None:
    seed(store, 18.0, verified=5)  # an older lot that needed 18 s
    seed(store, 30.0, verified=6)
    assert HoldLearner(store, min_units=5).choose(plain_bay, UNIT).hold_s == 18.0
    assert HoldLearner(store, min_units=5, recent=6).choose(plain_bay, UNIT).hold_s == 30.0


def test_one_unit_verified_twice_is_one_unit(store: RecordStore, plain_bay: BayConfig) -> None:
    for _ in range(5):
        attempt(store, hold_s=30.0, outcome=Outcome.RESET_VERIFIED, unit="SAME")
    learner = HoldLearner(store, min_units=2)
    choice = learner.choose(plain_bay, UNIT)
    assert (choice.hold_s, choice.basis) == (18.0, "profile")
    assert choice.details["why"] == "not enough units yet (1 of 2 at 30 s)"


def test_whose_records_a_unit_of_unknown_model_reads(store: RecordStore) -> None:
    # No SADP model: the bay's profile names the model; the generic profile names none.
    seed(store, 30.0, verified=5, model=None, profile=MODEL)
    learner = HoldLearner(store, min_units=5)
    named = config_for(bay_keys()).bays[0]
    assert learner.choose(named, Unit(serial="X")).hold_s == 30.0
    generic_bay = config_for(gpio_bay("A", relay=RELAY, solenoid=SOLENOID)).bays[0]
    seed(store, 30.0, verified=5, model=None, profile="hikvision-generic")
    choice = learner.choose(generic_bay, Unit(serial="X"))
    assert (choice.hold_s, choice.details["why"]) == (18.0, "model unknown")


def test_the_floor_is_the_window_of_the_units_own_model(
    store: RecordStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A model documented at 25-35 s, in bays of the 15-20 s profile: its window is the floor.
    shipped = all_profiles()
    wide = replace(shipped[OTHER], hold_window_s=(25.0, 35.0))
    monkeypatch.setattr("rig.holds.all_profiles", lambda: {**shipped, OTHER: wide})
    seed(store, 20.0, verified=5, model=OTHER, profile=MODEL)
    learner = HoldLearner(store, min_units=5)
    unit = Unit(serial="X", model=OTHER)
    plain = config_for(bay_keys()).bays[0]  # the profile's 18 s
    assert learner.choose(plain, unit).hold_s == 25.0
    chose_18 = config_for(bay_keys(hold_s=18.0)).bays[0]  # 18 s set on purpose: the floor
    assert learner.choose(chose_18, unit).hold_s == 20.0


def test_never_above_the_hard_press_limit() -> None:
    rows = [
        {"id": i, "first_job_id": None, "mac": None, "serial": f"U{i}", "target_hold_s": 75.0}
        | {"outcome": "reset_verified"}
        for i in range(5)
    ]
    learned = tally(MODEL, rows, min_units=5)
    assert learned.start_s(floor_s=15.0) == 60.0
    assert Learned(MODEL, (), 5).start_s(floor_s=15.0) is None


def test_the_learned_hold_is_one_index_walk(store: RecordStore) -> None:
    plan = store._db.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM jobs WHERE COALESCE(model, profile) = ?"
        " AND procedure IN (?, ?) AND outcome IN (?, ?) ORDER BY id DESC LIMIT 50",
        (MODEL, "power-cycle-hold", "running-hold", "reset_verified", "not_reset"),
    ).fetchall()
    [detail] = [row[3] for row in plan]
    assert "USING INDEX jobs_hold_key" in detail and "TEMP B-TREE" not in detail


# -- rig profiles --learned ------------------------------------------------------------------


def test_profiles_learned_shows_learned_and_still_learning_models(
    store: RecordStore, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(store, 18.0, verified=1, failed=5)
    seed(store, 30.0, verified=5)
    seed(store, 18.0, verified=3, model=OTHER, profile=OTHER)
    no_config = ["--config", str(tmp_path / "none.toml"), "--data-dir", str(data_dir)]

    assert main(["profiles", "--learned", *no_config]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if MODEL in line)
    assert "30 s" in row and "18 s" in row and "15–20 s" in row and "learned" in row
    assert "5 of 5 units" in row
    other = next(line for line in out.splitlines() if OTHER in line)
    assert "not enough units yet (3 of 5 at 18 s)" in other

    assert main(["profiles", "--learned", "--json", *no_config]) == 0
    rows = {r["model"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rows[MODEL]["learned_hold_s"] == 30.0 and rows[MODEL]["units_verified"] == 5
    assert rows[MODEL]["hold_window_s"] == [15.0, 20.0] and rows[MODEL]["profile_hold_s"] == 18.0
    assert rows[OTHER]["learned_hold_s"] is None
    assert rows[OTHER]["status"] == "not enough units yet (3 of 5 at 18 s)"


def test_profiles_learned_counts_units_as_the_config_says(
    store: RecordStore, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(store, 18.0, verified=3)
    path = tmp_path / "rig.toml"
    station = {"learn_min_units": 3, "data_dir": str(data_dir)}
    path.write_text(rig_toml(target="127.0.0.1:9", bays=[bay_keys()], station_keys=station))
    assert main(["profiles", "--learned", "--json", "--config", str(path)]) == 0
    [row] = map(json.loads, capsys.readouterr().out.splitlines())
    assert (row["learned_hold_s"], row["status"]) == (18.0, "learned")


# -- the config ---------------------------------------------------------------------------------


def test_the_config_keys_and_their_errors() -> None:
    default = config_for(bay_keys()).station
    assert (default.learn_holds, default.learn_min_units) == (True, 5)
    set_ = config_for(bay_keys(), station={"learn_holds": False, "learn_min_units": 12}).station
    assert (set_.learn_holds, set_.learn_min_units) == (False, 12)
    for key, value in (("learn_min_units", 1), ("learn_min_units", 1001), ("learn_holds", "yes")):
        with pytest.raises(ConfigError, match=rf"station\.{key}") as caught:
            config_for(bay_keys(), station={key: value})
        assert "\n" not in str(caught.value)
    with pytest.raises(ConfigError, match=r"station\.learn_min_units.*whole number"):
        config_for(bay_keys(), station={"learn_min_units": 2.5})


# -- rig reset and rig run use it ----------------------------------------------------------------


class BenchOperator(ScriptedOperator):
    """The operator of a manual-verify bench: the unit in the bay is back, and it is in factory
    state when the pins held it long enough (as `spec` says)."""

    def __init__(self, pins: BayPins, reset_hold_s: float) -> None:
        super().__init__()
        self.pins, self.reset_hold_s = pins, reset_hold_s

    def confirm(self, question: str) -> bool:
        self.told.append(question)
        if "factory state" in question:
            return self.pins.held_s() >= self.reset_hold_s - 1e-6
        return True


@pytest.mark.parametrize("learn", [True, False])
def test_rig_reset_retry_learns_from_its_records_unless_turned_off(
    learn: bool, pins: MockFactory, clock: FakeClock, data_dir: Path
) -> None:
    config = config_for(
        bay_keys(verify="manual"), station={"learn_holds": learn, "learn_min_units": 2}
    )
    bay_pins = BayPins(pins, clock)
    attempts = []
    for n in range(1, 4):
        spec = CameraSpec.sample(n, reset_hold_s=25.0)
        code = reset_bays(
            config,
            config.bays,
            clock=clock,
            data_dir=data_dir,
            scanned_serial=spec.device_sn[-13:],
            as_json=True,
            operator=BenchOperator(bay_pins, spec.reset_hold_s),
            pin_factory=pins,
            retry=True,
        )
        assert code == 0
        with RecordStore(data_dir) as store:
            attempts.append([j["target_hold_s"] for j in store.jobs() if j["attempt"] == 1][-1])
    # The manual verifier knows no model: the bay's profile names it.
    assert attempts == ([18.0, 18.0, 30.0] if learn else [18.0, 18.0, 18.0])


def test_the_station_starts_a_unit_at_its_models_learned_hold(
    lab: tuple[MockFactory, SimNetwork], tmp_path: Path
) -> None:
    factory, network = lab
    with RecordStore(tmp_path) as store:  # the model's last units: 2.6 s sure, 1.5 s not
        seed(store, 1.5, verified=0, failed=3)
        seed(store, 2.6, verified=3)
    camera = SimCamera(CameraSpec.sample(1, boot_s=0.3, reset_hold_s=2.0)).start()
    network.add(camera)
    wire_to_pins(camera, factory, relay=RELAY, solenoid=SOLENOID)
    text = rig_toml(
        target=network.target,
        station="lab-1",
        station_keys={"learn_min_units": 3},
        network={"sadp_poll_s": 0.1, "settle_s": 0.4},
        bays=[bay_keys(off_s=0.6, hold_s=1.5, escalation_holds_s=[1.5, 2.6], boot_timeout_s=6)],
    )
    station = Station(
        parse_config(text),
        clock=SystemClock(),
        data_dir=tmp_path,
        operator=ScriptedOperator(),
        scans=iter([camera.spec.device_sn[-13:]]),
        pin_factory=factory,
    )
    assert station.run() == 0
    [attempts] = station.units
    assert [a.result.outcome for a in attempts] == [Outcome.RESET_VERIFIED]
    assert attempts[0].result.hold_s == pytest.approx(2.6, abs=0.05)
    with RecordStore(tmp_path) as store:
        job = store.job(attempts[0].job_id)
    assert job["model"] == MODEL and job["target_hold_s"] == 2.6
    assert job["plan"]["hold_basis"] == f"learned: 2.6 s verified 3 of 3 units of {MODEL}"
    assert camera.in_factory_state
