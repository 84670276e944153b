"""The command line as a technician uses it: real processes, mock pins, records on disk."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rig.cli import main
from rig.config import EXAMPLE_CONFIG, default_data_dir
from rig.profiles import all_profiles
from rig.records.store import RecordStore

BENCH = """
[station]
name = "bench-1"
data_dir = "records"

[[bays]]
name = "A"
power = {{ gpio = 17, active_high = false }}
presser = {{ gpio = 27 }}
profile = "DS-2CD2143G2-I"
off_s = 0.5
hold_s = {hold_s}
verify = "manual"
"""


def rig(
    *args: str, cwd: Path, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    environment = {**os.environ, "GPIOZERO_PIN_FACTORY": "mock", **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rig", *args],
        cwd=cwd,
        env=environment,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None
    proc.stdin.write(stdin)
    proc.stdin.flush()
    return proc


def test_reset_walks_the_sequence_and_records_it(tmp_path: Path) -> None:
    (tmp_path / "rig.toml").write_text(BENCH.format(hold_s=1.0))
    proc = rig(
        "reset", "--bay", "A", "--serial", "AAWRJ123", "--json", cwd=tmp_path, stdin="y\ny\n"
    )
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert len(lines) == 1  # stdout holds the JSON and nothing else
    job = json.loads(lines[0])
    assert job["outcome"] == "reset_verified"
    assert job["bay"] == "A"
    assert job["serial"] == "AAWRJ123"
    assert abs(job["hold_s"] - 1.0) < 0.05
    assert [s["name"] for s in job["steps"]] == [
        "identify",
        "power_off",
        "press",
        "power_on",
        "hold",
        "wait_back",
        "verify",
        "safe",
    ]
    assert "holding" in err
    with RecordStore(tmp_path / "records") as store:
        record = store.job(job["job_id"])
    assert record["outcome"] == "reset_verified"
    assert record["station"] == "bench-1"
    assert [s["name"] for s in record["steps"]] == [s["name"] for s in job["steps"]]


def test_operator_saying_not_reset_exits_1(tmp_path: Path) -> None:
    (tmp_path / "rig.toml").write_text(BENCH.format(hold_s=1.0))
    proc = rig("reset", "--json", cwd=tmp_path, stdin="y\nn\n")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert json.loads(out)["outcome"] == "not_reset"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_mid_hold_aborts_safely_and_records_it(tmp_path: Path, sig: signal.Signals) -> None:
    (tmp_path / "rig.toml").write_text(BENCH.format(hold_s=20.0))
    proc = rig("reset", "--json", cwd=tmp_path)
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    seen = ""
    while "holding" not in seen and time.monotonic() < deadline:
        seen += proc.stderr.readline()
    assert "holding" in seen
    sent_at = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent_at < 5
    assert proc.returncode == 1
    assert "Traceback" not in err
    job = json.loads(out)
    assert job["outcome"] == "aborted"
    assert job["reason"] == f"stopped by {sig.name}"
    safe = job["steps"][-1]
    assert safe["name"] == "safe" and safe["details"]["safe"] is True
    hold = next(s for s in job["steps"] if s["name"] == "hold")
    assert hold["error"] == f"stopped by {sig.name}"
    assert hold["ended_mono"] - hold["started_mono"] < 10  # it did not wait out the 20 s


def test_init_writes_the_example_and_will_not_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "rig.toml"
    assert main(["init", str(path)]) == 0
    assert path.read_text() == EXAMPLE_CONFIG
    assert main(["init", str(path)]) == 2
    assert capsys.readouterr().err.strip().endswith("already exists (use --force to overwrite)")


def test_profiles_lists_every_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profiles"]) == 0
    out = capsys.readouterr().out
    for model in all_profiles():
        assert model in out
    assert "memory-card slot" in out
    assert set(all_profiles()) == {
        "DS-2CD2086G2-I",
        "DS-2CD2143G2-I",
        "DS-2CD2343G2-I",
        "DS-2CD2347G2-LU",
        "DS-2CD2386G2-ISU/SL",
        "hikvision-generic",
    }
    for profile in all_profiles().values():
        assert profile.hold_window_s == (15.0, 20.0)
        assert profile.hold_window_s[0] <= profile.hold_s <= profile.hold_window_s[1]
        assert profile.escalation_holds_s[-1] <= 60


def test_report_exports_csv_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "rig.toml").write_text(BENCH.format(hold_s=1.0))
    proc = rig("reset", "--json", cwd=tmp_path, stdin="y\ny\n")
    proc.communicate(timeout=60)
    config = str(tmp_path / "rig.toml")
    assert main(["report", "--config", config, "--format", "csv"]) == 0
    csv_text = capsys.readouterr().out
    assert csv_text.splitlines()[0].startswith("job_id,station,bay,serial")
    assert ",reset_verified," in csv_text
    assert main(["report", "--config", config, "--format", "json", "--since", "2000-01-01"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["outcome"] == "reset_verified"
    assert main(["report", "--config", config, "--since", "yesterday"]) == 2
    assert "--since: expected a date YYYY-MM-DD" in capsys.readouterr().err


def test_default_data_dir_honours_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_data_dir() == tmp_path / "rig"


def test_unknown_bay_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "rig.toml").write_text(BENCH.format(hold_s=1.0))
    assert main(["reset", "--config", str(tmp_path / "rig.toml"), "--bay", "Z"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"rig: error: {tmp_path / 'rig.toml'}: no bay named 'Z' (bays: A)"
    )


def test_status_describes_each_bay_by_its_backend(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "rig.toml"
    config.write_text(
        '[station]\nname = "bench-1"\ndata_dir = "records"\n'
        '[boards.b1]\nport = "loop://"\n'
        '[[bays]]\nname = "A"\npower = { gpio = 17 }\npresser = { gpio = 27 }\n'
        '[[bays]]\nname = "B"\npower = { board = "b1", channel = 2 }\npresser = "manual"\n'
    )
    assert main(["status", "--config", str(config)]) == 0
    lines = capsys.readouterr().out.splitlines()
    [a] = [line for line in lines if line.startswith("│ A ")]
    [b] = [line for line in lines if line.startswith("│ B ")]
    assert "GPIO17" in a and "GPIO27" in a
    assert "b1 ch2" in b and "manual" in b
