"""A simulated bench: a simulated camera wired to a bay's actuators, and the rig config that
drives that bay. One helper for `rig demo`, the benchmark, the soak and the tests.

A camera is wired the way the harness wires a real one: its PoE power runs through the NC
contact of the bay's relay (active-low module) and its reset button sits under the solenoid,
on gpiozero's mock pins or on a channel of the simulated board.
"""

from __future__ import annotations

from typing import Any

import tomli_w

from rig.sim.board import SimBoard
from rig.sim.camera import SimCamera


def relay_feeds_power(pin: Any) -> bool:
    """NC contact, active-low module: powered unless the pin drives the coil (output, low).
    A pin nobody has set up yet leaves the coil off, as the module's pull-up does."""
    return pin.function != "output" or bool(pin.state)


def wire_to_pins(camera: SimCamera, factory: Any, *, relay: int, solenoid: int) -> SimCamera:
    """The camera's power follows the relay pin, its reset button the solenoid pin, of a
    gpiozero MockFactory."""
    relay_pin, solenoid_pin = factory.pin(relay), factory.pin(solenoid)
    camera.watch(lambda: relay_feeds_power(relay_pin), lambda: bool(solenoid_pin.state))
    return camera


def wire_to_board(camera: SimCamera, board: SimBoard, channel: int) -> SimCamera:
    """The camera's power and reset button follow one channel of the simulated board."""
    camera.watch(lambda: board.power_is_on(channel), lambda: board.pin_is_down(channel))
    return camera


def gpio_bay(name: str, *, relay: int, solenoid: int, **keys: Any) -> dict[str, Any]:
    """A `[[bays]]` entry driving the relay and solenoid on Pi GPIOs (the harness's wiring)."""
    return {
        "name": name,
        "power": {"gpio": relay, "active_high": False},
        "presser": {"gpio": solenoid},
        **keys,
    }


def board_bay(name: str, *, board: str, channel: int, **keys: Any) -> dict[str, Any]:
    """A `[[bays]]` entry on one channel of a firmware board."""
    channel_table = {"board": board, "channel": channel}
    return {"name": name, "power": channel_table, "presser": dict(channel_table), **keys}


def rig_toml(
    *,
    target: str,
    bays: list[dict[str, Any]],
    station: str = "sim",
    network: dict[str, Any] | None = None,
    boards: dict[str, str] | None = None,
    data_dir: str | None = None,
    switches: dict[str, dict[str, Any]] | None = None,
    station_keys: dict[str, Any] | None = None,
) -> str:
    """The text of a rig.toml for a simulated bench: SADP to `target` (the SimNetwork's
    loopback address), the given bays, the boards by name and port, the `[switches]` tables
    by name, and more `[station]` keys (`learn_holds = false`)."""
    doc: dict[str, Any] = {"station": {"name": station, **(station_keys or {})}}
    if data_dir is not None:
        doc["station"]["data_dir"] = data_dir
    doc["network"] = {"sadp_target": target, **(network or {})}
    if boards:
        doc["boards"] = {name: {"port": port} for name, port in boards.items()}
    if switches:
        doc["switches"] = switches
    doc["bays"] = bays
    return tomli_w.dumps(doc)
