"""Fixtures of the fault suite. Tests choose the backend with `@pytest.mark.parametrize("backend",
["gpio", "board"])`; the fixtures below build bay A on it (see kit.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rig.sim.board import SimBoard
from rig.sim.network import SimNetwork
from tests.faults.kit import Bay, BoardBay, Cameras, LoggedPinBay, MockPinBay, mock_pins


@pytest.fixture
def bay(backend: str) -> Iterator[Bay]:
    """Bay A for rig running in this process (`rig.cli.main`)."""
    if backend == "gpio":
        with mock_pins() as factory:
            yield MockPinBay(factory)
    else:
        with SimBoard(channels=4) as board:
            yield BoardBay(board)


@pytest.fixture
def proc_bay(backend: str, tmp_path: Path) -> Iterator[Bay]:
    """Bay A for rig running as a process of its own (`kit.RigProcess`)."""
    if backend == "gpio":
        yield LoggedPinBay(tmp_path / "pins.log")
    else:
        with SimBoard(channels=4) as board:
            yield BoardBay(board)


@pytest.fixture
def cameras() -> Iterator[Cameras]:
    with SimNetwork() as network:
        lan = Cameras(network)
        try:
            yield lan
        finally:
            for camera in lan.started:
                camera.stop()
