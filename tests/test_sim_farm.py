"""The simulated lab farm (rig.sim.farm) in its own process, driven by a real station: two
board bays and a switch bay (snmpsim on 127.0.0.1) reset, units reloaded off the returns
pile as each bay comes ready, and the child gone after the farm stops."""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from rig.clock import SystemClock
from rig.config import parse_config
from rig.outcomes import Outcome
from rig.progress import Progress
from rig.records.store import RecordStore
from rig.sim.farm import FarmBay, SimFarm
from rig.station import Station
from tests.fakes import ScriptedOperator

FAST = {"reset_hold_s": 1.2, "boot_s": 0.5}
TIMING = {"off_s": 0.6, "hold_s": 1.5, "boot_timeout_s": 10}
NETWORK = {"sadp_poll_s": 0.1, "settle_s": 0.4}


def snmpsim_installed() -> bool:
    here = str(Path(sys.executable).parent)
    return shutil.which("snmpsim-command-responder", path=here) is not None


def gone(pid: int) -> bool:
    """No such process: reaped (a zombie would still answer signal 0)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def ended(pid: int) -> bool:
    """Gone, or a zombie waiting for whoever adopted it (not ours to reap)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


class Reloader(Progress):
    """The operator: the next unit off the pile the moment a bay says it is ready, `rounds`
    units per bay, then the end of the scans. Runs on the station's threads, so several
    bays reload at once."""

    def __init__(self, farm: SimFarm, rounds: dict[str, int]) -> None:
        super().__init__(SystemClock(), Console(quiet=True))
        self.farm = farm
        self.left = dict(rounds)
        self.lines: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self.scanned: list[tuple[str, str]] = []
        self._guard = threading.Lock()

    def stage(self, bay: str, name: str, deadline: float | None = None) -> None:
        super().stage(bay, name, deadline)
        if not name.startswith("ready"):
            return
        with self._guard:
            if self.left[bay] == 0:
                if not any(self.left.values()):
                    self.lines.put(None)
                    self.left = {b: -1 for b in self.left}
                return
            if self.left[bay] < 0:
                return
            self.left[bay] -= 1
        serial = self.farm.reload(bay)
        with self._guard:
            self.scanned.append((bay, serial))
        self.lines.put(f"{bay} {serial}")

    def scans(self) -> Iterator[str]:
        while (line := self.lines.get()) is not None:
            yield line


@pytest.mark.skipif(not snmpsim_installed(), reason="snmpsim (a dev dependency) not installed")
@pytest.mark.parametrize("processes", [1, 2])
def test_a_station_resets_board_and_switch_bays_of_the_farm(tmp_path: Path, processes: int) -> None:
    """With two processes the board bays run in one, the switch bay in the other: its
    camera answers the probes the first one's network hands on."""
    bays = [
        FarmBay("A", "board", **FAST),
        FarmBay("B", "board", **FAST),
        FarmBay("C", "switch", **FAST),
    ]
    with SimFarm(bays, workdir=tmp_path / "farm", processes=processes) as farm:
        assert len(farm.pids) == processes
        pids = [*farm.pids, *farm.agent_pids.values()]
        assert farm.placement["C"] == {
            "power": {"switch": "sw1", "port": 1},
            "presser": {"board": "p0", "channel": 1},
        }
        assert set(farm.boards) == {"b0", "p0"}
        assert farm.target.startswith("127.0.0.1:")
        text = farm.rig_toml(
            **TIMING, profile="DS-2CD2143G2-I", network=NETWORK, station="farm-test"
        )
        config = parse_config(text, "farm rig.toml")
        assert config.switches["sw1"].host == "127.0.0.1"
        # Two units in A and C: the second is the first again, reloaded (activated again)
        # after its reset, as the benchmark reloads each bay.
        lab = Reloader(farm, {"A": 2, "B": 1, "C": 2})
        station = Station(
            config,
            clock=SystemClock(),
            data_dir=tmp_path / "records",
            operator=ScriptedOperator(),
            scans=lab.scans(),
            progress=lab,
            retry=False,
        )
        station.run()
        outcomes = sorted((unit[-1].bay, unit[-1].result.outcome) for unit in station.units)
        assert outcomes == [
            ("A", Outcome.RESET_VERIFIED),
            ("A", Outcome.RESET_VERIFIED),
            ("B", Outcome.RESET_VERIFIED),
            ("C", Outcome.RESET_VERIFIED),
            ("C", Outcome.RESET_VERIFIED),
        ]
        assert sorted(lab.scanned)[0] == ("A", "AAWRJ12345001")
        with RecordStore(tmp_path / "records") as store:
            methods = {
                (job["bay"], e.get("method"))
                for job in store.jobs()
                for e in job["evidence"]
                if e["check"] == "identity"
            }
        assert ("C", "switch port") in methods  # the switch learned the unit's MAC on port 1
        assert farm.camera_state("C")["resets"] == 2
        assert farm.cpu_s() > 0
    assert all(gone(pid) for pid in pids)


