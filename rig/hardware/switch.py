"""The managed PoE switch backend: a bay's power is one port of a `[switches.NAME]`.

`power = { switch = "sw1", port = 5 }` (+ `group`, default the switch's, 1 unless a stack
member's): the camera's PoE comes from that port. Power off is `pethPsePortAdminEnable` =
false, checked by the port's state read right after (an agent may ignore a SET with no
error), and proven by the port's `pethPsePortDetectionStatus` leaving deliveringPower; power
on is the flag set true, checked the same way, and the status returning to deliveringPower
(rig.network.snmp.poe).

Safety: the safe state of a switch bay is its port enabled. Unlike an NC relay, a switch
keeps a port off when the rig dies, so each cut is written to the records (`switch_cuts`)
*before* the SET that disables the port and cleared once it is enabled again; the next rig
command that opens the records enables every configured port still on that list
(`restore_ports_left_cut`). Every exit path in between (the runner's safe step, the signal
guard, atexit, `BayHardware.close`) enables the ports this rig disabled.

The unit known by its port: `port_macs()` reads the switch's forwarding table (Q-BRIDGE,
else BRIDGE, to ifIndex, to the port: rig.network.snmp.fdb) and gives the MACs on the bay's
port, so the verifier knows the unit before the cut without a scan. A scanned unit already
answering SADP is looked up by its MAC instead (`port_macs(expect=mac)`): one GET of its
entry on the VLANs the port's MACs were learned on, not a walk of every MAC the switch
learned (a lab switch learns hundreds); anything but "on this port" falls back to the walk.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from rig.batched import Batched
from rig.clock import Clock
from rig.errors import ConfigError, HardwareFault
from rig.hardware.base import PortMacs, PowerSwitch
from rig.hardware.settings import BuildContext, Resources, Role
from rig.tomlcheck import Table

if TYPE_CHECKING:
    from rig.config import SwitchConfig
    from rig.network.snmp import ForwardingTable, PoeControl, PortState, SnmpClient

log = logging.getLogger(__name__)

#: How often a wait for the port's detection status asks the switch. The hold is timed from
#: the first answer that says deliveringPower, so the power may have flowed up to one poll
#: (and a round trip) before: short polls keep that small; a GET is one small datagram.
POLL_S = 0.02
#: The ports a `{ switch, port }` may name (POWER-ETHERNET-MIB's pethPsePortIndex range).
PORT_RANGE = (1, 4096)


class CutLedger(Protocol):
    """Where the cuts in progress are written down (the records: rig.records.store)."""

    def mark_port_cut(self, switch: str, group: int, port: int, bay: str) -> None: ...

    def clear_port_cut(self, switch: str, group: int, port: int) -> None: ...

    def ports_left_cut(self) -> list[dict[str, Any]]: ...


def where(switch: str, group: int, port: int) -> str:
    """ "sw1 port 5"; "sw1 port 2/5" on another group than 1 (a stack's second member)."""
    return f"{switch} port {port if group == 1 else f'{group}/{port}'}"


class SwitchPowerSwitch(PowerSwitch):
    """One PoE port of a managed switch as a bay's power."""

    def __init__(
        self,
        *,
        poe: PoeControl,
        switch: str,
        group: int,
        port: int,
        clock: Clock,
        bay: str = "?",
        ledger: CutLedger | None = None,
        forwarding_table: Callable[[], ForwardingTable] | None = None,
        entry_of: Callable[[str], ForwardingTable | None] | None = None,
        port_state: Callable[[int, int], PortState] | None = None,
        cut_timeout_s: float = 5.0,
        on_timeout_s: float = 5.0,
        poll_s: float = POLL_S,
    ) -> None:
        self._poe = poe
        self.switch, self.group, self.port = switch, group, port
        self._clock = clock
        self._bay = bay
        self._ledger = ledger
        self._forwarding_table = forwarding_table
        self._entry_of = entry_of
        # Through the pool, the bays of one switch share their state reads (one GET).
        self._port_state = port_state or poe.state
        self._cut_timeout_s = cut_timeout_s
        self._on_timeout_s = on_timeout_s
        self._poll_s = poll_s
        self.on_delay_s = on_timeout_s
        self.where = where(switch, group, port)
        self.name = f"{self.where} PoE"
        # Re-entrant: the signal guard may make the bay safe while this thread is mid-call.
        self._lock = threading.RLock()
        self._cut = False  # this rig disabled the port (or began to) and has not enabled it

    def off(self) -> None:
        with self._lock:
            if self._ledger is not None:
                # Before the SET: if the rig dies from here on, the next start enables it.
                self._ledger.mark_port_cut(self.switch, self.group, self.port, self._bay)
            self._cut = True
            self._poe.set_admin(self.group, self.port, False, read_back=False)
        first = self._checked_state(admin_on=False)
        state = self._wait(lambda s: not s.delivering, self._cut_timeout_s, first)
        if state.delivering:
            raise HardwareFault(
                f"{self.where}: still deliveringPower {self._cut_timeout_s:g} s after its PoE "
                "was disabled (this switch does not cut power by pethPsePortAdminEnable)"
            )

    def on(self) -> None:
        with self._lock:
            self._poe.set_admin(self.group, self.port, True, read_back=False)
        # The cut stays on record until the switch shows the port enabled: a SET that did
        # not take leaves it for the safe step (and the next start) to enable.
        first = self._checked_state(admin_on=True)
        with self._lock:
            self._enabled()
        state = self._wait(lambda s: s.delivering, self._on_timeout_s, first)
        if not state.delivering:
            raise HardwareFault(
                f"{self.where}: enabled, but not deliveringPower within {self._on_timeout_s:g}"
                f" s (detection status {state.detection}): is the unit still plugged in?"
            )

    def _enable(self) -> None:
        self._poe.set_admin(self.group, self.port, True)  # read back: nothing reads after
        self._enabled()

    def _enabled(self) -> None:
        self._cut = False
        if self._ledger is not None:
            self._ledger.clear_port_cut(self.switch, self.group, self.port)

    def _checked_state(self, *, admin_on: bool) -> PortState:
        """The port's state right after a SET of its admin flag (the pool's reads never
        answer with one begun before the question), which must show the SET took."""
        state = self._port_state(self.group, self.port)
        self._poe.check_admin(state, admin_on)
        return state

    def _wait(
        self, done: Callable[[PortState], bool], timeout_s: float, state: PortState
    ) -> PortState:
        """Poll the port from `state` on until `done`, or `timeout_s` has passed."""
        deadline = self._clock.monotonic() + timeout_s
        while not done(state) and self._clock.monotonic() < deadline:
            self._clock.sleep(self._poll_s)
            state = self._port_state(self.group, self.port)
        return state

    def is_on(self) -> bool:
        return not self._cut

    def make_safe(self) -> None:
        # Enable what this rig disabled; no wait for the power to flow: a unit taken out of
        # the bay meanwhile leaves the port searching, and that is still safe.
        with self._lock:
            if self._cut:
                self._enable()

    def state(self) -> PortState:
        return self._port_state(self.group, self.port)

    def port_macs(self, expect: str | None = None) -> PortMacs | None:
        if self._forwarding_table is None:
            return None
        if expect is not None:
            found = self._entry_on_port(expect)
            if found is not None:
                return found
        table = self._forwarding_table()
        interface = table.port(self.group, self.port)
        if interface is None:
            source = f"{table.source}: no interface named for {self.where}"
            return PortMacs(self.where, (), source)
        source = f"{table.source}, {interface.name} (ifIndex {interface.if_index})"
        return PortMacs(self.where, tuple(sorted(interface.macs)), source)

    def _entry_on_port(self, mac: str) -> PortMacs | None:
        """`mac` on this port by its own forwarding entry; None: not known that way."""
        from rig.network.snmp import SnmpError, SnmpTimeout

        if self._entry_of is None:
            return None
        try:
            table = self._entry_of(mac)
        except SnmpTimeout:
            raise
        except SnmpError as exc:  # the walk that follows says what is wrong, if anything
            log.info("%s: the entry of %s not read (%s): walking the table", self.where, mac, exc)
            return None
        interface = table.port(self.group, self.port) if table is not None else None
        if table is None or interface is None or mac not in interface.macs:
            return None
        source = f"{table.source} entry of {mac}, {interface.name} (ifIndex {interface.if_index})"
        return PortMacs(self.where, (mac,), source)


class SwitchPool:
    """The switches of one run: their SNMP clients, opened on first use, closed at the end.
    `ledger` (the records) is where the bays' cuts are written down."""

    def __init__(
        self, switches: Mapping[str, SwitchConfig], *, ledger: CutLedger | None = None
    ) -> None:
        self.configs = switches
        self.ledger = ledger
        self._clients: dict[str, SnmpClient] = {}
        self._poe: dict[str, PoeControl] = {}
        self._tables: dict[str, Batched[None, ForwardingTable]] = {}
        self._last_tables: dict[str, ForwardingTable] = {}  # each switch's last full read
        self._entries: dict[str, Batched[tuple[str, frozenset[int]], ForwardingTable]] = {}
        self._states: dict[str, Batched[tuple[int, int], PortState | Exception]] = {}
        self._lock = threading.Lock()

    def client(self, name: str) -> SnmpClient:
        from rig.network.snmp import SnmpClient

        with self._lock:
            if name not in self._clients:
                c = self.configs[name]
                self._clients[name] = SnmpClient(
                    name,
                    c.host,
                    c.port,
                    credentials=c.credentials,
                    timeout_s=c.timeout_s,
                    retries=c.retries,
                )
            return self._clients[name]

    def poe(self, name: str) -> PoeControl:
        from rig.network.snmp import poe_for

        client = self.client(name)
        with self._lock:
            if name not in self._poe:
                self._poe[name] = poe_for(self.configs[name].vendor, client)
            return self._poe[name]

    def forwarding_table(self, name: str) -> ForwardingTable:
        """The switch's learned MACs now: one walk for every bay of the switch that asks at
        the same moment (rig.batched). The port numbering is read once per switch
        and kept: each bay's identify then walks only the learned MACs."""
        with self._lock:
            if name not in self._tables:
                self._tables[name] = Batched(lambda _: {None: self._read_table(name)})
            batched = self._tables[name]
        return batched.get(None)

    def _read_table(self, name: str) -> ForwardingTable:
        from rig.network.snmp import read_forwarding_table

        with self._lock:
            last = self._last_tables.get(name)
        table = read_forwarding_table(
            self.client(name).walk, last.port_map if last is not None else None
        )
        with self._lock:
            self._last_tables[name] = table
        return table

    def entry_of(self, name: str, group: int, port: int, mac: str) -> ForwardingTable | None:
        """The forwarding table with `mac`'s own entries only, on the VLANs the MACs of
        (group, port) were learned on at the switch's last full read: one GET for every bay
        of the switch that asks at the same moment. None without such a read (the station
        reads each switch at its start) or with no VLAN seen on the port."""
        with self._lock:
            last = self._last_tables.get(name)
        interface = last.port(group, port) if last is not None else None
        if last is None or interface is None or last.source == "none":
            return None
        if last.source == "Q-BRIDGE-MIB" and not interface.vlans:
            return None
        with self._lock:
            batched = self._entries.setdefault(name, Batched(partial(self._read_entries, name)))
        return batched.get((mac, frozenset(interface.vlans)))

    def _read_entries(
        self, name: str, keys: frozenset[tuple[str, frozenset[int]]]
    ) -> dict[tuple[str, frozenset[int]], ForwardingTable]:
        from rig.network.snmp.fdb import read_entries

        with self._lock:
            last = self._last_tables[name]
        assert last.port_map is not None  # every full read maps its ports
        wanted: dict[str, set[int]] = {}
        for mac, vlans in keys:
            wanted.setdefault(mac, set()).update(vlans)
        table = read_entries(self.client(name).get, wanted, last.source, last.port_map)
        return dict.fromkeys(keys, table)

    def port_state(self, name: str, group: int, port: int) -> PortState:
        """A port's PoE state: one GET for every port of the switch asked at the same moment
        (16 bays waiting for their ports cost the switch one request, not 16)."""
        with self._lock:
            batched = self._states.get(name)
        if batched is None:
            poe = self.poe(name)  # (takes the pool's lock itself)
            with self._lock:
                batched = self._states.setdefault(name, Batched(partial(_port_states, poe)))
        state = batched.get((group, port))
        if isinstance(state, Exception):
            raise state
        return state

    def learn_port_maps(self, names: Iterable[str]) -> list[str]:
        """Read each switch's port numbering now (at a station's start), so its first unit's
        identify walks only the learned MACs. Returns the problems; a switch that cannot be
        read now is read again at its first bay's identify, which then says why."""
        problems = []
        for name in names:
            try:
                self.forwarding_table(name)
            except Exception as exc:  # each bay reports its own switch later
                problems.append(f"switch {name}: port numbering not read at start: {exc}")
        return problems

    def power(self, settings: SwitchPort, *, bay: str, clock: Clock) -> SwitchPowerSwitch:
        c = self.configs[settings.switch]
        return SwitchPowerSwitch(
            poe=self.poe(settings.switch),
            switch=settings.switch,
            group=settings.group,
            port=settings.port,
            clock=clock,
            bay=bay,
            ledger=self.ledger,
            forwarding_table=lambda: self.forwarding_table(settings.switch),
            entry_of=partial(self.entry_of, settings.switch, settings.group, settings.port),
            port_state=partial(self.port_state, settings.switch),
            cut_timeout_s=c.cut_timeout_s,
            on_timeout_s=c.on_timeout_s,
        )

    def close(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, {}
            self._poe.clear()
        for client in clients.values():
            client.close()

    def __enter__(self) -> SwitchPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _port_states(
    poe: PoeControl, ports: frozenset[tuple[int, int]]
) -> dict[tuple[int, int], PortState | Exception]:
    """The ports' states in one request; when that fails for a reason of one port's row (a
    missing port, a malformed value), each port alone, so only that port's bay hears of it."""
    from rig.network.snmp import SnmpError, SnmpTimeout

    try:
        return dict(poe.states(ports))
    except SnmpTimeout:
        raise
    except SnmpError:
        out: dict[tuple[int, int], PortState | Exception] = {}
        for group, port in ports:
            try:
                out[(group, port)] = poe.state(group, port)
            except SnmpError as exc:
                out[(group, port)] = exc
        return out


def restore_ports_left_cut(pool: SwitchPool, say: Callable[[str], None]) -> list[str]:
    """Enable every configured port the records say a rig cut and never enabled again (it
    died mid-cut: a switch, unlike an NC relay, keeps the port off). Returns the problems;
    a port that cannot be enabled stays on the list for the next start."""
    ledger = pool.ledger
    if ledger is None:
        return []
    problems: list[str] = []
    for row in ledger.ports_left_cut():
        switch, group, port = row["switch"], int(row["grp"]), int(row["port"])
        at = where(switch, group, port)
        if switch not in pool.configs:
            problems.append(f"{at}: left cut (bay {row['bay']}), but no [switches.{switch}]")
            say(f"{problems[-1]}: enable it on the switch")
            continue
        try:
            pool.poe(switch).set_admin(group, port, True)
        except HardwareFault as exc:
            problems.append(f"{at}: left cut (bay {row['bay']}) and not enabled yet: {exc}")
            say(problems[-1])
            continue
        ledger.clear_port_cut(switch, group, port)
        say(f"{at}: left cut by a rig that stopped mid-cut (bay {row['bay']}): PoE enabled again")
    return problems


# -- the backend's settings -----------------------------------------------------------------


@dataclass(frozen=True)
class SwitchPort:
    """`{ switch = "sw1", port = 5 }` (+ `group`): one PoE port of a `[switches.sw1]`."""

    switch: str
    port: int
    group: int = 1

    def build_power(self, ctx: BuildContext) -> SwitchPowerSwitch:
        if ctx.switches is None:
            raise ConfigError(f"{ctx.where}: switch {self.switch!r} used but none were opened")
        return ctx.switches.power(self, bay=ctx.bay, clock=ctx.clock)

    def describe(self) -> str:
        return where(self.switch, self.group, self.port)

    def claims(self, role: Role) -> tuple[Hashable, ...]:
        return (("switch", self.switch, self.group, self.port),)


def read(t: Table, resources: Resources) -> SwitchPort:
    switch = resources.refer(t, "switch", "switches")
    port: int = t.integer("port", lo=PORT_RANGE[0], hi=PORT_RANGE[1])
    config = resources.tables.get("switches", {}).get(switch)
    default_group = getattr(config, "group", 1)
    group: int = t.integer("group", default_group, lo=1, hi=64)
    return SwitchPort(switch=switch, port=port, group=group)
