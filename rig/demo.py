"""`rig demo`: the whole reset on any machine, no Pi and no camera.

gpiozero's mock pins stand in for the Pi; a simulated camera on 127.0.0.1 is wired to those
very pins (its power follows the relay pin, its reset button the solenoid pin), answers SADP
and ISAPI, and factory-resets only if the pin is really held through its power-up. The rig
runs the documented sequence in real time and proves the reset over the (loopback) network.
Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPWMPin
from rich.console import Console
from rich.table import Table

from rig.clock import SystemClock
from rig.config import parse_config
from rig.errors import UsageError
from rig.operator import TerminalOperator
from rig.records.show import print_job
from rig.records.store import RecordStore
from rig.reset import reset_bays  # the very path `rig reset` takes
from rig.sim.bench import board_bay, gpio_bay, rig_toml, wire_to_board, wire_to_pins
from rig.sim.board import SimBoard
from rig.sim.camera import CameraSpec, SimCamera
from rig.sim.network import SimNetwork

if TYPE_CHECKING:
    from rig.config import RigConfig
    from rig.qa.setup import QaRequest

RELAY_GPIO, SOLENOID_GPIO = 17, 27  # the harness's pins (wiring/)
DEMO_NETWORK = {"sadp_poll_s": 0.25, "settle_s": 1.0}


def run_demo(
    *,
    data_dir: Path | None = None,
    off_s: float = 5.0,
    hold_s: float = 18.0,
    boot_s: float = 4.0,
    as_json: bool = False,
    board: bool = False,
    qa: bool = False,
) -> int:
    console = Console(stderr=True)
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="rig-demo-"))
    factory = MockFactory(pin_class=MockPWMPin)
    previous, Device.pin_factory = Device.pin_factory, factory
    # The simulated bootloader resets on a hold of 80 % of the rig's: a rig that cut the hold
    # short, or held without power-cycling, would leave it activated.
    spec = CameraSpec.sample(1, boot_s=boot_s, reset_hold_s=round(hold_s * 0.8, 3))
    label_serial = spec.device_sn[-13:]
    camera = SimCamera(spec)
    sim_board = SimBoard(channels=4) if board else None
    try:
        with SimNetwork([camera]) as network, camera:
            timing = {
                "profile": "DS-2CD2143G2-I",
                "off_s": off_s,
                "hold_s": hold_s,
                "boot_timeout_s": 60,
            }
            boards: dict[str, str] = {}
            if sim_board is not None:
                boards["b1"] = sim_board.start()
                wire_to_board(camera, sim_board, 1)
                bay = board_bay("A", board="b1", channel=1, **timing)
                wired = f"simulated board on {boards['b1']}, channel 1"
            else:
                wire_to_pins(camera, factory, relay=RELAY_GPIO, solenoid=SOLENOID_GPIO)
                bay = gpio_bay("A", relay=RELAY_GPIO, solenoid=SOLENOID_GPIO, **timing)
                wired = f"mock pins GPIO{RELAY_GPIO} (relay), GPIO{SOLENOID_GPIO} (solenoid)"
            config = parse_config(
                rig_toml(
                    target=network.target,
                    station="demo",
                    network=DEMO_NETWORK,
                    boards=boards,
                    bays=[bay],
                ),
                "demo config",
            )
            console.print(
                f"[bold]rig demo[/]: simulated {spec.model} {spec.device_sn} (MAC {spec.mac}),"
                f" activated, on SADP {network.target}; {wired}; records in {data_dir}"
            )
            code = reset_bays(
                config,
                config.bays,
                clock=SystemClock(),
                data_dir=data_dir,
                scanned_serial=label_serial,
                as_json=as_json,
                operator=TerminalOperator(),
                pin_factory=factory,
                qa=demo_qa(config, console) if qa else None,
            )
            camera.unwatch()
        with RecordStore(data_dir) as store:
            jobs = store.jobs()
        print_job(jobs[-1], console if as_json else Console(file=sys.stdout))
        if qa:
            write_demo_report(jobs, data_dir, console)
        return code
    finally:
        if sim_board is not None:
            sim_board.stop()
        Device.pin_factory = previous
        factory.reset()


def run_station_demo(
    *,
    bays: int,
    web: str | None = None,
    data_dir: Path | None = None,
    off_s: float = 5.0,
    hold_s: float = 18.0,
    boot_s: float = 4.0,
) -> int:
    """`rig demo --bays N [--web]`: the station (`rig run`) with N simulated bays
    (rig.sim.lab: some need a longer hold, one is dead, one loops), every unit scanned in at
    the start. Without `--web` it ends when every unit is done; with it the page's stop
    button (or Ctrl-C) ends it, and more scans can be typed into the page meanwhile. Exit 0
    when every bay ended as its simulated unit should have."""
    from rig.sim.lab import lab_toml, plan_lab, wire_lab
    from rig.station import Station

    option = None
    if web is not None:
        from rig.web.serve import WebOption

        option = WebOption.from_args(web)
    try:
        lab = plan_lab(bays, hold_s=hold_s, boot_s=boot_s)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    console = Console(stderr=True)
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="rig-demo-"))
    factory = MockFactory(pin_class=MockPWMPin)
    previous, Device.pin_factory = Device.pin_factory, factory
    cameras = wire_lab(lab, factory)
    try:
        with SimNetwork(cameras) as network, contextlib.ExitStack() as running:
            for camera in cameras:
                running.enter_context(camera)
            config = parse_config(
                lab_toml(lab, target=network.target, off_s=off_s, hold_s=hold_s, boot_s=boot_s),
                "demo config",
            )
            for bay in lab:
                console.print(
                    f"[bold]bay {bay.name}[/]: {bay.spec.model} {bay.label_serial} "
                    f"({bay.fault}) on mock GPIO{bay.relay}/GPIO{bay.solenoid}"
                )
            console.print(f"SADP on {network.target}; records in {data_dir}")
            scans = [f"{bay.name} {bay.label_serial}" for bay in lab]
            station = Station(
                config,
                clock=SystemClock(),
                data_dir=data_dir,
                operator=TerminalOperator(),
                scans=scans,
                pin_factory=factory,
            )
            if option is not None:
                from rig.web.serve import serve_station

                console.print("the page's Stop button (or Ctrl-C) ends the demo")
                serve_station(station, scans, option, terminal=False)
            else:
                station.run()
            for camera in cameras:
                camera.unwatch()
        return _station_demo_end(station, lab, data_dir, console)
    finally:
        Device.pin_factory = previous
        factory.reset()


def _station_demo_end(station: Any, lab: list[Any], data_dir: Path, console: Console) -> int:
    """Each bay's outcome against what its unit was built to do, and the report's path."""
    from rig.records.report import render_html

    last: dict[str, Any] = {}
    for unit in station.units:  # each bay's first unit: the one the demo scanned in
        last.setdefault(unit[-1].bay, unit)
    table = Table(title="rig demo: the station's bays")
    for column in ("bay", "its unit", "expected", "outcome", "attempts", "reason"):
        table.add_column(column)
    as_expected = True
    for bay in lab:
        reports = last.get(bay.name)
        outcome = reports[-1].result.outcome.value if reports else "not run"
        attempts = len(reports) if reports else 0
        ok = (outcome, attempts) == bay.expected
        as_expected &= ok
        table.add_row(
            bay.name,
            bay.fault,
            f"{bay.expected[0]} ({bay.expected[1]})",
            f"[{'green' if ok else 'red'}]{outcome}[/]",
            str(attempts),
            reports[-1].result.reason if reports else "",
        )
    # Off a terminal rich assumes 80 columns: too narrow for a reason.
    (console if console.is_terminal else Console(stderr=True, width=160)).print(table)
    with RecordStore(data_dir) as store:
        report = data_dir / "report.html"
        report.write_text(render_html(store.jobs(), title="rig demo"), encoding="utf-8")
    console.print(f"{station.tally.line(station.clock.monotonic())}; report: {report}")
    return 0 if as_expected else 1


def demo_qa(config: RigConfig, console: Console) -> QaRequest:
    """`rig demo --qa`: the QA pass with $RIG_BENCH_PASSWORD, or a demo password (the
    simulated camera is the only thing it ever reaches), and a firmware minimum to check."""
    import os
    from dataclasses import replace

    from rig.qa.firmware import FirmwarePolicy
    from rig.qa.password import BENCH_PASSWORD_ENV
    from rig.qa.settings import QaConfig
    from rig.qa.setup import QaRequest
    from rig.software.targets import Password

    password = os.environ.get(BENCH_PASSWORD_ENV) or "Demo-Bench-2026"
    policy = {"DS-2CD2143G2-I": FirmwarePolicy(min_firmware="V5.7.0")}
    config = replace(config, qa=QaConfig(snapshot_gap_s=0.5, firmware=policy))
    console.print("QA pass: activate, identity, firmware >= V5.7.0, picture, card, restore")
    return QaRequest(Password(password), config, every_unit=True)


def write_demo_report(jobs: list[dict[str, Any]], data_dir: Path, console: Console) -> None:
    """The page with the unit's certificate: its checks and the thumbnail."""
    from rig.records.report import render_html

    page = data_dir / "report.html"
    page.write_text(render_html(jobs, title="rig demo: QA pass"), encoding="utf-8")
    console.print(f"certificate with the QA checks and the thumbnail: {page}")
