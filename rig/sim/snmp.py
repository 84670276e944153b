"""A simulated managed PoE switch: snmpsim serving a real switch's walk, with writable PoE
rows, and the camera's power following its port.

It imports nothing of the rig's SNMP code (its own OIDs from RFC 3621, its own pysnmp
calls): a simulator built from the code under test would agree with it and prove nothing.

- `switch_snmprec(...)` builds a `.snmprec` from the real TP-Link SG2218P walk
  (tests/fixtures/real/snmp: its ifName, bridge and STP tables and its Q-BRIDGE forwarding
  table, numbered the TP-Link way: FDB ports 1..18, bridge rows 49153..) plus
  POWER-ETHERNET-MIB rows built from RFC 3621 (that switch carries none: TP-Link uses a
  private MIB) and the Netgear GS324TP's real pethMainPse row. `pethPsePortAdminEnable` is
  writable through the `pse` variation module (rig/sim/snmpsim_variation/pse.py: it also
  tells the PSE of each SET), or plain (a SET is "taken" with no error and nothing changes);
  `pethPsePortDetectionStatus` is `writecache`, so the simulated PSE below can move it.
  The real walk's forwarding entries on a port given a simulated unit are dropped (the
  unit there is unplugged) and the unit's MAC learned there instead.
- `SnmpAgent` runs `snmpsim-command-responder` on a free 127.0.0.1 UDP port (community =
  the data file's name) and stops it. snmpsim needs pysmi installed beside it and refuses
  root unless SNMPSIM_ALLOW_ROOT=true.
- `SimPse` is the switch's PoE controller: told of each SET of an admin flag by the agent
  (no polling: a PSE acts at once, and polling loaded the agent the rig talks to), it
  delivers power per watched port (detection status deliveringPower after `detect_s`, the
  camera powered) while the port is enabled and a unit is plugged in. A `stuck` port keeps
  delivering when disabled (some Aruba switches do not cut PoE by the flag: Uninett/nav#2186).
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pysnmp.hlapi.v3arch.asyncio import (
    CommunityData,
    ContextData,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    UdpTransportTarget,
    get_cmd,
    set_cmd,
)
from pysnmp.proto import rfc1902

log = logging.getLogger(__name__)

VARIATION_DIR = Path(__file__).resolve().parent / "snmpsim_variation"
REAL_WALKS = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "real" / "snmp"
TPLINK_WALK = REAL_WALKS / "librenms-jetstream_sg2218p-TP-Link-SG2218P-1.20.4-trimmed.snmprec"
NETGEAR_WALK = REAL_WALKS / "librenms-netgear_gs324tp.snmprec"

# RFC 3621 POWER-ETHERNET-MIB: pethPsePortTable columns, pethMainPseTable.
PSE_PORT = "1.3.6.1.2.1.105.1.1.1"
ADMIN, DETECTION, CLASS = f"{PSE_PORT}.3", f"{PSE_PORT}.6", f"{PSE_PORT}.10"
MAIN_PSE = "1.3.6.1.2.1.105.1.3.1.1"
DISABLED, SEARCHING, DELIVERING = 1, 2, 3
# Q-BRIDGE-MIB dot1qTpFdbPort.<vlan>.<mac bytes>
Q_FDB_PORT = "1.3.6.1.2.1.17.7.1.2.2.1.2"
SG2218P_POE_PORTS = range(1, 17)  # "18-Port Gigabit Smart Switch with 16-Port PoE+"
CAMERA_VLAN = 31  # the real walk's cameras are on VLAN 31


def _oid_key(line: str) -> tuple[int, ...]:
    return tuple(int(n) for n in line.split("|", 1)[0].split("."))


def _mac_oid(mac: str) -> str:
    return ".".join(str(int(b, 16)) for b in mac.replace(":", "-").split("-"))


def switch_snmprec(
    units: Mapping[int, Iterable[str]],
    *,
    walk: Path = TPLINK_WALK,
    group: int = 1,
    ports: Iterable[int] = SG2218P_POE_PORTS,
    read_only: Iterable[int] = (),
    disabled: Iterable[int] = (),
) -> str:
    """The text of a `.snmprec`: `units` maps a port to the MACs learned on it."""
    unit_ports = set(units)
    lines: list[str] = []
    for line in walk.read_text().splitlines():
        if not line.strip():
            continue
        oid, _, rest = line.partition("|")
        if oid.startswith(Q_FDB_PORT + ".") and int(rest.rsplit("|", 1)[-1]) in unit_ports:
            continue  # a real unit on a port we plug a simulated one into: unplugged
        lines.append(line)
    for port, macs in units.items():
        for mac in macs:
            lines.append(f"{Q_FDB_PORT}.{CAMERA_VLAN}.{_mac_oid(mac)}|2|{port}")
    read_only, disabled = set(read_only), set(disabled)
    for port in ports:
        index = f"{group}.{port}"
        admin = 2 if port in disabled else 1
        if port in read_only:
            lines.append(f"{ADMIN}.{index}|2|{admin}")
        else:
            lines.append(f"{ADMIN}.{index}|2:pse|{admin}")
        lines.append(
            f"{DETECTION}.{index}|2:writecache|value={DISABLED if admin == 2 else SEARCHING}"
        )
        lines.append(f"{CLASS}.{index}|2|{3 if port in unit_ports else 1}")
    for line in NETGEAR_WALK.read_text().splitlines():  # the real 190 W PSE, as group `group`
        if line.startswith(MAIN_PSE + "."):
            oid, rest = line.split("|", 1)
            column = oid.split(".")[-2]
            if column == "4":  # consumption: moved by SimPse as units draw power
                rest = "66:writecache|value=0"
            lines.append(f"{MAIN_PSE}.{column}.{group}|{rest}")
    lines.sort(key=_oid_key)  # snmpsim answers GETNEXT in file order
    return "\n".join(lines) + "\n"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class AgentClient:
    """Just enough SNMP for the simulator: GET and SET, on an event loop of its own."""

    def __init__(self, host: str, port: int, community: str, timeout_s: float = 0.5) -> None:
        self._where = (host, port)
        self._community = community
        self._timeout_s = timeout_s
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._engine: Any = None
        self._target: Any = None

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    async def _ready(self) -> tuple[Any, Any]:
        if self._engine is None:
            self._engine = SnmpEngine()
            self._target = await UdpTransportTarget.create(
                self._where, timeout=self._timeout_s, retries=0
            )
        return self._engine, self._target

    def get(self, oids: list[str]) -> dict[str, int | None]:
        async def go() -> dict[str, int | None]:
            engine, target = await self._ready()
            error, status, _, binds = await get_cmd(
                engine,
                CommunityData(self._community),
                target,
                ContextData(),
                *(ObjectType(ObjectIdentity(o)) for o in oids),
            )
            if error or status:
                raise OSError(f"sim switch: GET failed: {error or status}")
            out: dict[str, int | None] = {}
            for oid, value in binds:
                try:
                    out[str(oid)] = int(value)
                except (TypeError, ValueError):
                    out[str(oid)] = None
            return out

        result: dict[str, int | None] = self._call(go())
        return result

    def set_many(self, values: list[tuple[str, Any]]) -> None:
        """One SET request of (oid, pysnmp value) pairs."""

        async def go() -> None:
            engine, target = await self._ready()
            error, status, _, _ = await set_cmd(
                engine,
                CommunityData(self._community),
                target,
                ContextData(),
                *(ObjectType(ObjectIdentity(oid), value) for oid, value in values),
            )
            if error or status:
                raise OSError(f"sim switch: SET failed: {error or status}")

        self._call(go())

    def close(self) -> None:
        async def shut() -> None:
            if self._engine is not None:
                self._engine.close_dispatcher()

        try:
            self._call(shut())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)


class SnmpAgent:
    """snmpsim on 127.0.0.1:`port` serving `data` (community -> snmprec text)."""

    def __init__(
        self,
        workdir: Path,
        data: Mapping[str, str],
        *,
        port: int | None = None,
        v3_user: tuple[str, str, str] | None = None,
    ) -> None:
        """`v3_user`: (user, SHA auth key, AES priv key) it also answers; a v3 request
        picks its data file by context name, as a v2c request by community."""
        self.v3_user = v3_user
        self.workdir = workdir
        self.data = dict(data)
        self.port = port or free_udp_port()
        self.host = "127.0.0.1"
        self._process: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "snmpsim.log"
        # Where the `pse` module sends word of each SET of an admin flag: SimPse binds it.
        self.admin_events = (self.host, free_udp_port())

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, *, wait_s: float = 60.0) -> SnmpAgent:
        data_dir = self.workdir / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        for community, text in self.data.items():
            (data_dir / f"{community}.snmprec").write_text(text)
        responder = shutil.which(
            "snmpsim-command-responder", path=str(Path(sys.executable).parent)
        ) or shutil.which("snmpsim-command-responder")
        if responder is None:
            raise RuntimeError("snmpsim is not installed (pip install snmpsim pysmi)")
        env = {**os.environ, "SNMPSIM_ALLOW_ROOT": "true"}  # refuses root without it
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    responder,
                    f"--data-dir={data_dir}",
                    f"--cache-dir={self.workdir / 'cache'}",
                    *self._v3_options(),
                    *_variation_options("{}:{}".format(*self.admin_events)),
                    f"--agent-udpv4-endpoint={self.host}:{self.port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        self._wait_ready(next(iter(self.data)), wait_s)
        return self

    def _v3_options(self) -> list[str]:
        if self.v3_user is None:
            return []
        user, auth_key, priv_key = self.v3_user
        return [
            f"--v3-user={user}",
            f"--v3-auth-key={auth_key}",
            "--v3-auth-proto=SHA",
            f"--v3-priv-key={priv_key}",
            "--v3-priv-proto=AES",
        ]

    def _wait_ready(self, community: str, wait_s: float) -> None:
        probe = AgentClient(self.host, self.port, community, timeout_s=0.3)
        deadline = time.monotonic() + wait_s
        try:
            while True:
                if self._process is not None and self._process.poll() is not None:
                    raise RuntimeError(f"snmpsim exited: {self.log_path.read_text()[-2000:]}")
                try:
                    probe.get(["1.3.6.1.2.1.1.1.0"])
                    return
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"snmpsim did not answer in {wait_s:g} s") from None
        finally:
            probe.close()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> SnmpAgent:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _variation_options(notify: str) -> list[str]:
    """Our `pse` module beside snmpsim's own (writecache): naming a directory replaces
    snmpsim's search path, so its own directory is named too."""
    spec = importlib.util.find_spec("snmpsim")
    own = [Path(spec.origin).parent / "variation"] if spec and spec.origin else []
    return [
        *(f"--variation-modules-dir={d}" for d in (VARIATION_DIR, *own)),
        f"--variation-module-options=pse:notify={notify}",
    ]


