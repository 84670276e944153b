"""Shared fixtures: a fake clock that gpiozero's mock pins also read, scripted operators and
verifiers, and a records directory per test."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPWMPin

from rig.clock import FakeClock
from rig.sim.network import SimNetwork
from tests.browser import missing_chromium, playwright_chromium
from tests.fakes import ScriptedOperator

# The fleet's real servers (PostgreSQL, Mosquitto), started only by the tests that use them.
pytest_plugins = ["tests.fleet_fixtures"]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """A fake clock; the mock pins timestamp their changes on it too."""
    fake = FakeClock()
    monkeypatch.setattr("gpiozero.pins.mock.monotonic", fake.monotonic)
    return fake


@pytest.fixture
def pins(clock: FakeClock) -> Iterator[MockFactory]:
    factory = MockFactory(pin_class=MockPWMPin)
    previous = Device.pin_factory
    Device.pin_factory = factory
    yield factory
    factory.reset()
    Device.pin_factory = previous


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "records"


@pytest.fixture
def operator() -> ScriptedOperator:
    return ScriptedOperator()


_real_sendto = socket.socket.sendto
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _loopback_or_local(address: object) -> bool:
    if isinstance(address, str | bytes):  # AF_UNIX paths
        return True
    host = address[0] if isinstance(address, tuple) else address
    try:
        return ipaddress.ip_address(str(host)).is_loopback
    except ValueError:
        return str(host) == "localhost"


def _guard(address: object) -> None:
    if not _loopback_or_local(address):
        raise AssertionError(f"a test tried to send to {address!r}: only loopback is allowed")


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing in the tests may send a packet anywhere but 127.0.0.0/8 (no multicast, no LAN)."""

    def sendto(self: socket.socket, data: Any, *args: Any) -> int:
        _guard(args[-1])
        return _real_sendto(self, data, *args)

    def connect(self: socket.socket, address: Any) -> None:
        _guard(address)
        _real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        _guard(address)
        return _real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "sendto", sendto)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


@pytest.fixture
def lab() -> Iterator[tuple[MockFactory, SimNetwork]]:
    """Mock pins for the whole process and a simulated camera LAN on 127.0.0.1 (a station's
    bench); the cameras added to it are stopped afterwards. Modules may define their own."""
    factory = MockFactory(pin_class=MockPWMPin)
    previous, Device.pin_factory = Device.pin_factory, factory
    with SimNetwork() as network:
        yield factory, network
        for camera in network.cameras:
            camera.stop()
    Device.pin_factory = previous
    factory.reset()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A real browser (Debian's chromium through Playwright) for the page tests."""
    if (why := missing_chromium()) is not None:
        pytest.fail(why)
    with playwright_chromium() as chromium:
        yield chromium
