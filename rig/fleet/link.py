"""What `rig run` and `rig reset` open when the config has a `[fleet]`: the outbox sender
(rig.fleet.sender) and the live publisher (rig.fleet.live), for as long as the run lasts.

Both run on threads of their own and never hold a bay up. Whatever can be wrong in how they
are set up (a password variable not set, a station name that cannot be a topic) is said at the
start, as a config error naming the key; a server that is away is not an error: records wait
in the outbox, and the publisher reconnects on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rig.config import RigConfig
from rig.job import JobReport
from rig.progress import Progress

if TYPE_CHECKING:  # psycopg and paho are loaded only when a fleet is configured
    from rig.fleet.live import LivePublisher
    from rig.fleet.sender import OutboxSender

UnitListener = Callable[[str, list[JobReport]], None]


@dataclass
class FleetLink:
    """The run's sender and publisher (either may be None: not configured)."""

    sender: OutboxSender | None = None
    publisher: LivePublisher | None = None

    def unit_done(self, bay: str, reports: list[JobReport]) -> None:
        """A unit is done (Station.unit_listeners): its jobs' events out, its records sent."""
        if self.publisher is not None:
            self.publisher.unit_done(bay, reports)
        if self.sender is not None:
            self.sender.poke()


@contextmanager
def fleet_link(
    config: RigConfig,
    data_dir: Path,
    progress: Progress,
    *,
    unit_listeners: list[UnitListener] | None = None,
    flush_s: float = 5.0,
    live: bool = True,
) -> Iterator[FleetLink]:
    """The fleet of `config` for one run (records in `data_dir`, already opened by the
    session); at the end, up to `flush_s` to upload what waits while the server answers.
    `live=False`: records only (a software reset has no bay to show on MQTT)."""
    from rig.fleet.outbox import Outbox

    fleet = config.fleet
    if fleet.postgres is None:
        with Outbox(data_dir) as outbox:
            outbox.set_aside()  # nobody would send it: no outbox grows on a rig alone
    if not fleet.enabled:
        yield FleetLink()
        return
    from rig.fleet.live import LivePublisher
    from rig.fleet.sender import OutboxSender
    from rig.fleet.settings import check_topic_names

    station = config.station.name
    sender = publisher = None
    if fleet.postgres is not None:
        fleet.postgres.connect_kwargs()  # a password variable named but not set: say it now
    mqtt = fleet.mqtt if live else None
    if mqtt is not None:
        check_topic_names(station, [b.name for b in config.bays], config.source)
        mqtt.password()
    try:
        if fleet.postgres is not None:
            outbox = Outbox(data_dir)
            outbox.requeue_if_set_aside()  # back in a fleet: the history it let go, again
            sender = OutboxSender(fleet.postgres, outbox, station=station).start()
        if mqtt is not None:
            publisher = LivePublisher(
                mqtt, station=station, bays=[b.name for b in config.bays], progress=progress
            ).start()
        link = FleetLink(sender, publisher)
        if unit_listeners is not None:
            unit_listeners.append(link.unit_done)
        try:
            yield link
        finally:
            if unit_listeners is not None and link.unit_done in unit_listeners:
                unit_listeners.remove(link.unit_done)
    finally:
        if publisher is not None:
            publisher.close()
        if sender is not None:
            sender.close(flush_s=flush_s)
