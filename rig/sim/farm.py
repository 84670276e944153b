"""A simulated lab farm in a process of its own: boards, PoE switch, cameras and SADP network.

The benchmark measures the station process. In that process the simulated lab would cost
more than the station itself (each board's firmware ticks at 1 kHz, each camera's HTTP
server polls), and share its GIL, so the farm runs in one child process instead:

    bays = [FarmBay("A", "board", reset_hold_s=1.2, boot_s=0.5),
            FarmBay("B", "switch", reset_hold_s=1.2, boot_s=0.5)]
    with SimFarm(bays, workdir=tmp) as farm:
        text = farm.rig_toml(off_s=0.6, hold_s=1.5, boot_timeout_s=10,
                             network={"sadp_poll_s": 0.1}, station="bench")
        config = parse_config(text, "farm")          # the station's rig.toml
        serial = farm.reload("A")                    # the next unit off the returns pile
        ...                                          # scan f"A {serial}" into the station
        farm.cpu_s()                                 # the farm's CPU seconds so far

The child (`python -m rig.sim.farm`) runs:

* a `SimBoard` (4 channels) per four board bays: a board bay's power and presser are one
  channel of it;
* for the switch bays, one simulated PoE switch per 16 bays (sw1, sw2, ...: ports 1..16,
  each port's unit MAC learned on it), each an snmpsim agent (a real SNMP agent,
  rig.sim.snmp) and a `SimPse` that powers its ports, and the presser boards p0, p1, ...
  (their power channels drive nothing);
* a `SimCamera` per bay and one `SimNetwork` on 127.0.0.1 for them all.

The wiring is told of each change instead of polling: a board calls its listener on every
relay or solenoid change, a PSE its `on_change` when a port starts or stops feeding, and
the bay's camera is fed the new states (`SimCamera.feed`).

The parent and the child speak JSON lines over the child's stdin and stdout: the plan in,
the layout out (SADP target, board ptys, switch agents), then `reload` requests. The child
ends, stopping everything it runs, when its stdin closes: a parent that dies leaves no farm
behind. The child loads the simulation and no more (pysnmp only with switch bays).

Many bays can be split over several children (`processes`): each runs whole boards and
whole switches with their cameras, and their SADP networks act as one segment (the first
passes each probe on to the others, which answer the station themselves).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TextIO

from rig.sim.board import SimBoard
from rig.sim.camera import CameraSpec, SimCamera
from rig.sim.network import SimNetwork

CHANNELS = 4  # per simulated board
SWITCH_PORTS = 16  # PoE ports per simulated switch (the TP-Link SG2218P's walk: 1..16)
DEFAULT_MODEL = "DS-2CD2143G2-I"

PSE_DETECT_S = 0.05

_START_TIMEOUT_S = 120.0  # snmpsim's first start compiles its data: slow on a loaded Pi
_REQUEST_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 30.0


@dataclass
class FarmBay:
    """One bay of the farm: its name in the rig.toml, where its power comes from, and the
    unit it is loaded with. `spec`: further `CameraSpec` fields (JSON values), e.g.
    {"firmware": "V5.5.0build 180101"} or {"dead": True}."""

    name: str
    power: Literal["board", "switch"] = "board"
    model: str = DEFAULT_MODEL
    reset_hold_s: float = 10.0
    boot_s: float = 3.0
    spec: dict[str, Any] = field(default_factory=dict)
    # Each unit after the first is another unit off the pile (its own MAC and serial), as
    # learning per model needs (it counts distinct units). Board bays only: a switch bay's
    # unit is the MAC the simulated switch has learned on its port.
    distinct_units: bool = False

    def __post_init__(self) -> None:
        if self.power not in ("board", "switch"):
            raise ValueError(f"bay {self.name}: power must be 'board' or 'switch'")
        if self.distinct_units and self.power == "switch":
            raise ValueError(f"bay {self.name}: distinct units need a board bay")


@dataclass(frozen=True)
class SwitchAgent:
    """A simulated switch as the station reaches it: `host` is "127.0.0.1:PORT"."""

    host: str
    community: str


def _plan(bays: list[FarmBay]) -> dict[str, dict[str, Any]]:
    """Where each bay sits: its `power` and `presser` tables as the rig.toml names them, and
    the camera's number (distinct MAC and serial per bay)."""
    names = [b.name for b in bays]
    if len(set(names)) != len(names):
        raise ValueError(f"bay names must be distinct: {names}")
    plan: dict[str, dict[str, Any]] = {}
    on_board = on_switch = 0
    for n, bay in enumerate(bays, start=1):
        if bay.power == "board":
            channel = {"board": f"b{on_board // CHANNELS}", "channel": on_board % CHANNELS + 1}
            plan[bay.name] = {"power": channel, "presser": dict(channel), "camera": n}
            on_board += 1
        else:
            power = {
                "switch": f"sw{on_switch // SWITCH_PORTS + 1}",
                "port": on_switch % SWITCH_PORTS + 1,
            }
            presser = {"board": f"p{on_switch // CHANNELS}", "channel": on_switch % CHANNELS + 1}
            plan[bay.name] = {"power": power, "presser": presser, "camera": n}
            on_switch += 1
    return plan


