"""Units that start themselves (`[station] autostart = true`): a switch bay whose port goes
from not delivering power to `deliveringPower` has had a unit plugged in; once a MAC the
switch learned on that port answers SADP, the unit is up, and its job starts with no scan.

One thread for the station, polling each idle switch bay's port (a GET of its PoE row; the
forwarding table is walked only while a unit is detected). A bay is armed by seeing its port
empty while idle: a unit that was already plugged in at the start, or that is still powered
after its job, starts nothing until it is unplugged and plugged in again (or scanned). What
each bay shows: "waiting for a unit", then "unit detected" until its job starts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from rig.errors import HardwareFault
from rig.hardware.switch import SwitchPowerSwitch

log = logging.getLogger(__name__)

WAITING = "waiting for a unit"
DETECTED = "unit detected"
POLL_S = 1.0


@dataclass
class _Bay:
    name: str
    power: SwitchPowerSwitch
    armed: bool = False  # its port was seen empty while the bay was idle
    detected: bool = False  # its port delivers power; waiting for the unit on SADP
    fault: str | None = None  # the last error reading the switch (logged once)


class AutoStart:
    """Feeds a bay's job when its unit plugs itself in.

    `idle(bay)`: may the bay take a unit now; `start(bay, mac)`: claim the bay and start the
    job (False if it was taken meanwhile, by a scan); `present()`: the MACs answering SADP;
    `show(bay, text)`: the bay's line in the live table.
    """

    def __init__(
        self,
        bays: Sequence[tuple[str, SwitchPowerSwitch]],
        *,
        idle: Callable[[str], bool],
        start: Callable[[str, str], bool],
        present: Callable[[], Mapping[str, object]],
        show: Callable[[str, str], None],
        poll_s: float = POLL_S,
    ) -> None:
        self._bays = [_Bay(name, power) for name, power in bays]
        self._idle = idle
        self._start = start
        self._present = present
        self._show = show
        self._poll_s = poll_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="autostart", daemon=True)

    def armed(self, bay: str) -> bool:
        """Has the bay's port been seen empty while it was idle (the next unit plugged in
        starts itself)?"""
        return any(b.armed for b in self._bays if b.name == bay)

    def __enter__(self) -> AutoStart:
        if self._bays:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self._poll_s):
            for bay in self._bays:
                try:
                    self.look(bay)
                except HardwareFault as exc:
                    if str(exc) != bay.fault:  # said once, not every second
                        log.warning("bay %s: autostart cannot read its port: %s", bay.name, exc)
                    bay.fault = str(exc)
                except Exception:  # the watcher must outlive any one bad answer
                    log.exception("bay %s: autostart failed", bay.name)

    def look(self, bay: _Bay) -> None:
        if not self._idle(bay.name):
            bay.armed = bay.detected = False  # in a job: its own power cut is no new unit
            return
        state = bay.power.state()
        bay.fault = None
        if not state.delivering:
            if bay.detected:
                self._show(bay.name, WAITING)  # unplugged again before it came up
            bay.armed, bay.detected = True, False
            return
        if not bay.armed:
            return
        if not bay.detected:
            bay.detected = True
            self._show(bay.name, DETECTED)
        on_port = bay.power.port_macs()
        present = self._present()
        up = [mac for mac in (on_port.macs if on_port else ()) if mac in present]
        if up and self._start(bay.name, up[0]):
            bay.armed = bay.detected = False
