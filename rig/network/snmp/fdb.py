"""Which MACs sit on which switch port: the forwarding table, followed to the port's name.

- Q-BRIDGE-MIB `dot1qTpFdbPort` (1.3.6.1.2.1.17.7.1.2.2.1.2.<vlan>.<6 MAC bytes>) gives the
  bridge port of each learned MAC, per VLAN; switches that do VLANs answer this one. Without
  it, BRIDGE-MIB `dot1dTpFdbPort` (1.3.6.1.2.1.17.4.3.1.2.<6 MAC bytes>).
- A bridge port is not a port number: `dot1dBasePortIfIndex` (1.3.6.1.2.1.17.1.4.1.2.<bridge
  port>) maps it to the ifIndex, and `ifName` (1.3.6.1.2.1.31.1.1.1.1), else `ifDescr`
  (1.3.6.1.2.1.2.2.1.2), names that interface: "gigabitEthernet 1/0/5", "Gi2/0/5", "g5".
- The real TP-Link SG2218P walk (tests/fixtures/real/snmp) shows why the mapping matters:
  its FDB names ports 1..18, while its base port table is indexed 49153..49170 (the
  ifIndexes). Its `dot1dStpPort` (1.3.6.1.2.1.17.2.15.1.1.<row>) carries the port number of
  each row (row 49157 is port 5), and that is the link followed when the FDB's number is
  not a row of the base port table.

The port's own number and its stack member come from the interface's name: its last number
is the port, and in a name of the shape unit/slot/port ("1/0/5") the first is the member,
which is the PoE group on a stack.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from rig.errors import ParseError
from rig.network.sadp.message import normalise_mac
from rig.network.snmp.client import Oid

Q_FDB_PORT = (1, 3, 6, 1, 2, 1, 17, 7, 1, 2, 2, 1, 2)
Q_FDB_STATUS = (1, 3, 6, 1, 2, 1, 17, 7, 1, 2, 2, 1, 3)
FDB_PORT = (1, 3, 6, 1, 2, 1, 17, 4, 3, 1, 2)
FDB_STATUS = (1, 3, 6, 1, 2, 1, 17, 4, 3, 1, 3)
BASE_PORT_IFINDEX = (1, 3, 6, 1, 2, 1, 17, 1, 4, 1, 2)
STP_PORT = (1, 3, 6, 1, 2, 1, 17, 2, 15, 1, 1)
IF_NAME = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1)
IF_DESCR = (1, 3, 6, 1, 2, 1, 2, 2, 1, 2)

#: dot1qTpFdbStatus / dot1dTpFdbStatus: only `learned` entries are units behind the port
#: (`self` is the switch's own MAC, `mgmt` a static entry).
LEARNED, OTHER = 3, 1

Walk = Callable[[Oid], list[tuple[Oid, object]]]
Get = Callable[[Sequence[Oid]], Mapping[Oid, object]]


@dataclass
class Interface:
    if_index: int
    name: str
    member: int | None  # the stack member (unit) in a unit/slot/port name
    number: int | None  # the port's number: the last number of its name
    macs: set[str] = field(default_factory=set)
    vlans: set[int] = field(default_factory=set)  # the VLANs its MACs were learned on


@dataclass
class ForwardingTable:
    """The switch's learned MACs by interface, and how it was read."""

    interfaces: dict[int, Interface]
    source: str  # "Q-BRIDGE-MIB" or "BRIDGE-MIB" (or "none")
    unmapped: dict[int, set[str]] = field(default_factory=dict)  # bridge port -> MACs
    port_map: PortMap | None = None  # what the ports were mapped with (kept for the next read)

    def port(self, group: int, port: int) -> Interface | None:
        """The interface of PoE (group, port): its number is the port, and its member (when
        the name has one) the group."""
        found = [
            i
            for i in self.interfaces.values()
            if i.number == port and (i.member is None or i.member == group)
        ]
        return found[0] if len(found) == 1 else None

    def macs_on(self, group: int, port: int) -> list[str]:
        interface = self.port(group, port)
        return sorted(interface.macs) if interface is not None else []


def _port_numbers(name: str) -> tuple[int | None, int | None]:
    numbers = [int(n) for n in re.findall(r"\d+", name)]
    if not numbers:
        return None, None
    member = numbers[0] if len(numbers) >= 3 else None
    return member, numbers[-1]


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


@dataclass(frozen=True)
class PortMap:
    """How the switch numbers its ports: bridge port -> ifIndex (with the STP rows TP-Link
    uses instead), and the bridged interfaces by ifIndex. It does not change while the rig
    runs, so one read serves every later forwarding-table read (rig.hardware.switch)."""

    base: dict[int, int]
    stp: dict[int, int]
    names: dict[int, str]

    def interfaces(self) -> dict[int, Interface]:
        interfaces: dict[int, Interface] = {}
        bridged = set(self.base.values())
        for if_index, name in self.names.items():
            if bridged and if_index not in bridged:
                continue  # a VLAN interface, the CPU: no unit is plugged into those
            member, number = _port_numbers(name)
            interfaces[if_index] = Interface(if_index, name, member, number)
        return interfaces

    def knows(self, bridge_ports: set[int]) -> bool:
        return all(p in self.base or self.stp.get(p) in self.base for p in bridge_ports)


