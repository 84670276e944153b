"""A simulated switch bench for the switch tests: snmpsim (a real SNMP agent) on 127.0.0.1
serving the real TP-Link walk with writable PoE rows, a simulated PSE whose ports power the
simulated cameras, a SADP network on loopback, and the rig.toml for a switch bay."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import tomli_w
from gpiozero.pins.mock import MockFactory

from rig.sim.camera import CameraSpec, SimCamera
from rig.sim.network import SimNetwork
from rig.sim.snmp import AgentClient, SimPse, SnmpAgent, switch_snmprec

COMMUNITY = "rig-s3cret-community"  # a secret: must never appear in output or records
PORT = 5
SOLENOID = 27
FAST = {"boot_s": 0.3, "reset_hold_s": 1.2}
ADMIN = "1.3.6.1.2.1.105.1.1.1.3.1.{port}"


class SwitchBench:
    def __init__(self, tmp_path: Path, factory: MockFactory, network: SimNetwork) -> None:
        self.tmp_path = tmp_path
        self.factory = factory
        self.network = network
        self.cameras: list[SimCamera] = []
        self.agent: SnmpAgent | None = None
        self.pse: SimPse | None = None
        self._probe: AgentClient | None = None

    def switch(
        self,
        units: Mapping[int, Iterable[str]],
        *,
        stuck: Iterable[int] = (),
        unplugged: Iterable[int] = (),
        **snmprec: Any,
    ) -> SimPse:
        """Start the agent with `units` learned on their ports, and the PSE for them."""
        text = switch_snmprec({p: list(m) for p, m in units.items()}, **snmprec)
        self.agent = SnmpAgent(self.tmp_path / "snmpsim", {COMMUNITY: text}).start()
        self.pse = SimPse(self.agent, COMMUNITY)
        stuck, unplugged = set(stuck), set(unplugged)
        for port in units:
            self.pse.watch(port, stuck=port in stuck, plugged=port not in unplugged)
        return self.pse.start()

    def admin(self, port: int = PORT) -> int | None:
        """The agent's own pethPsePortAdminEnable for `port` (1 on, 2 off)."""
        assert self.agent is not None
        if self._probe is None:
            self._probe = AgentClient(self.agent.host, self.agent.port, COMMUNITY)
        oid = ADMIN.format(port=port)
        return self._probe.get([oid])[oid]

    def camera(self, n: int, *, port: int | None = PORT, **spec: Any) -> SimCamera:
        """A camera on the SADP network; its power follows `port` of the PSE (None: another
        bench's unit, always up), its reset button the bay's solenoid pin."""
        camera = SimCamera(CameraSpec.sample(n, **{**FAST, **spec})).start()
        self.cameras.append(camera)
        self.network.add(camera)
        if port is not None:
            assert self.pse is not None
            pse, pin = self.pse, self.factory.pin(SOLENOID)
            camera.watch(lambda: pse.powered(port), lambda: bool(pin.state))
        else:
            camera.power_on()
        return camera

    def config(self, **bay: Any) -> Path:
        assert self.agent is not None
        doc: dict[str, Any] = {
            "station": {"name": "switch-bench", "data_dir": str(self.tmp_path / "records")},
            "network": {
                "sadp_target": self.network.target,
                "sadp_poll_s": 0.1,
                "settle_s": 0.4,
            },
            "switches": {
                "sw1": {
                    "host": self.agent.target,
                    "community_env": "RIG_SW1_COMMUNITY",
                    "timeout_s": 1.0,
                    "cut_timeout_s": 3.0,  # generous: a loaded machine slows the sim PSE
                    "on_timeout_s": 4.0,
                }
            },
            "bays": [
                {
                    "name": "B",
                    "power": {"switch": "sw1", "port": PORT},
                    "presser": {"gpio": SOLENOID},
                    "profile": "DS-2CD2143G2-I",
                    "off_s": 0.6,
                    "hold_s": 1.5,
                    "boot_timeout_s": 6,
                    **bay,
                }
            ],
        }
        path = self.tmp_path / "rig.toml"
        path.write_text(tomli_w.dumps(doc))
        return path

    def close(self) -> None:
        for camera in self.cameras:
            camera.stop()
        if self._probe is not None:
            self._probe.close()
        if self.pse is not None:
            self.pse.stop()
        if self.agent is not None:
            self.agent.stop()


@contextmanager
def switch_bench(
    tmp_path: Path, factory: MockFactory, network: SimNetwork
) -> Iterator[SwitchBench]:
    bench = SwitchBench(tmp_path, factory, network)
    try:
        yield bench
    finally:
        bench.close()
