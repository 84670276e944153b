"""`rig demo` (what `make demo` runs): the whole chain on any machine, ending verified."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rig.cli import main
from rig.records.store import RecordStore


@pytest.mark.parametrize("board", [False, True], ids=["mock-pins", "sim-board"])
def test_demo_ends_reset_verified(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], board: bool
) -> None:
    argv = ["demo", "--json", "--data-dir", str(tmp_path), "--off-s", "0.6", "--hold-s", "1.5"]
    argv += ["--boot-s", "0.3", *(["--board"] if board else [])]
    assert main(argv) == 0
    captured = capsys.readouterr()
    job = json.loads(captured.out.splitlines()[0])
    assert job["outcome"] == "reset_verified"
    assert abs(job["hold_s"] - 1.5) < 0.02
    assert "reset record" in captured.err  # the record printed at the end
    with RecordStore(tmp_path) as store:
        [record] = store.jobs()
    assert record["outcome"] == "reset_verified"
    assert record["serial"] == job["serial"]
