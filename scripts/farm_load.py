"""What the simulated lab farm (rig.sim.farm) costs: its CPU idle, and while a real station
cycles every bay (units reloaded as soon as a bay is ready), with the station's own CPU.

    .venv/bin/python scripts/farm_load.py --bays 48 --idle 10 --cycle 60

Bays alternate board / switch. Prints one line per figure, CPU as a share of one core.
"""

from __future__ import annotations

import argparse
import queue
import socket
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console

from rig.clock import SystemClock
from rig.config import parse_config
from rig.progress import Progress
from rig.records.store import RecordStore
from rig.sim.farm import FarmBay, SimFarm
from rig.station import Station


def _sadp_sweep(target: str, probes: int) -> tuple[list[int], list[float]]:
    """Inquiries to the farm's SADP target (loopback): per probe, how many units answered
    within a second and how long after the probe the last answer came."""
    host, port = target.rsplit(":", 1)
    assert host == "127.0.0.1"
    probe = (
        b'<?xml version="1.0" encoding="utf-8"?><Probe><Uuid>'
        + str(uuid.uuid4()).upper().encode()
        + b"</Uuid><Types>inquiry</Types></Probe>"
    )
    counts, lasts = [], []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        for _ in range(probes):
            sent = time.monotonic()
            sock.sendto(probe, (host, int(port)))
            seen, last = 0, 0.0
            while (left := sent + 1.0 - time.monotonic()) > 0:
                sock.settimeout(left)
                try:
                    sock.recv(65535)
                except TimeoutError:
                    break
                seen, last = seen + 1, time.monotonic() - sent
            counts.append(seen)
            lasts.append(last)
    return counts, lasts


class _Operator:
    def tell(self, message: str) -> None:
        pass

    def wait_enter(self, message: str) -> None:
        pass

    def confirm(self, question: str) -> bool:
        return True


class _Reloader(Progress):
    """Reloads each bay the moment it is ready, until `stop` is set; then ends the scans
    once every bay is idle again."""

    def __init__(self, farm: SimFarm, bays: list[str]) -> None:
        super().__init__(SystemClock(), Console(quiet=True))
        self.farm = farm
        self.lines: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self.stop = threading.Event()
        self.busy = set(bays)
        self.started = 0
        self._guard = threading.Lock()

    def stage(self, bay: str, name: str, deadline: float | None = None) -> None:
        if not name.startswith("ready"):
            return
        with self._guard:
            if self.stop.is_set():
                self.busy.discard(bay)
                if not self.busy:
                    self.lines.put(None)
                return
            self.started += 1
        self.lines.put(f"{bay} {self.farm.reload(bay)}")

    def scans(self) -> Iterator[str]:
        while (line := self.lines.get()) is not None:
            yield line


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bays", type=int, default=48)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle measured")
    parser.add_argument("--cycle", type=float, default=60.0, help="seconds of cycling measured")
    parser.add_argument("--hold", type=float, default=1.5, help="the station's hold_s")
    parser.add_argument("--boot", type=float, default=0.5, help="the cameras' boot_s")
    parser.add_argument("--processes", type=int, default=1, help="farm children")
    parser.add_argument("--log", default="WARNING", help="the farm's log level (INFO: all)")
    args = parser.parse_args()
    bays = [
        FarmBay(
            f"{'B' if i % 2 == 0 else 'S'}{i + 1:02d}",
            "board" if i % 2 == 0 else "switch",
            reset_hold_s=round(args.hold * 0.8, 3),
            boot_s=args.boot,
        )
        for i in range(args.bays)
    ]
    workdir = Path(tempfile.mkdtemp(prefix="rig-farm-load-"))
    started = time.monotonic()
    with SimFarm(
        bays,
        workdir=workdir / "farm",
        processes=args.processes,
        log_level=args.log,
    ) as farm:
        print(f"farm of {len(farm.pids)} process(es), logs {[str(p) for p in farm.log_paths]}")
        print(f"farm of {args.bays} bays up in {time.monotonic() - started:.1f} s")
        before = farm.cpu_by_process()
        time.sleep(args.idle)
        after = farm.cpu_by_process()
        for name in after:
            share = (after[name] - before[name]) / args.idle
            print(f"idle: {name} {share * 100:.1f} % of a core")
        counts, lasts = _sadp_sweep(farm.target, 5)
        print(f"idle: SADP answers per probe {counts}, last after {max(lasts) * 1000:.0f} ms")
        text = farm.rig_toml(
            off_s=0.6,
            hold_s=args.hold,
            boot_timeout_s=60,
            network={"sadp_poll_s": 0.5, "settle_s": 0.5},
            station="farm-load",
        )
        lab = _Reloader(farm, [b.name for b in bays])
        station = Station(
            parse_config(text, "farm rig.toml"),
            clock=SystemClock(),
            data_dir=workdir / "records",
            operator=_Operator(),
            scans=lab.scans(),
            progress=lab,
            retry=False,
        )
        runner = threading.Thread(target=station.run, name="station")
        runner.start()
        time.sleep(5.0)  # every bay loaded and under way
        before, cpu0, wall0 = farm.cpu_by_process(), time.process_time(), time.monotonic()
        done0 = len(station.units)
        counts, lasts = _sadp_sweep(farm.target, max(1, int(args.cycle)))
        after, cpu1, wall1 = farm.cpu_by_process(), time.process_time(), time.monotonic()
        done = len(station.units) - done0
        for pid in farm.pids:
            status = Path(f"/proc/{pid}/status").read_text()
            peak = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))
            print(f"farm process {pid}: peak RSS {int(peak) / 1024:.0f} MB")
        lab.stop.set()
        runner.join()
        wall = wall1 - wall0
        for name in after:
            share = (after[name] - before[name]) / wall
            print(f"cycling: {name} {share * 100:.1f} % of a core")
        print(
            f"cycling: SADP answers per probe {min(counts)}..{max(counts)}, last after "
            f"{statistics.median(lasts) * 1000:.0f} ms median, {max(lasts) * 1000:.0f} ms worst"
        )
        print(f"cycling: station process {(cpu1 - cpu0) / wall * 100:.1f} % of a core")
        verified = sum(u[-1].result.outcome.value == "reset_verified" for u in station.units)
        print(
            f"cycling: {done} units in {wall:.0f} s; all told {len(station.units)} units, "
            f"{verified} verified"
        )
        with RecordStore(workdir / "records") as store:
            jobs = store.jobs()
        # The hold on record, against the target: a board bay's is timed by its board (the
        # farm's firmware tick); a switch bay's counts from the press, so it also holds the
        # port's power-on delay (SET, read back, deliveringPower).
        for kind, prefix in (("board", "B"), ("switch", "S")):
            errors = [
                abs(j["hold_s"] - args.hold) * 1000
                for j in jobs
                if j["hold_s"] is not None and j["bay"].startswith(prefix)
            ]
            if errors:
                print(
                    f"hold error, {kind} bays: median {statistics.median(errors):.1f} ms, "
                    f"worst {max(errors):.1f} ms"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
