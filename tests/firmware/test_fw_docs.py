"""The firmware's documents agree with their sources: PROTOCOL.md is the shared protocol, byte
for byte, and the README's pin table is pinmap.py's."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from fw_loader import FIRMWARE, REPO

SHARED_PROTOCOL = REPO.parent / "shared" / "board-protocol.md"


def test_protocol_is_the_shared_one() -> None:
    if not SHARED_PROTOCOL.is_file():
        pytest.skip(f"{SHARED_PROTOCOL} is absent: nothing to compare with")
    assert (FIRMWARE / "PROTOCOL.md").read_bytes() == SHARED_PROTOCOL.read_bytes(), (
        f"firmware/PROTOCOL.md differs from {SHARED_PROTOCOL}: copy it again"
    )


def test_readme_pin_table_is_the_pin_map(fw: SimpleNamespace) -> None:
    readme = (FIRMWARE / "README.md").read_text()
    rows = re.findall(r"^\| (\d) \| GP(\d+) \| GP(\d+) \|", readme, re.MULTILINE)
    table = {int(ch): (int(relay), int(solenoid)) for ch, relay, solenoid in rows}
    assert table == fw.pinmap.CHANNELS
    assert f"GP{fw.pinmap.LED_PIN}" in readme