# -- the parent's side --------------------------------------------------------------------------


def _shards(bays: list[FarmBay], plan: dict[str, dict[str, Any]], n: int) -> list[list[FarmBay]]:
    """The bays split over `n` processes. What is wired in-process stays together: a board's
    four bays, a switch's bays (with their presser boards). Largest group first onto the
    least loaded process: deterministic, and balanced by bays."""
    groups: dict[str, list[FarmBay]] = {}
    for bay in bays:
        where = plan[bay.name]["power"]
        groups.setdefault(where.get("switch") or where["board"], []).append(bay)
    shards: list[list[FarmBay]] = [[] for _ in range(n)]
    for group in sorted(groups.values(), key=len, reverse=True):
        min(shards, key=len).extend(group)
    return [shard for shard in shards if shard]


class _Child:
    """One farm process and the pipe to it: one request at a time (`ask` is serialised)."""

    def __init__(self, index: int, workdir: Path) -> None:
        self.index = index
        self.log_path = workdir / f"farm-{index + 1}.log"
        self.layout: dict[str, Any] = {}
        self._replies: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        with self.log_path.open("a") as log:
            # A session of its own: the terminal's Ctrl-C goes to the station, which then
            # stops the farm in order; and a last-resort kill can take the whole group
            # (the child and its snmpsim agents) by the child's id.
            self.process = subprocess.Popen(
                [sys.executable, "-m", "rig.sim.farm"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                bufsize=1,
                start_new_session=True,
            )
        threading.Thread(
            target=self._read, name=f"rig.farm-{index + 1}-reader", daemon=True
        ).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        try:
            for line in self.process.stdout:
                self._replies.put(json.loads(line))
        except (OSError, ValueError):
            pass
        self._replies.put(None)  # the child is gone

    def ask(self, request: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        with self._lock:
            stdin = self.process.stdin
            if stdin is None or stdin.closed:
                raise RuntimeError("the farm is not running")
            try:
                stdin.write(json.dumps(request) + "\n")
                stdin.flush()
                reply = self._replies.get(timeout=timeout_s)
            except (OSError, ValueError, queue.Empty) as exc:
                raise RuntimeError(f"the farm did not answer {request['op']}: {exc}") from None
            if reply is None:
                self._replies.put(None)  # every later request fails the same way
                raise RuntimeError(f"the farm process ended: {self.log_tail()}")
            if "error" in reply:
                raise RuntimeError(f"the farm failed {request['op']}: {reply['error']}")
            return reply

    def close_input(self) -> None:
        """End of input: the child's signal to stop everything it runs and exit."""
        with self._lock:
            if self.process.stdin is not None and not self.process.stdin.closed:
                # A broken pipe: it is gone already, and the wait reaps it.
                with contextlib.suppress(OSError):
                    self.process.stdin.close()

    def reap(self) -> None:
        try:
            self.process.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._kill_group()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def _kill_group(self) -> None:
        """A child that would not stop: SIGTERM (it still cleans up), then SIGKILL to its
        whole session (its snmpsim agents too: they are in the child's group)."""
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        except ProcessLookupError:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # whatever is left of the group
        self.process.wait()

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text()[-2000:]
        except OSError:
            return "(no log)"


class SimFarm:
    """The farm in its child process(es); a context manager. Thread-safe: `reload` may be
    called from several station threads at once (one request at a time goes to a child).

    `processes`: how many children share the bays. One carries 48 bays on a 2-core machine
    (about 60 % of a core, scripts/farm_load.py), and two did not make the boards' holds
    any more precise there (more processes to schedule on two cores). Their SADP networks
    act as one segment: the first one's `target` takes the station's probes and hands each
    to the others, which answer the station directly."""

    def __init__(
        self,
        bays: list[FarmBay],
        *,
        workdir: Path,
        processes: int = 1,
        log_level: str = "WARNING",
    ) -> None:
        """`log_level`: of the children's logs (`log_paths`); INFO has every camera's power,
        pin and boot."""
        if not bays:
            raise ValueError("a farm has at least one bay")
        self.bays = list(bays)
        self.workdir = Path(workdir)
        self.log_level = log_level
        self._plan = _plan(self.bays)
        self.placement = {
            name: {"power": p["power"], "presser": p["presser"]} for name, p in self._plan.items()
        }
        if processes < 1:
            raise ValueError(f"processes must be at least 1, not {processes}")
        self.shards = _shards(self.bays, self._plan, processes)
        self._children: list[_Child] = []
        self._home: dict[str, _Child] = {}  # bay -> the child that runs it
        self._cpu_last: dict[int, float] = {}

    # -- life cycle --------------------------------------------------------------------------

    def start(self) -> SimFarm:
        """Start the children and wait until every camera answers; raises (the children
        reaped) if it cannot."""
        if self._children:
            raise RuntimeError("the farm is already running")
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            for index, shard in enumerate(self.shards):
                child = _Child(index, self.workdir)
                self._children.append(child)
                for bay in shard:
                    self._home[bay.name] = child
            # All at once: each child's start takes seconds (snmpsim's above all).
            _in_parallel([partial(self._start_child, c) for c in self._children])
            first, *others = self._children
            if others:
                peers = [c.layout["target"] for c in others]
                first.ask({"op": "relay", "peers": peers}, _REQUEST_TIMEOUT_S)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_child(self, child: _Child) -> None:
        shard = self.shards[child.index]
        request = {
            "op": "start",
            "bays": [asdict(b) for b in shard],
            "plan": {b.name: self._plan[b.name] for b in shard},
            "workdir": str(self.workdir / f"farm-{child.index + 1}"),
            "log_level": self.log_level,
        }
        child.layout = child.ask(request, _START_TIMEOUT_S)["layout"]

    def stop(self) -> None:
        """Stop the cameras, boards, PSEs and agents, and reap the children. Idempotent."""
        children, self._children = self._children, []
        self._home = {}
        for child in children:
            child.close_input()  # all at once: they stop in parallel
        for child in children:
            child.reap()

    def __enter__(self) -> SimFarm:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what the station needs ----------------------------------------------------------------

    @property
    def pid(self) -> int:
        """The first child's process id (the one whose network is the `target`)."""
        return self.pids[0]

    @property
    def pids(self) -> list[int]:
        """Every child's process id."""
        if not self._children:
            raise RuntimeError("the farm is not running")
        return [c.process.pid for c in self._children]

    @property
    def log_paths(self) -> list[Path]:
        return [self.workdir / f"farm-{i + 1}.log" for i in range(len(self.shards))]

    @property
    def agent_pids(self) -> dict[str, int]:
        """The snmpsim agents' process ids by switch name (none without switch bays)."""
        return {
            name: int(pid) for c in self._started() for name, pid in c.layout["agent_pids"].items()
        }

    @property
    def running(self) -> bool:
        return bool(self._children) and all(c.process.poll() is None for c in self._children)

    @property
    def target(self) -> str:
        """The SADP target: "127.0.0.1:PORT" of the farm's (first child's) SimNetwork."""
        return str(self._started()[0].layout["target"])

    @property
    def boards(self) -> dict[str, str]:
        """Each board's pty by name: b0, b1, ... (board bays), p0, p1, ... (pressers)."""
        return {name: pty for c in self._started() for name, pty in c.layout["boards"].items()}

    @property
    def switches(self) -> dict[str, SwitchAgent]:
        """Each simulated switch by name (sw1, sw2, ...), its agent's address and community."""
        return {
            name: SwitchAgent(**agent)
            for c in self._started()
            for name, agent in c.layout["switches"].items()
        }

    def rig_toml(
        self,
        *,
        off_s: float,
        hold_s: float,
        boot_timeout_s: float,
        escalation_holds_s: list[float] | None = None,
        profile: str | None = None,
        network: dict[str, Any],
        station: str,
        extra: str = "",
    ) -> str:
        """The station's whole rig.toml for this farm. `profile` None: no profile key (the
        generic one); `escalation_holds_s` None: the profile's; `extra`: text appended (a
        `[fleet]` table, say)."""
        from rig.sim.bench import rig_toml

        keys: dict[str, Any] = {"off_s": off_s, "hold_s": hold_s, "boot_timeout_s": boot_timeout_s}
        if escalation_holds_s is not None:
            keys["escalation_holds_s"] = list(escalation_holds_s)
        if profile is not None:
            keys["profile"] = profile
        bays = [{"name": b.name, **self.placement[b.name], **keys} for b in self.bays]
        switches = {
            name: {
                "host": agent.host,
                "community": agent.community,
                # Generous: the station may share a loaded
                # 2-core machine with 48 bays' worth of simulation.
                "timeout_s": 2.0,
                "retries": 2,
                "cut_timeout_s": 15.0,
                "on_timeout_s": 15.0,
            }
            for name, agent in self.switches.items()
        }
        text = rig_toml(
            target=self.target,
            bays=bays,
            station=station,
            network=network,
            boards=self.boards,
            switches=switches,
        )
        return text + extra

    def reload(self, bay: str) -> str:
        """The next unit of `bay` off the returns pile: the bay's camera activated again (as
        the unit a customer returned is) and its label's serial, as the scanner reads it."""
        reply = self._child_of(bay).ask({"op": "reload", "bay": bay}, _REQUEST_TIMEOUT_S)
        return str(reply["serial"])

    def camera_state(self, bay: str) -> dict[str, Any]:
        """The bay's camera as the farm sees it: online, phase, activated, resets, ..."""
        reply = self._child_of(bay).ask({"op": "state", "bay": bay}, _REQUEST_TIMEOUT_S)
        return dict(reply["state"])

    def cpu_s(self) -> float:
        """CPU seconds the farm has used so far: the child and its snmpsim agents."""
        return sum(self.cpu_by_process().values())

    def cpu_by_process(self) -> dict[str, float]:
        """CPU seconds so far, by process: "farm 1", "farm 2", ... (the children),
        "snmpsim sw1", ... (their agents)."""
        pids = {f"farm {i + 1}": pid for i, pid in enumerate(self.pids)}
        for name, pid in self.agent_pids.items():
            pids[f"snmpsim {name}"] = pid
        out = {}
        for name, pid in pids.items():
            cpu = _process_cpu_s(pid)
            if cpu is not None:  # gone (stopping): its last reading stands
                self._cpu_last[pid] = cpu
            out[name] = self._cpu_last.get(pid, 0.0)
        return out

    def _started(self) -> list[_Child]:
        if not self._children or not self._children[0].layout:
            raise RuntimeError("the farm has not been started")
        return self._children

    def _child_of(self, bay: str) -> _Child:
        if bay not in self.placement:
            raise KeyError(f"no bay {bay!r} in the farm")
        self._started()
        return self._home[bay]


def _process_cpu_s(pid: int) -> float | None:
    """utime + stime of a live process (all its threads), from /proc; None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the child's side ---------------------------------------------------------------------------


#: How the first child's network hands a probe on: this line, then the datagram as it came.
_RELAYED = b"RIG-FARM-RELAYED "


def _address(target: str) -> tuple[str, int]:
    host, port = target.rsplit(":", 1)
    return host, int(port)


class _RelayNetwork(SimNetwork):
    """A SimNetwork that is one segment with the networks of the farm's other children:
    each probe it gets from the station goes on to its `peers`, marked with the station's
    address; a network given such a relayed probe answers that address itself. All of it
    on loopback (SimNetwork binds and answers only 127.0.0.1)."""

    def __init__(self) -> None:
        super().__init__()
        self.peers: list[tuple[str, int]] = []

    def _handle(self, data: bytes, addr: tuple[str, int]) -> None:
        if data.startswith(_RELAYED):
            header, _, data = data.partition(b"\n")
            host, port = header[len(_RELAYED) :].decode("ascii", "replace").split(" ")
            addr = (host, int(port))
        elif self._sock is not None:
            marked = _RELAYED + f"{addr[0]} {addr[1]}\n".encode() + data
            for peer in self.peers:
                self._sock.sendto(marked, peer)
        super()._handle(data, addr)


class _Wire:
    """A bay's camera fed its power and reset pin from their sources on every change.

    Several threads tell it of changes (the board's for the pin, the PSE's for a switch
    port): the lock makes each update read both sources and feed them as one, so the last
    update always leaves the camera in step with the hardware."""

    def __init__(self, camera: Any, power: Callable[[], bool], pin: Callable[[], bool]) -> None:
        self.camera = camera
        self._power = power
        self._pin = pin
        self._lock = threading.Lock()

    def update(self) -> None:
        with self._lock:
            self.camera.feed(self._power(), self._pin())


class _Lab:
    """What the child runs for the bays it was given."""

    def __init__(
        self,
        bays: list[FarmBay],
        plan: dict[str, dict[str, Any]],
        workdir: Path,
    ) -> None:
        self.bays = bays
        self.workdir = workdir
        self.plan = plan  # the whole farm's names and camera numbers, for these bays
        self.network = _RelayNetwork()
        self.boards: dict[str, SimBoard] = {}
        for where in self.plan.values():
            name = where["presser"]["board"]
            if name not in self.boards:
                self.boards[name] = SimBoard(channels=CHANNELS)
        self.cameras: dict[str, SimCamera] = {}
        for bay in bays:
            n = self.plan[bay.name]["camera"]
            values: dict[str, Any] = {"boot_s": bay.boot_s, "reset_hold_s": bay.reset_hold_s}
            if bay.model != DEFAULT_MODEL:
                values["model"] = bay.model
                values["device_sn"] = f"{bay.model}20230815AAWRJ{12345000 + n:08d}"
            self.cameras[bay.name] = SimCamera(CameraSpec.sample(n, **{**values, **bay.spec}))
        self.agents: dict[str, Any] = {}
        self.pses: dict[str, Any] = {}
        self._guard = threading.Lock()
        self._loads: dict[str, int] = {}
        self._distinct = {bay.name: bay.distinct_units for bay in bays}

    def start(self) -> dict[str, Any]:
        self.network.start()
        for board in self.boards.values():
            board.start()
        for camera in self.cameras.values():
            # Powered and answering from the start: the farm is ready at once (a board's
            # relays come up safe, the camera powered; a switch port is delivering).
            camera.start(online=True)
            self.network.add(camera)
        switches = self._start_switches()
        wires: dict[tuple[str, int], _Wire] = {}
        ports: dict[tuple[str, int], _Wire] = {}
        for bay in self.bays:
            where, camera = self.plan[bay.name], self.cameras[bay.name]
            board, ch = self.boards[where["presser"]["board"]], where["presser"]["channel"]
            pin = _pin_of(board, ch)
            if bay.power == "board":
                power = _power_of(board, ch)
            else:
                pse, port = self.pses[where["power"]["switch"]], where["power"]["port"]
                power = _port_of(pse, port)
            wire = _Wire(camera, power, pin)
            wires[(where["presser"]["board"], ch)] = wire
            if bay.power == "switch":
                ports[(where["power"]["switch"], where["power"]["port"])] = wire
        for name, board in self.boards.items():
            board.add_listener(_on_channel(name, wires))
        for name, pse in self.pses.items():
            pse.on_change = _on_port(name, ports)
            pse.start()
        for wire in wires.values():
            wire.update()  # in step with the hardware from the start
        self._wait_online()
        return {
            "target": self.network.target,
            "boards": {name: board.port for name, board in self.boards.items()},
            "switches": switches,
            "agent_pids": {name: agent._process.pid for name, agent in self.agents.items()},
        }

    def _start_switches(self) -> dict[str, dict[str, str]]:
        on_switch: dict[str, dict[int, list[str]]] = {}
        for bay in self.bays:
            where = self.plan[bay.name]["power"]
            if "switch" in where:
                macs = on_switch.setdefault(where["switch"], {})
                macs[where["port"]] = [self.cameras[bay.name].spec.mac]
        if not on_switch:
            return {}
        from rig.sim.snmp import SimPse, SnmpAgent, switch_snmprec

        # An agent per switch: snmpsim could serve several data files by community, but its
        # writable values (writecache) are kept by OID for the whole agent, so a SET of
        # port 4 on one switch would turn port 4 of every switch it serves.
        communities = {name: f"farm-{name}" for name in on_switch}
        for name, units in on_switch.items():
            data = {communities[name]: switch_snmprec(units)}
            self.agents[name] = SnmpAgent(self.workdir / f"snmpsim-{name}", data)
        _in_parallel([agent.start for agent in self.agents.values()])  # each takes seconds
        for name, units in on_switch.items():
            pse = SimPse(self.agents[name], communities[name], detect_s=PSE_DETECT_S)
            for port in units:
                pse.watch(port)
            self.pses[name] = pse
        # Watched ports deliver once detection has run: waited out here, so the PSE's first
        # look finds them delivering and the cameras, already up, keep running.
        time.sleep(PSE_DETECT_S * 2)
        return {n: {"host": self.agents[n].target, "community": c} for n, c in communities.items()}

    def _wait_online(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not all(c.online for c in self.cameras.values()):
            if time.monotonic() > deadline:
                down = [n for n, c in self.cameras.items() if not c.online]
                raise RuntimeError(f"cameras not online after {timeout_s:g} s: {down}")
            time.sleep(0.05)

    def reload(self, bay: str) -> str:
        camera = self.cameras[bay]
        with self._guard:
            loads = self._loads[bay] = self._loads.get(bay, 0) + 1
            if loads > 1 and self._distinct[bay]:
                n = self.plan[bay]["camera"] + 1000 * loads  # MACs and serials apart per load
                spec = camera.spec
                camera.spec = dataclasses.replace(
                    spec,
                    mac=CameraSpec.sample(n).mac,
                    device_sn=f"{spec.device_sn[:-8]}{12345000 + n:08d}",
                )
            if not camera.activated:
                camera.activate()  # the next unit off the returns pile: set up by a customer
        return str(camera.spec.device_sn[-13:])

    def state(self, bay: str) -> dict[str, Any]:
        camera = self.cameras[bay]
        return {
            "online": camera.online,
            "phase": camera.phase,
            "activated": camera.activated,
            "resets": camera.resets,
            "power_cycles": camera.power_cycles,
            "mac": camera.spec.mac,
            "serial": camera.spec.device_sn,
        }

    def stop(self) -> None:
        # The cameras' HTTP servers each take a poll interval to shut down: in parallel.
        cameras = threading.Thread(
            target=_in_parallel, args=([c.stop for c in self.cameras.values()],), daemon=True
        )
        cameras.start()
        for pse in self.pses.values():
            pse.stop()
        _in_parallel([agent.stop for agent in self.agents.values()])
        cameras.join(timeout=30)
        self.network.stop()
        for board in self.boards.values():
            board.stop()


def _in_parallel(calls: list[Callable[[], object]]) -> None:
    """Run the calls at once, each on a thread; the first error is raised once all are done."""
    errors: list[BaseException] = []

    def run(call: Callable[[], object]) -> None:
        try:
            call()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(call,), daemon=True) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def _pin_of(board: Any, ch: int) -> Callable[[], bool]:
    return lambda: bool(board.pin_is_down(ch))


def _power_of(board: Any, ch: int) -> Callable[[], bool]:
    return lambda: bool(board.power_is_on(ch))


def _port_of(pse: Any, port: int) -> Callable[[], bool]:
    return lambda: bool(pse.powered(port))


def _on_channel(board: str, wires: dict[tuple[str, int], _Wire]) -> Callable[[int], None]:
    def changed(ch: int) -> None:
        wire = wires.get((board, ch))
        if wire is not None:  # a presser board's spare channel drives nothing
            wire.update()

    return changed


def _on_port(switch: str, ports: dict[tuple[str, int], _Wire]) -> Callable[[int, bool], None]:
    def changed(port: int, delivering: bool) -> None:
        wire = ports.get((switch, port))
        if wire is not None:
            wire.update()

    return changed


def _child(stdin: TextIO, out: TextIO) -> int:
    """The child's loop: the plan in, the layout out, then requests until stdin closes."""
    import logging
    import traceback

    logging.basicConfig(format="%(relativeCreated)d %(threadName)s %(name)s %(message)s")

    def send(message: dict[str, Any]) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    lab: _Lab | None = None
    try:
        for line in stdin:
            request = json.loads(line)
            op = request.get("op")
            try:
                if op == "start" and lab is None:
                    logging.getLogger().setLevel(request.get("log_level", "WARNING"))
                    bays = [FarmBay(**b) for b in request["bays"]]
                    workdir = Path(request["workdir"])
                    lab = _Lab(bays, request["plan"], workdir)
                    send({"layout": lab.start()})
                elif op == "relay" and lab is not None:
                    lab.network.peers = [_address(p) for p in request["peers"]]
                    send({"relay": len(lab.network.peers)})
                elif op == "reload" and lab is not None:
                    send({"serial": lab.reload(request["bay"])})
                elif op == "state" and lab is not None:
                    send({"state": lab.state(request["bay"])})
                else:
                    send({"error": f"unknown request {op!r}"})
            except Exception as exc:
                traceback.print_exc()
                send({"error": f"{type(exc).__name__}: {exc}"})
                if op == "start":
                    return 1
    finally:
        if lab is not None:
            lab.stop()
    return 0


def main() -> int:
    # The protocol keeps the real stdout; anything else printed to fd 1 (a library's
    # print) goes to stderr, the farm's log, and cannot corrupt a reply.
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)

    def terminate(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)  # unwinds through _child's cleanup

    signal.signal(signal.SIGTERM, terminate)
    return _child(sys.stdin, out)


if __name__ == "__main__":
    raise SystemExit(main())
