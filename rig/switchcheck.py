"""`rig switch check NAME`: what a switch says about each port a bay of the config uses.

One line per port: its PoE admin flag and detection status, the class the unit asked for,
the MACs the forwarding table has learned on it, and the bay it feeds; one line for the PoE
group's supply (POWER-ETHERNET-MIB has no per-port power drawn: the group's total is what a
standard switch reports). Nothing is switched: this only reads.
"""

from __future__ import annotations

from collections.abc import Callable

from rig.config import RigConfig
from rig.errors import ConfigError, HardwareFault
from rig.hardware.switch import SwitchPool, SwitchPort, where

SYS_DESCR = (1, 3, 6, 1, 2, 1, 1, 1, 0)


def check_switch(
    config: RigConfig, name: str, pool: SwitchPool, say: Callable[[str], None]
) -> list[str]:
    """Print the switch's ports that bays use; returns the problems found."""
    if name not in config.switches:
        known = ", ".join(config.switches) or "none defined"
        raise ConfigError(f"{config.source}: no [switches.{name}] (switches: {known})")
    switch = config.switches[name]
    client = pool.client(name)
    descr = client.get([SYS_DESCR])[SYS_DESCR]
    text = descr.decode("utf-8", "replace") if isinstance(descr, bytes) else str(descr)
    say(
        f"switch {name} at {client.where} ({client.credentials.describe()}), vendor "
        f"{switch.vendor}: {text.strip() or '?'}"
    )
    poe = pool.poe(name)
    bays = [
        (bay.name, bay.power)
        for bay in config.bays
        if isinstance(bay.power, SwitchPort) and bay.power.switch == name
    ]
    if not bays:
        say(f"no bay of {config.source} is powered by {name}")
    problems: list[str] = []
    table = pool.forwarding_table(name)
    say(f"forwarding table: {table.source}")
    for group in sorted({p.group for _, p in bays}):
        pse = poe.pse(group)
        if pse is None:
            say(f"PoE group {group}: no pethMainPseTable row")
        else:
            nominal = f"{pse.nominal_w} W" if pse.nominal_w is not None else "?"
            drawn = f"{pse.drawn_w} W" if pse.drawn_w is not None else "?"
            note = ""
            if pse.drawn_w is not None and pse.nominal_w and pse.drawn_w > pse.nominal_w:
                # The Netgear GS324TP's real walk: 3800 against a 190 W budget. RFC 3621 says
                # watts; that switch reports milliwatts.
                drawn = f"{pse.drawn_w / 1000:g} W"
                note = f" (reported {pse.drawn_w}: milliwatts)"
            say(f"PoE group {group}: {pse.oper or '?'}, {nominal} nominal, {drawn} drawn{note}")
    for bay, port in bays:
        at = where(name, port.group, port.port)
        try:
            state = poe.state(port.group, port.port)
        except HardwareFault as exc:
            problems.append(f"bay {bay}: {exc}")
            say(f"{at}: {exc} (feeds bay {bay})")
            continue
        interface = table.port(port.group, port.port)
        macs = ", ".join(sorted(interface.macs)) if interface and interface.macs else "none"
        named = f" ({interface.name})" if interface is not None else " (no interface named)"
        say(
            f"{at}{named}: admin {'on' if state.admin_on else 'OFF'}, {state.detection}, "
            f"{state.power_class or 'class ?'}, MACs {macs}, feeds bay {bay}"
        )
        if not state.admin_on:
            problems.append(f"{at}: PoE disabled (bay {bay} gets no power)")
    return problems