@dataclass
class _Port:
    plugged: bool = True
    stuck: bool = False  # keeps delivering power when disabled
    admin_on: bool = True
    delivering: bool = False
    since: float = 0.0  # when its admin flag (or its cable) last changed
    status: int | None = None  # the detection status last written to the agent


@dataclass
class SimPse:
    """The switch's PoE controller for the watched ports, as a thread woken by the agent's
    word of each admin SET (on `SnmpAgent.admin_events`) and by its detection deadlines."""

    agent: SnmpAgent
    community: str
    group: int = 1
    detect_s: float = 0.05  # PD detection and classification before power flows
    watts_per_unit: int = 4
    # Called (port, delivering) from the PSE's thread whenever a port starts or stops feeding
    # its unit: a wiring told of each change, instead of polling `powered` per camera.
    on_change: Callable[[int, bool], None] | None = None
    _ports: dict[int, _Port] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    error: str | None = None
    retry_s: float = 0.02  # after a SET of a status the agent did not take

    def watch(self, port: int, *, plugged: bool = True, stuck: bool = False) -> SimPse:
        with self._lock:
            self._ports[port] = _Port(plugged=plugged, stuck=stuck, since=time.monotonic())
        return self

    def plug(self, port: int, plugged: bool = True) -> None:
        with self._lock:
            self._ports[port].plugged = plugged
            self._ports[port].since = time.monotonic()
        self._wake()

    def powered(self, port: int) -> bool:
        """Does the port feed its unit now (what the camera's power follows)?"""
        return self._ports[port].delivering

    def admin_on(self, port: int) -> bool:
        return self._ports[port].admin_on

    def start(self) -> SimPse:
        self._events = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._events.bind(self.agent.admin_events)
        self._snmp = AgentClient(self.agent.host, self.agent.port, self.community, timeout_s=0.5)
        # In step with the agent before anyone looks: its flags as the data file set them.
        with self._lock:
            ports = list(self._ports)
        oids = {f"{ADMIN}.{self.group}.{p}": p for p in ports}
        for oid, value in self._snmp.get(list(oids)).items() if oids else ():
            self._admin(oids[oid], value == 1)
        self._step()
        self._thread = threading.Thread(target=self._run, name="sim-pse", daemon=True)
        self._thread.start()
        return self

    def _admin(self, port: int, on: bool) -> None:
        with self._lock:
            state = self._ports.get(port)
            if state is not None and state.admin_on != on:
                state.admin_on, state.since = on, time.monotonic()

    def _wake(self) -> None:
        if self._thread is not None:  # an empty datagram: look again now
            self._events.sendto(b"", self._events.getsockname())

    def _run(self) -> None:
        while not self._stop.is_set():
            self._take_word(self._due_in())
            try:
                self._step()
                self.error = None
            except OSError as exc:  # the agent stopped, or is slow: the status is written later
                if self.error is None:
                    log.warning("sim PSE: %s (retrying)", exc)
                self.error = str(exc)

    def _take_word(self, timeout_s: float | None) -> None:
        """Wait up to `timeout_s` for the agent's word of a SET, then take every word sent
        meanwhile: ports cut at the same moment are acted on (and written) together."""
        prefix = f"{ADMIN}.{self.group}."
        self._events.settimeout(timeout_s)
        while True:
            try:
                data = self._events.recv(512)
            except (TimeoutError, BlockingIOError):  # the deadline, or no more words
                return
            oid, _, value = data.decode(errors="replace").partition(" ")
            if oid.startswith(prefix) and value.strip().isdigit():
                self._admin(int(oid[len(prefix) :]), int(value) == 1)
            self._events.setblocking(False)

    def _due_in(self) -> float | None:
        """Seconds until a port's detection completes or a status is to be written again
        (None: nothing pending)."""
        now = time.monotonic()
        with self._lock:
            pending = [
                s.since + self.detect_s - now
                for s in self._ports.values()
                if s.admin_on and s.plugged and not s.delivering
            ]
        if self.error is not None:
            pending.append(self.retry_s)
        return max(0.0, min(pending)) if pending else None

    def _step(self) -> None:
        with self._lock:
            ports = dict(self._ports)
        now = time.monotonic()
        statuses: dict[int, int] = {}
        for port, state in ports.items():
            if state.stuck and state.delivering and state.plugged:
                delivering = True
            else:
                delivering = state.admin_on and state.plugged and now - state.since >= self.detect_s
            # The unit loses power the moment the PSE stops, before the MIB says so.
            changed = delivering != state.delivering
            state.delivering = delivering
            if changed and self.on_change is not None:
                self.on_change(port, delivering)
            status = DELIVERING if delivering else SEARCHING if state.admin_on else DISABLED
            if status != state.status:
                statuses[port] = status
        if not statuses:
            return
        # One SET for every port that moved at once (bays loaded together cut together),
        # with the power drawn, in milliwatts as the real Netgear row reports it.
        drawn = sum(1000 * self.watts_per_unit for s in ports.values() if s.delivering)
        self._snmp.set_many(
            [
                *(
                    (f"{DETECTION}.{self.group}.{port}", rfc1902.Integer32(status))
                    for port, status in statuses.items()
                ),
                (f"{MAIN_PSE}.4.{self.group}", rfc1902.Gauge32(drawn)),
            ]
        )
        for port, status in statuses.items():
            ports[port].status = status

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._wake()
            self._thread.join(timeout=5)
        if hasattr(self, "_snmp"):
            self._snmp.close()
            self._events.close()

    def __enter__(self) -> SimPse:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
