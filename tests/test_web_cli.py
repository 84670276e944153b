"""`rig run --web` and `rig demo --bays N [--web]` from the command line: the page of a real
`rig` process in headless chromium, the stop button ending it, and the one-line refusals."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from rig.cli import main
from rig.records.store import RecordStore
from tests.fakes import wait_until
from tests.test_web import WAIT_MS, bay_card

STATION = """
[station]
name = "lab-1"
data_dir = "{data_dir}"

[[bays]]
name = "A"
power = {{ gpio = 17, active_high = false }}
presser = {{ gpio = 27 }}
verify = "manual"
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def page_up(url: str) -> bool:
    try:
        return requests.get(url + "state", timeout=2).ok
    except requests.ConnectionError:
        return False


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "rig.toml"
    path.write_text(STATION.format(data_dir=tmp_path / "records"))
    return path


def rig(*argv: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "rig", *argv],
        env={**os.environ, "GPIOZERO_PIN_FACTORY": "mock", **(env or {})},
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def test_rig_run_web_serves_the_station_until_its_stop_button(
    config: Path, processes: list[subprocess.Popen[str]]
) -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    proc = rig("run", "--config", str(config), "--web", url[7:-1])
    processes.append(proc)
    assert wait_until(lambda: page_up(url), timeout_s=60) is not None
    assert proc.stdin is not None and proc.stderr is not None
    # stdin is a pipe, not a technician at a terminal: its end leaves the page in charge.
    proc.stdin.close()
    state = requests.get(url + "state", timeout=10).json()
    assert state["station"] == "lab-1" and [b["name"] for b in state["bays"]] == ["A"]
    assert wait_until(
        lambda: (
            requests.get(url + "state", timeout=10).json()["bays"][0]["stage"].startswith("ready")
        ),
        timeout_s=30,
    )
    assert proc.poll() is None
    assert requests.post(url + "stop", timeout=10).status_code == 202
    assert proc.wait(timeout=60) == 0
    err = proc.stderr.read()
    assert f"station page: {url}" in err


def test_rig_run_web_beyond_loopback_without_a_token_is_refused(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RIG_WEB_TOKEN", raising=False)
    assert main(["run", "--config", str(config), "--web", "0.0.0.0:8765"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line == (
        "rig: error: --web 0.0.0.0:8765: listening beyond this machine needs a token: "
        "set RIG_WEB_TOKEN"
    )
    assert main(["run", "--config", str(config), "--web", "nowhere:port"]) == 2
    assert capsys.readouterr().err.startswith("rig: error: --web: port must be a number")


def test_rig_demo_bays_runs_the_station_with_its_faults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["demo", "--bays", "4", "--data-dir", str(tmp_path), "--off-s", "0.6"]
    assert main([*argv, "--hold-s", "1.5", "--boot-s", "0.3"]) == 0
    err = capsys.readouterr().err
    assert "report: " in err and (tmp_path / "report.html").exists()
    with RecordStore(tmp_path) as store:
        jobs = store.jobs()
    last = {job["bay"]: job["outcome"] for job in jobs}  # each bay's last attempt
    assert last == {
        "A": "reset_verified",
        "B": "reset_verified",
        "C": "no_response",
        "D": "reboot_loop",
    }
    assert [job["outcome"] for job in jobs if job["bay"] == "B"] == ["not_reset", "reset_verified"]


def test_rig_demo_refuses_bad_bays_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--bays", "0"]) == 2
    assert capsys.readouterr().err == (
        "rig: error: --bays: 1 to 12 (a relay and a solenoid GPIO each), got 0\n"
    )
    assert main(["demo", "--web"]) == 2
    assert "add --bays N" in capsys.readouterr().err
    assert main(["demo", "--bays", "2", "--board"]) == 2
    assert "without --board, --json or --qa" in capsys.readouterr().err


def test_rig_demo_bays_4_web_shows_four_bays_working_live(
    browser: Any,
    tmp_path: Path,
    processes: list[subprocess.Popen[str]],
) -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    argv = ["demo", "--bays", "4", "--data-dir", str(tmp_path), "--web", url[7:-1]]
    proc = rig(*argv, "--off-s", "0.6", "--hold-s", "1.5", "--boot-s", "0.3")
    processes.append(proc)
    assert wait_until(lambda: page_up(url), timeout_s=60) is not None
    page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    page.goto(url)
    for bay in "ABCD":
        bay_card(page, bay).wait_for(timeout=WAIT_MS)
    # Every bay ends as its simulated unit makes it, shown live; B after the longer hold.
    for bay, outcome in [
        ("A", "reset_verified (1"),
        ("B", "reset_verified (2"),
        ("C", "no_response"),
        ("D", "reboot_loop"),
    ]:
        page.wait_for_function(
            f"() => document.querySelector(\"[data-bay='{bay}'] .badge\")?.textContent"
            f".startsWith('{outcome}')",
            timeout=90_000,
        )
    # Nothing of the page spills past a phone's width.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.inner_text("[data-figure='units']") == "4"
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#stop")
    assert proc.wait(timeout=60) == 0  # 0: every bay ended as its unit was built to
    page.close()
