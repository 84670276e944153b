"""PoE port control: POWER-ETHERNET-MIB (RFC 3621), and the place for a vendor's own MIB.

RFC 3621, pethPsePortTable (1.3.6.1.2.1.105.1.1.1), indexed by (group, port):
- `pethPsePortAdminEnable` (.3), read-write: 1 = true (the PSE may power the port), 2 = false;
- `pethPsePortDetectionStatus` (.6), read-only: 1 disabled, 2 searching, 3 deliveringPower,
  4 fault, 5 test, 6 otherFault. The admin flag says allowed; the detection status says
  powering, so a cut is proven by it leaving deliveringPower and a power-on by its return;
- `pethPsePortPowerClassifications` (.10): class0..class4 (1..5), what the unit asked for.
pethMainPseTable (1.3.6.1.2.1.105.1.3.1.1), per group: `pethMainPsePower` (.2, W nominal),
`pethMainPseOperStatus` (.3), `pethMainPseConsumptionPower` (.4, W drawn by the group).
RFC 3621 has no per-port power drawn: that is in vendors' MIBs only.

Groups: a stack numbers its PoE groups per member (WalT's poe.py reads (group, port) from
the table's keys); a single switch has group 1.

Vendors: `VENDORS` maps the `[switches.NAME] vendor` word to a class with the one interface
of `PoeControl`. "standard" is RFC 3621, checked against snmpsim serving the real walks'
rows. A switch that carries no POWER-ETHERNET-MIB rows (TP-Link: the SG2218P walk has none;
it has a private MIB) needs its own class here; "tplink" is listed and refuses with one line
until someone captures a walk of that MIB to build it against.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import ClassVar

from rig.network.snmp.client import NoSuchObject, Oid, SnmpClient, SnmpError

PETH_PSE_PORT = (1, 3, 6, 1, 2, 1, 105, 1, 1, 1)
ADMIN_ENABLE = (*PETH_PSE_PORT, 3)
DETECTION_STATUS = (*PETH_PSE_PORT, 6)
POWER_CLASS = (*PETH_PSE_PORT, 10)
PORT_ROW = (ADMIN_ENABLE, DETECTION_STATUS, POWER_CLASS)  # what a port's state is read from
PETH_MAIN_PSE = (1, 3, 6, 1, 2, 1, 105, 1, 3, 1, 1)
MAIN_POWER = (*PETH_MAIN_PSE, 2)
MAIN_OPER_STATUS = (*PETH_MAIN_PSE, 3)
MAIN_CONSUMPTION = (*PETH_MAIN_PSE, 4)

TRUE, FALSE = 1, 2  # SNMPv2-TC TruthValue
DETECTION = {
    1: "disabled",
    2: "searching",
    3: "deliveringPower",
    4: "fault",
    5: "test",
    6: "otherFault",
}
DELIVERING = 3
CLASSES = {1: "class0", 2: "class1", 3: "class2", 4: "class3", 5: "class4"}


@dataclass(frozen=True)
class PortState:
    """One PoE port as the switch reports it."""

    group: int
    port: int
    admin_on: bool
    detection: str  # a DETECTION name, or "unknown(N)"
    power_class: str | None = None

    @property
    def delivering(self) -> bool:
        return self.detection == "deliveringPower"


@dataclass(frozen=True)
class PseState:
    """A PoE group's supply: nominal and drawn watts."""

    group: int
    nominal_w: int | None
    drawn_w: int | None
    oper: str | None


class PoeControl:
    """What a bay needs of a switch's PoE, whatever MIB carries it."""

    vendor: ClassVar[str]

    def __init__(self, client: SnmpClient) -> None:
        self.client = client

    def where(self, group: int, port: int) -> str:
        """ "sw1 port 5"; "sw1 port 2/5" on a second group (a stack's second member)."""
        return f"{self.client.name} port {port if group == 1 else f'{group}/{port}'}"

    def state(self, group: int, port: int) -> PortState:
        raise NotImplementedError

    def states(self, ports: Iterable[tuple[int, int]]) -> dict[tuple[int, int], PortState]:
        """The state of several ports; a backend that can reads them in one request."""
        return {(group, port): self.state(group, port) for group, port in ports}

    def set_admin(self, group: int, port: int, on: bool, *, read_back: bool = True) -> None:
        """Enable or disable the port's PoE; raises unless the agent holds the new value,
        read back at once. `read_back=False` leaves that to the caller's next state read
        (`check_admin`): one request less on a path that reads the state anyway."""
        raise NotImplementedError

    def check_admin(self, state: PortState, on: bool) -> None:
        """Raise unless `state`, read after a SET of the port's admin flag, shows it took."""
        if state.admin_on != on:
            raise SnmpError(self._did_not_take(state.group, state.port, on, not on))

    def _did_not_take(self, group: int, port: int, on: bool, held: object) -> str:
        wanted, word = (TRUE, "on") if on else (FALSE, "off")
        if isinstance(held, bool):
            held = TRUE if held else FALSE
        return (
            f"{self.where(group, port)}: the SET of pethPsePortAdminEnable to {wanted} "
            f"({word}) did not take: it reads back {held} (community read-only, or the "
            "agent ignores writes to it)"
        )

    def ports(self) -> list[tuple[int, int]]:
        """Every (group, port) the switch has PoE for."""
        raise NotImplementedError

    def pse(self, group: int) -> PseState | None:
        return None