def test_the_child_is_reaped_after_an_exception_in_the_with_block(tmp_path: Path) -> None:
    farm = SimFarm([FarmBay("A", **FAST)], workdir=tmp_path)
    with pytest.raises(RuntimeError, match="the station broke"), farm:
        pid = farm.pid
        assert farm.reload("A") == "AAWRJ12345001"
        raise RuntimeError("the station broke")
    assert not farm.running
    assert gone(pid)
    farm.stop()  # idempotent


def test_the_farm_ends_when_its_parent_dies_without_stopping_it(tmp_path: Path) -> None:
    """A parent killed mid-run never calls stop(): the child sees its stdin close and ends."""
    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from rig.sim.farm import FarmBay, SimFarm\n"
        f"farm = SimFarm([FarmBay('A')], workdir=Path({str(tmp_path)!r})).start()\n"
        "print(farm.pid, flush=True)\n"
        "os._exit(0)\n"
    )
    parent = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    pid = int(parent.stdout.split()[-1])
    deadline = time.monotonic() + 60  # a bound on a hang, not a timing under test
    while not ended(pid):
        assert time.monotonic() < deadline, f"farm child {pid} outlived its parent"
        time.sleep(0.1)


def test_a_farm_that_cannot_start_leaves_no_child(tmp_path: Path) -> None:
    farm = SimFarm([FarmBay("A", spec={"mac": "not a mac"})], workdir=tmp_path)
    with pytest.raises(RuntimeError, match="mac"):
        farm.start()
    assert not farm.running
    assert "not a mac" in farm.log_paths[0].read_text()


def test_bays_are_placed_on_boards_and_switch_ports() -> None:
    bays = [FarmBay(f"S{i}", "switch") for i in range(17)] + [FarmBay("A"), FarmBay("B")]
    farm = SimFarm(bays, workdir=Path("/nonexistent"))  # not started: the plan only
    assert farm.placement["S15"]["power"] == {"switch": "sw1", "port": 16}
    assert farm.placement["S16"]["power"] == {"switch": "sw2", "port": 1}
    assert farm.placement["S16"]["presser"] == {"board": "p4", "channel": 1}
    assert farm.placement["B"] == {
        "power": {"board": "b0", "channel": 2},
        "presser": {"board": "b0", "channel": 2},
    }
    # Over two processes: a switch's bays stay together, a board's too.
    split = SimFarm(bays, workdir=Path("/nonexistent"), processes=2).shards
    assert [[b.name for b in shard] for shard in split] == [
        [f"S{i}" for i in range(16)],
        ["A", "B", "S16"],
    ]
    with pytest.raises(ValueError, match="distinct"):
        SimFarm([FarmBay("A"), FarmBay("A")], workdir=Path("/nonexistent"))
