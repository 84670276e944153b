"""An answer the client has parsed before is not parsed again (rig.network.sadp.client
`_parse`): the same unit's datagram differs from probe to probe only by the Uuid it echoes.
What the client returns must be exactly what a full parse of that datagram gives."""

from __future__ import annotations

import dataclasses

import pytest

import rig.network.sadp.client as client_module
from rig.network.sadp import SadpClient, parse_probe_match
from rig.sim.camera import CameraSpec, SimCamera
from rig.sim.network import SimNetwork


def test_a_unit_answering_again_is_parsed_once_and_read_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parsed: list[bytes] = []

    def counting(data: bytes, **kwargs: object):  # type: ignore[no-untyped-def]
        parsed.append(data)
        return parse_probe_match(data, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(client_module, "parse_probe_match", counting)
    with SimNetwork() as network:
        camera = SimCamera(CameraSpec.sample(7, activated=False)).start()
        camera.power_on()
        network.add(camera)
        host, _, port = network.target.rpartition(":")
        with SadpClient((host, int(port))) as client:
            answers = [client.probe(1.0) for _ in range(4)]
            camera.activate()  # a changed unit: its new datagram is parsed in full
            changed = client.probe(1.0)
        camera.stop()
    assert [len(a) for a in answers] == [1, 1, 1, 1] and len(changed) == 1
    assert len(parsed) == 2  # the first answer, and the changed one
    first, *again = (a[0] for a in answers)
    for reply in again:
        fresh = dataclasses.replace(
            parse_probe_match(reply.xml.encode(), expect_uuid=reply.uuid), sender=reply.sender
        )
        assert reply.uuid != first.uuid  # each probe has its own Uuid, echoed back
        assert reply == fresh and reply.raw == fresh.raw and reply.xml == fresh.xml
    assert changed[0].activated is True and first.activated is not True
