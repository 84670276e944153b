"""The poller against a simulated camera on loopback: a unit is noticed the moment it answers,
not when the listening window closes."""

from __future__ import annotations

import time

from rig.network.sadp import SadpClient, SadpPoller
from rig.sim.camera import CameraSpec, SimCamera
from rig.sim.network import SimNetwork


def test_a_unit_is_present_as_soon_as_its_answer_arrives() -> None:
    camera = SimCamera(CameraSpec.sample(1)).start()
    try:
        with SimNetwork([camera]) as network, SadpClient(network.address) as client:
            poller = SadpPoller(client, poll_s=2.0)  # a long window: 2 s
            started = time.monotonic()
            with poller:
                assert poller.wait_for(lambda present: camera.spec.mac in present, 1.0)
                noticed_s = time.monotonic() - started
            assert noticed_s < 0.5  # well before the 2 s window closed
            [event] = poller.events
            assert (event.kind, event.mac) == ("appeared", camera.spec.mac)
    finally:
        camera.stop()