def read_port_map(walk: Walk) -> PortMap:
    base = {oid[-1]: int(v) for oid, v in walk(BASE_PORT_IFINDEX) if isinstance(v, int)}
    stp = {int(v): oid[-1] for oid, v in walk(STP_PORT) if isinstance(v, int)}
    names = {oid[-1]: _text(v) for oid, v in walk(IF_NAME)}
    if not names:
        names = {oid[-1]: _text(v) for oid, v in walk(IF_DESCR)}
    return PortMap(base, stp, names)


def read_forwarding_table(walk: Walk, port_map: PortMap | None = None) -> ForwardingTable:
    """The forwarding table through `walk` (an SnmpClient's): Q-BRIDGE, else BRIDGE. With
    `port_map` (an earlier read) only the learned MACs are walked; a bridge port the map
    does not know (the switch renumbered) makes it read the map again."""
    source = "Q-BRIDGE-MIB"
    entries = _fdb(walk(Q_FDB_PORT), walk(Q_FDB_STATUS), mac_from=-6)
    if not entries:
        source = "BRIDGE-MIB"
        entries = _fdb(walk(FDB_PORT), walk(FDB_STATUS), mac_from=-6)
    if not entries:
        source = "none"
    if port_map is None or not port_map.knows(set(entries)):
        port_map = read_port_map(walk)
    return _table(entries, source, port_map)


def read_entries(
    get: Get, wanted: Mapping[str, Iterable[int]], source: str, port_map: PortMap
) -> ForwardingTable:
    """The forwarding table's entries of the `wanted` MACs only, each on the VLANs given
    (Q-BRIDGE; BRIDGE-MIB has none): one GET instead of a walk of every learned MAC. A MAC
    not learned there is on no interface of the result."""
    q_bridge = source == "Q-BRIDGE-MIB"
    port_col, status_col = (Q_FDB_PORT, Q_FDB_STATUS) if q_bridge else (FDB_PORT, FDB_STATUS)
    indexes = []
    for mac, vlans in wanted.items():
        mac_bytes = tuple(int(b, 16) for b in mac.split("-"))
        indexes += [(vlan, *mac_bytes) for vlan in vlans] if q_bridge else [mac_bytes]
    oids = [(*col, *index) for index in indexes for col in (port_col, status_col)]
    values = get(oids) if oids else {}
    ports = [((*port_col, *i), values.get((*port_col, *i))) for i in indexes]
    # An agent without the status column answers noSuchInstance (None): learned, as a walk
    # that finds no status rows takes it.
    statuses = [((*status_col, *i), values.get((*status_col, *i))) for i in indexes]
    statuses = [(oid, value) for oid, value in statuses if value is not None]
    return _table(_fdb(ports, statuses, mac_from=-6), source, port_map)


def _table(
    entries: dict[int, dict[str, set[int]]], source: str, port_map: PortMap
) -> ForwardingTable:
    base, stp = port_map.base, port_map.stp
    interfaces = port_map.interfaces()
    table = ForwardingTable(interfaces, source, port_map=port_map)
    for bridge_port, macs in entries.items():
        mapped: int | None = None
        if bridge_port in base:
            mapped = base[bridge_port]
        elif bridge_port in stp and stp[bridge_port] in base:
            mapped = base[stp[bridge_port]]  # TP-Link: FDB port n is the STP row of port n
        if mapped is None or mapped not in interfaces:
            table.unmapped.setdefault(bridge_port, set()).update(macs)
            continue
        interfaces[mapped].macs.update(macs)
        for vlans in macs.values():
            interfaces[mapped].vlans.update(vlans)
    return table


def _fdb(
    ports: list[tuple[Oid, object]], statuses: list[tuple[Oid, object]], *, mac_from: int
) -> dict[int, dict[str, set[int]]]:
    """bridge port -> MACs learned there -> the VLANs each was learned on (Q-BRIDGE's index
    has the VLAN before the MAC; BRIDGE-MIB's has none: no VLANs)."""
    status = {oid[mac_from:]: v for oid, v in statuses}
    q_bridge = bool(ports) and ports[0][0][: len(Q_FDB_PORT)] == Q_FDB_PORT
    out: dict[int, dict[str, set[int]]] = {}
    for oid, port in ports:
        mac_bytes = oid[mac_from:]
        if len(mac_bytes) != 6 or not isinstance(port, int) or port <= 0:
            continue
        if status.get(mac_bytes, LEARNED) not in (LEARNED, OTHER):
            continue
        try:
            mac = normalise_mac("-".join(f"{b:02x}" for b in mac_bytes))
        except ParseError:
            continue  # all-zero or broadcast: no unit's identity
        vlans = out.setdefault(port, {}).setdefault(mac, set())
        if q_bridge:
            vlans.add(oid[mac_from - 1])
    return out
