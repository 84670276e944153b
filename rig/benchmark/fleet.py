"""Table 11: the reset with a fleet configured whose PostgreSQL and MQTT broker are away
(ports that take a connection and never answer), against no fleet: as ratios."""

from __future__ import annotations

import socket
import statistics

from rig.benchmark.lab import Lot, Timing, in_own_process, run_station
from rig.benchmark.report import console, table


def fleet_down(timing: Timing) -> None:
    """One bay with no fleet, then with a fleet whose servers are away: listening sockets
    that never accept (a hung server: the worst case, each connection attempt waits out its
    timeout). The sender and the publisher keep trying on their own threads meanwhile."""
    silent = [socket.create_server(("127.0.0.1", 0), backlog=1) for _ in range(2)]
    pg_port, mqtt_port = (s.getsockname()[1] for s in silent)
    fleet = (
        f'\n[fleet]\npostgres = "postgresql://rig@127.0.0.1:{pg_port}/lab"\n'
        f'mqtt = "mqtt://127.0.0.1:{mqtt_port}"\n'
    )
    try:
        alone = in_own_process(run_station, Lot(1), timing)
        away = in_own_process(run_station, Lot(1), timing, fleet=fleet)
    finally:
        for sock in silent:
            sock.close()
    t = table(
        "11. the reset with the fleet's servers away (one bay)",
        "measure",
        "no fleet",
        "servers away",
        "away / none",
    )

    def row(name: str, a: float, b: float, unit: str) -> None:
        ratio = f"{b / a:.2f}" if a else "-"
        t.add_row(name, f"{a:.3f} {unit}", f"{b:.3f} {unit}", ratio)

    med = statistics.median
    row("a unit, identify to safe, median", med(alone.spans_s), med(away.spans_s), "s")
    row("rig overhead per unit, median", med(alone.overheads_s), med(away.overheads_s), "s")
    worst = abs(max(alone.hold_errors_ms, key=abs)), abs(max(away.hold_errors_ms, key=abs))
    # Milliseconds of jitter make a ratio noise: the figure to hold is the 20 ms target.
    within = "both <= 20 ms" if max(worst) <= 20 else "OVER 20 ms"
    t.add_row("hold error, worst", f"{worst[0]:.3f} ms", f"{worst[1]:.3f} ms", within)
    t.add_row("units verified", str(alone.verified), str(away.verified), "")
    # Not a reset's time: at the stop the sender is given a moment to end its attempt.
    row("station stop after the last unit", alone.stop_s, away.stop_s, "s")
    console.print(t)
