"""The guard that keeps every test on loopback must itself work."""

from __future__ import annotations

import socket

import pytest

from rig.config import NetworkConfig
from rig.network.sadp import SadpClient


def test_multicast_probe_is_stopped_by_the_guard() -> None:
    with (
        SadpClient(NetworkConfig().sadp_target) as client,
        pytest.raises(AssertionError, match=r"239\.255\.255\.250.*only loopback is allowed"),
    ):
        client.probe(0.01)


def test_private_address_is_stopped_by_the_guard() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        with pytest.raises(AssertionError, match="only loopback is allowed"):
            sock.sendto(b"x", ("192.168.1.64", 37020))
        with pytest.raises(AssertionError, match="only loopback is allowed"):
            sock.connect(("192.168.1.64", 80))
        sock.sendto(b"x", ("127.0.0.1", 9))  # loopback is fine
    finally:
        sock.close()
