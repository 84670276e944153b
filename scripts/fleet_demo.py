"""A lab of two rigs on this machine: a real PostgreSQL and a real Mosquitto started on
127.0.0.1 (as the tests start them: tests/servers.py), two simulated stations, each with its
own SQLite records and simulated cameras on mock pins, resetting units at the same time; then
what the lab sees: `rig fleet status`, `rig fleet` and `rig report --fleet`.

    .venv/bin/python scripts/fleet_demo.py [--keep DIR]

Needs Debian's postgresql and mosquitto (`make test` installs them). Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path

from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPWMPin

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.servers

from rig.cli import main as rig
from rig.clock import SystemClock
from rig.config import parse_config
from rig.sim.bench import gpio_bay, rig_toml, wire_to_pins
from rig.sim.camera import CameraSpec, SimCamera
from rig.sim.network import SimNetwork
from rig.station import Station
from tests.fakes import ScriptedOperator
from tests.servers import PG_PASSWORD, MosquittoBroker, PostgresServer

# Each station's bays and the pins of their relay and solenoid (one mock pin factory for all).
STATIONS = {"bench-1": {"A": (17, 27), "B": (22, 23)}, "bench-2": {"A": (5, 6), "B": (12, 13)}}


def run(root: Path) -> int:
    """One unit in each bay of each station, all at once; then the lab's view of it."""
    factory = MockFactory(pin_class=MockPWMPin)
    Device.pin_factory = factory
    pg, broker = PostgresServer().init(), MosquittoBroker().start()
    os.environ["PGPASSWORD"] = PG_PASSWORD  # the rig's password: from the environment only
    network = SimNetwork().start()
    cameras: list[SimCamera] = []
    try:
        stations, threads = [], []
        n = 0
        for name, bays in STATIONS.items():
            scans = []
            for bay, (relay, solenoid) in bays.items():
                n += 1
                camera = SimCamera(CameraSpec.sample(n, boot_s=0.5, reset_hold_s=1.2)).start()
                cameras.append(camera)
                network.add(camera)
                wire_to_pins(camera, factory, relay=relay, solenoid=solenoid)
                scans.append(f"{bay} {camera.spec.device_sn[-13:]}")  # the label, scanned
            text = rig_toml(
                target=network.target,
                station=name,
                data_dir=str(root / name),
                network={"sadp_poll_s": 0.2, "settle_s": 0.4},
                bays=[
                    gpio_bay(
                        b,
                        relay=r,
                        solenoid=s,
                        profile="DS-2CD2143G2-I",
                        off_s=0.6,
                        hold_s=1.5,
                        boot_timeout_s=8,
                        escalation_holds_s=[1.5],
                    )
                    for b, (r, s) in bays.items()
                ],
            )
            text += f'\n[fleet]\npostgres = "{pg.url()}"\nmqtt = "{broker.url}"\n'
            (root / f"{name}.toml").write_text(text)
            station = Station(
                parse_config(text, f"{name}.toml"),
                clock=SystemClock(),
                data_dir=root / name,
                operator=ScriptedOperator(),
                scans=scans,
                pin_factory=factory,
            )
            stations.append(station)
            threads.append(threading.Thread(target=station.run, name=name))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        config = str(root / "bench-1.toml")
        print("\n$ rig fleet status", flush=True)
        rig(["fleet", "status", "--config", config])
        print("\n$ rig fleet", flush=True)
        rig(["fleet", "--config", config])
        print("\n$ rig report --fleet", flush=True)
        rig(["report", "--fleet", "--config", config])
        page = root / "lab.html"
        rig(["report", "--fleet", "--config", config, "--format", "html", "-o", str(page)])
        print(f"\nthe lab's page: {page}")
        return 0
    finally:
        for camera in cameras:
            camera.stop()
        network.stop()
        broker.close()
        pg.close()
        factory.reset()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="keep the records and the page here")
    args = parser.parse_args()
    where = args.keep or Path(tempfile.mkdtemp(prefix="rig-fleet-demo-"))
    where.mkdir(parents=True, exist_ok=True)
    try:
        sys.exit(run(where))
    finally:
        if args.keep is None:
            shutil.rmtree(where, ignore_errors=True)
