"""Table 10: a switch bay's cut and power-on through a real SNMP agent (snmpsim on 127.0.0.1),
against the simulated PSE's own detection time."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from rig.clock import SystemClock


def switch_port_times(cycles: int, detect_s: float) -> tuple[list[float], list[float]]:
    """Seconds of each cut and each power-on of one port through snmpsim and the simulated
    PSE (which starts delivering `detect_s` after the port is enabled)."""
    from rig.hardware.switch import SwitchPowerSwitch
    from rig.network.snmp import Credentials, SnmpClient
    from rig.network.snmp.poe import StandardPoe
    from rig.sim.snmp import SimPse, SnmpAgent, switch_snmprec

    workdir = Path(tempfile.mkdtemp(prefix="rig-bench-snmp-"))
    data = {"bench": switch_snmprec({5: ["c0-56-e3-00-00-01"]})}
    cuts: list[float] = []
    ons: list[float] = []
    with (
        SnmpAgent(workdir, data) as agent,
        SimPse(agent, "bench", detect_s=detect_s).watch(5),
        SnmpClient(
            "sw1", agent.host, agent.port, credentials=Credentials(community="bench")
        ) as client,
    ):
        clock = SystemClock()
        power = SwitchPowerSwitch(
            poe=StandardPoe(client), switch="sw1", group=1, port=5, clock=clock, poll_s=0.01
        )
        power.state()  # the client's first request sets up its engine: a station does it at
        # its start (it reads each switch's table), so no cut measured here pays for it
        for _ in range(cycles):
            started = time.monotonic()
            power.off()
            cuts.append(time.monotonic() - started)
            started = time.monotonic()
            power.on()
            ons.append(time.monotonic() - started)
    return cuts, ons