class StandardPoe(PoeControl):
    """POWER-ETHERNET-MIB, RFC 3621."""

    vendor = "standard"

    def state(self, group: int, port: int) -> PortState:
        return self.states([(group, port)])[(group, port)]

    def states(self, ports: Iterable[tuple[int, int]]) -> dict[tuple[int, int], PortState]:
        """One GET for every port asked (three objects each): the bays of a switch that poll
        at the same moment cost the switch one request (rig.batched)."""
        ports = sorted(set(ports))
        oids = [(*oid, *index) for index in ports for oid in PORT_ROW]
        values = self.client.get(oids)
        return {index: self._state(index, values) for index in ports}

    def _state(self, index: tuple[int, int], values: Mapping[Oid, object]) -> PortState:
        group, port = index
        admin = values[(*ADMIN_ENABLE, *index)]
        detection = values[(*DETECTION_STATUS, *index)]
        if admin is None or detection is None:
            raise NoSuchObject(self._no_port(group, port))
        if admin not in (TRUE, FALSE) or not isinstance(detection, int):
            raise SnmpError(
                f"{self.where(group, port)}: malformed PoE row: pethPsePortAdminEnable={admin!r}"
                f" pethPsePortDetectionStatus={detection!r}"
            )
        power_class = values[(*POWER_CLASS, *index)]
        return PortState(
            group,
            port,
            admin_on=admin == TRUE,
            detection=DETECTION.get(detection, f"unknown({detection})"),
            power_class=CLASSES.get(power_class) if isinstance(power_class, int) else None,
        )

    def set_admin(self, group: int, port: int, on: bool, *, read_back: bool = True) -> None:
        oid = (*ADMIN_ENABLE, group, port)
        wanted = TRUE if on else FALSE
        try:
            held = self.client.set_int(oid, wanted, read_back=read_back)
        except NoSuchObject:
            raise NoSuchObject(self._no_port(group, port)) from None
        if not read_back:
            return  # what the SET's answer echoes proves nothing (an agent echoes a SET it
            # ignores, or answers noSuchInstance for a value it will not write): the state says
        if held is None:
            raise NoSuchObject(self._no_port(group, port))
        if held != wanted:
            raise SnmpError(self._did_not_take(group, port, on, held))

    def ports(self) -> list[tuple[int, int]]:
        rows = self.client.walk(ADMIN_ENABLE)
        return [(oid[-2], oid[-1]) for oid, _ in rows if len(oid) == len(ADMIN_ENABLE) + 2]

    def pse(self, group: int) -> PseState | None:
        values = self.client.get(
            [(*MAIN_POWER, group), (*MAIN_CONSUMPTION, group), (*MAIN_OPER_STATUS, group)]
        )
        nominal, drawn, oper = (
            values[(*MAIN_POWER, group)],
            values[(*MAIN_CONSUMPTION, group)],
            values[(*MAIN_OPER_STATUS, group)],
        )
        if nominal is None and drawn is None:
            return None
        opers = {1: "on", 2: "off", 3: "faulty"}
        return PseState(group, nominal, drawn, opers.get(oper) if isinstance(oper, int) else None)

    def _no_port(self, group: int, port: int) -> str:
        return (
            f"{self.where(group, port)}: the switch has no such PoE port (no "
            f"pethPsePortTable row {group}.{port}; `rig switch check {self.client.name}` "
            "lists the ports it has)"
        )


class UnsupportedVendor(PoeControl):
    """A switch known to need a private MIB the rig does not speak yet."""

    why: ClassVar[str] = ""

    def __init__(self, client: SnmpClient) -> None:
        raise SnmpError(f"switch {client.name}: vendor {self.vendor!r}: {self.why}")


class TpLinkPoe(UnsupportedVendor):
    vendor = "tplink"
    why = (
        "TP-Link switches carry no POWER-ETHERNET-MIB rows (the SG2218P walk has none) and "
        "control PoE through a private MIB that the rig does not implement yet: no walk of "
        "it is on file to build and test against (see README, Bays on a PoE switch)"
    )


VENDORS: dict[str, type[PoeControl]] = {cls.vendor: cls for cls in (StandardPoe, TpLinkPoe)}


def poe_for(vendor: str, client: SnmpClient) -> PoeControl:
    return VENDORS[vendor](client)


def index_of(oid: Oid, column: Oid) -> tuple[int, ...]:
    return oid[len(column) :]
