"""Shared fixtures: a fake clock that gpiozero's mock pins also read, scripted operators and
verifiers, and a records directory per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPWMPin

from rig.clock import FakeClock
from tests.fakes import ScriptedOperator


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
