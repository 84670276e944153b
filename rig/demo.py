"""`rig demo`: the whole reset on any machine, no Pi and no camera.

gpiozero's mock pins stand in for the Pi; a simulated camera on 127.0.0.1 is wired to those
very pins (its power follows the relay pin, its reset button the solenoid pin), answers SADP
and ISAPI, and factory-resets only if the pin is really held through its power-up. The rig
runs the documented sequence in real time and proves the reset over the (loopback) network.
Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPWMPin
from rich.console import Console

from rig.clock import SystemClock
from rig.config import parse_config
from rig.operator import TerminalOperator
from rig.records.show import print_job
from rig.records.store import RecordStore
from rig.sim.board import SimBoard
from rig.sim.camera import CameraSpec, SimCamera
from rig.sim.network import SimNetwork

RELAY_GPIO, SOLENOID_GPIO = 17, 27

DEMO_CONFIG = """
[station]
name = "demo"

[network]
sadp_target = "{target}"
sadp_poll_s = 0.25
settle_s = 1.0
{boards}
[[bays]]
name = "A"
power = {power}
presser = {presser}
profile = "DS-2CD2143G2-I"
off_s = {off_s}
hold_s = {hold_s}
boot_timeout_s = 60
"""
GPIO_BAY = {
    "boards": "",
    "power": f"{{ gpio = {RELAY_GPIO}, active_high = false }}",
    "presser": f"{{ gpio = {SOLENOID_GPIO} }}",
}
BOARD_BAY = {
    "power": '{ board = "b1", channel = 1 }',
    "presser": '{ board = "b1", channel = 1 }',
}


def relay_feeds_power(pin: Any) -> bool:
    """NC contact, active-low module: powered unless the pin drives the coil (output, low).
    A pin nobody has set up yet leaves the coil off, as the module's pull-up does."""
    return pin.function != "output" or bool(pin.state)


def run_demo(
    *,
    data_dir: Path | None = None,
    off_s: float = 5.0,
    hold_s: float = 18.0,
    boot_s: float = 4.0,
    as_json: bool = False,
    board: bool = False,
) -> int:
    from rig.cli import reset_bays  # the very path `rig reset` takes

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
            if sim_board is not None:
                port = sim_board.start()
                bay = {**BOARD_BAY, "boards": f'[boards.b1]\nport = "{port}"\n'}
                camera.watch(lambda: sim_board.power_is_on(1), lambda: sim_board.pin_is_down(1))
                wired = f"simulated board on {port}, channel 1"
            else:
                bay = GPIO_BAY
                relay, solenoid = factory.pin(RELAY_GPIO), factory.pin(SOLENOID_GPIO)
                camera.watch(lambda: relay_feeds_power(relay), lambda: bool(solenoid.state))
                wired = f"mock pins GPIO{RELAY_GPIO} (relay), GPIO{SOLENOID_GPIO} (solenoid)"
            config = parse_config(
                DEMO_CONFIG.format(target=network.target, off_s=off_s, hold_s=hold_s, **bay),
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
            )
            camera.unwatch()
        with RecordStore(data_dir) as store:
            job = store.jobs()[-1]
        print_job(job, console if as_json else Console(file=sys.stdout))
        return code
    finally:
        if sim_board is not None:
            sim_board.stop()
        Device.pin_factory = previous
        factory.reset()
