"""The poller against a simulated camera on loopback: a unit is noticed the moment it answers,
not when the listening window closes.

The test checks the order of things (the unit is present while the probe that found it is still
listening), never how fast the machine is.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from rig.network.sadp import SadpClient, SadpEvent, SadpPoller, SadpReply
from rig.sim.camera import CameraSpec, SimCamera
from rig.sim.network import SimNetwork


class ListeningFlag:
    """A SadpClient wrapper that knows whether a probe is still inside its window."""

    def __init__(self, client: SadpClient) -> None:
        self.client = client
        self.listening = threading.Event()

    def probe(
        self, window_s: float, on_reply: Callable[[SadpReply], None] | None = None
    ) -> list[SadpReply]:
        self.listening.set()
        try:
            return self.client.probe(window_s, on_reply)
        finally:
            self.listening.clear()


def test_a_unit_is_present_as_soon_as_its_answer_arrives() -> None:
    camera = SimCamera(CameraSpec.sample(1)).start()
    try:
        with SimNetwork([camera]) as network, SadpClient(network.address) as client:
            prober = ListeningFlag(client)
            poller = SadpPoller(prober, poll_s=2.0)  # a long window: 2 s
            seen: list[tuple[SadpEvent, bool, bool]] = []
            noticed = threading.Event()

            def on_event(event: SadpEvent) -> None:
                present = event.mac in poller.present()
                seen.append((event, prober.listening.is_set(), present))
                noticed.set()

            poller.subscribe(on_event)
            with poller:
                assert noticed.wait(30.0)  # a bound against a hang, not a speed check
            [(event, still_listening, present)] = seen
            assert (event.kind, event.mac) == ("appeared", camera.spec.mac)
            assert still_listening  # published before the window closed
            assert present  # and the poller already counts it present
            assert [e.kind for e in poller.events] == ["appeared"]
    finally:
        camera.stop()
