"""The station in a browser (`rig run --web`): the page in real headless chromium (Debian's,
driven by Playwright) over a station of simulated bays, its token, and the pieces under it."""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from gpiozero.pins.mock import MockFactory
from PIL import Image

from rig.clock import FakeClock, SystemClock
from rig.config import parse_config
from rig.errors import UsageError
from rig.job import JobReport, Result, Unit
from rig.labels.station import LabelPrinter
from rig.outcomes import Outcome
from rig.progress import Progress
from rig.sim.bench import gpio_bay, rig_toml, wire_to_pins
from rig.sim.camera import CameraSpec, SimCamera
from rig.sim.network import SimNetwork
from rig.station import Station, unit_outcome
from rig.web.feed import StationFeed, unit_qa
from rig.web.scans import STOP_LINE, WebScans, check_scan
from rig.web.serve import WebOption, parse_listen, station_web
from tests.fakes import ScriptedOperator, wait_until

PINS = {"A": (17, 27), "B": (22, 23)}
TOKEN = "bench-token-0123456789"
WAIT_MS = 30_000  # generous: a loaded 2-core machine


class LiveStation:
    """A station of simulated bays running in a thread, its page served on a free port."""

    def __init__(
        self,
        factory: MockFactory,
        network: SimNetwork,
        tmp_path: Path,
        token: str | None,
        labels: str = "",
    ) -> None:
        self.cameras: dict[str, SimCamera] = {}
        for n, (bay, (relay, solenoid)) in enumerate(PINS.items(), start=1):
            camera = SimCamera(CameraSpec.sample(n, boot_s=0.3, reset_hold_s=1.2)).start()
            network.add(camera)
            self.cameras[bay] = wire_to_pins(camera, factory, relay=relay, solenoid=solenoid)
        timing = {"off_s": 0.6, "hold_s": 1.5, "boot_timeout_s": 8, "profile": "DS-2CD2143G2-I"}
        config = parse_config(
            rig_toml(
                target=network.target,
                station="lab-1",
                network={"sadp_poll_s": 0.1, "settle_s": 0.4},
                bays=[gpio_bay(b, relay=r, solenoid=s, **timing) for b, (r, s) in PINS.items()],
            )
            + labels
        )
        self.scans = WebScans(base_ends=False)
        self.station = Station(
            config,
            clock=SystemClock(),
            data_dir=tmp_path / "records",
            operator=ScriptedOperator(),
            scans=self.scans,
            pin_factory=factory,
        )
        self.labels: LabelPrinter | None = None
        if config.labels.prints:  # as `rig run` adds it
            self.labels = LabelPrinter(
                config.labels, station="lab-1", tell=lambda line: self.station.operator.tell(line)
            )
            self.station.unit_listeners.append(self.labels.unit_done)
        self.option = WebOption("127.0.0.1", 0, token)
        self.url = ""
        self.code: int | None = None
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        assert ready.wait(30), "the station page did not start"

    def _run(self, ready: threading.Event) -> None:
        # As rig.web.serve.serve_station runs it: the page is served while the station runs.
        with station_web(self.station, self.scans, self.option, labels=self.labels) as server:
            self.url = server.url
            ready.set()
            try:
                self.code = self.station.run()
            finally:
                self.scans.close()

    def serial(self, bay: str) -> str:
        return self.cameras[bay].spec.device_sn[-13:]

    def close(self) -> None:
        self.scans.close()
        self.thread.join(timeout=60)


@pytest.fixture
def live(lab: tuple[MockFactory, SimNetwork], tmp_path: Path) -> Iterator[LiveStation]:
    station = LiveStation(*lab, tmp_path, token=None)
    yield station
    station.close()


@pytest.fixture
def guarded(lab: tuple[MockFactory, SimNetwork], tmp_path: Path) -> Iterator[LiveStation]:
    station = LiveStation(*lab, tmp_path, token=TOKEN)
    yield station
    station.close()


def bay_card(page: Any, bay: str) -> Any:
    return page.locator(f"article.bay[data-bay='{bay}']")


def test_page_shows_every_bay_a_scan_starts_its_unit_live_and_stop_ends_the_station(
    live: LiveStation, browser: Any
) -> None:
    page = browser.new_page()
    page.goto(live.url)
    page.wait_for_selector("#connection.live", timeout=WAIT_MS)
    for bay in PINS:
        card = bay_card(page, bay)
        card.wait_for(timeout=WAIT_MS)
        assert "Bay " + bay in card.inner_text()
    page.wait_for_function(
        "() => document.querySelector(\"[data-bay='B'] .stage\").textContent.startsWith('ready')",
        timeout=WAIT_MS,
    )

    # A scan typed into the field, as a USB scanner types it: bay B's unit starts, live.
    page.fill("#scan", f"B {live.serial('B')}")
    page.press("#scan", "Enter")
    page.wait_for_function(
        "() => document.querySelector(\"[data-bay='B'] .stage\").textContent === 'holding'",
        timeout=WAIT_MS,
    )
    assert live.serial("B") in bay_card(page, "B").inner_text()
    assert "queued" in page.inner_text("#scan-status")
    # The countdown runs in the page.
    countdown = bay_card(page, "B").locator(".countdown")
    assert countdown.inner_text().endswith(" s")
    assert "no unit" in bay_card(page, "A").inner_text()  # the scan went to B only

    # B's unit done: its outcome, today's figures, and its certificate in the served report.
    page.wait_for_function(
        "() => document.querySelector(\"[data-bay='B'] .badge\")?.textContent"
        ".startsWith('reset_verified')",
        timeout=WAIT_MS,
    )
    page.wait_for_function(
        "() => document.querySelector(\"[data-figure='verified']\")?.textContent === '1'",
        timeout=WAIT_MS,
    )
    job_id = live.station.units[0][-1].job_id
    link = page.locator(f"#units tr[data-job='{job_id}'] a", has_text="certificate")
    assert link.get_attribute("href") == f"/report#certificate-{job_id}"
    report = requests.get(live.url + "report", timeout=10)
    assert report.status_code == 200 and f"id='certificate-{job_id}'" in report.text

    # Stop while A runs: A finishes its unit (not aborted), then the station ends.
    page.fill("#scan", live.serial("A"))  # a bare serial: the first idle bay
    page.press("#scan", "Enter")
    page.wait_for_function(
        "() => document.querySelector(\"[data-bay='A'] .stage\").textContent === 'holding'",
        timeout=WAIT_MS,
    )
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#stop")
    assert wait_until(lambda: not live.thread.is_alive(), timeout_s=60) is not None
    assert live.code == 0
    assert [unit[-1].bay for unit in live.station.units] == ["B", "A"]
    assert [u[-1].result.outcome.value for u in live.station.units] == ["reset_verified"] * 2
    assert all(camera.in_factory_state for camera in live.cameras.values())
    page.wait_for_selector("#connection.ended", timeout=WAIT_MS)
    assert "reset_verified" in bay_card(page, "A").locator(".badge").inner_text()
    page.close()


def test_the_label_of_a_unit_done_decodes_to_its_certificate(live: LiveStation) -> None:
    import zxingcpp

    queued = requests.post(live.url + "scan", json={"scan": live.serial("A")}, timeout=10)
    assert queued.status_code == 202 and queued.json() == {"queued": live.serial("A")}
    assert wait_until(lambda: live.station.units, timeout_s=60) is not None
    job_id = live.station.units[0][-1].job_id
    label = requests.get(f"{live.url}label/{job_id}.png", timeout=10)
    assert label.headers["content-type"] == "image/png"
    [code] = zxingcpp.read_barcodes(Image.open(io.BytesIO(label.content)))
    assert code.text == f"lab-1/certificate-{job_id}"  # no [labels] url: the certificate's id
    assert requests.get(f"{live.url}label/{job_id + 99}.png", timeout=10).status_code == 404


def test_a_bad_scan_is_refused_in_one_line(live: LiveStation, browser: Any) -> None:
    answer = requests.post(live.url + "scan", data={"scan": "Z AAWRJ12345001"}, timeout=10)
    assert answer.status_code == 400
    assert answer.json()["error"] == "scan 'Z AAWRJ12345001': no bay named 'Z'"
    page = browser.new_page()
    page.goto(live.url)
    page.fill("#scan", "AB")
    page.press("#scan", "Enter")
    page.wait_for_selector("#scan-status.error", timeout=WAIT_MS)
    assert "too short" in page.inner_text("#scan-status")
    page.close()
    assert live.station.units == []


def test_with_a_token_every_request_without_it_is_refused(
    guarded: LiveStation, browser: Any
) -> None:
    url = guarded.url
    for method, path in [("GET", ""), ("GET", "events"), ("GET", "state"), ("GET", "report")]:
        assert requests.request(method, url + path, timeout=10).status_code == 401
    for path in ("scan", "stop"):
        assert (
            requests.post(url + path, json={"scan": "AAWRJ12345001"}, timeout=10).status_code == 401
        )
    wrong = {"Authorization": "Bearer not-the-token-at-all"}
    assert requests.get(url + "state", headers=wrong, timeout=10).status_code == 401
    assert requests.get(url + "state?token=nope", timeout=10).status_code == 401
    assert "needs its token" in requests.get(url, timeout=10).text
    ok = {"Authorization": f"Bearer {TOKEN}"}
    assert requests.get(url + "state", headers=ok, timeout=10).json()["station"] == "lab-1"
    assert requests.get(url + "state", headers={"X-Rig-Token": TOKEN}, timeout=10).ok
    assert guarded.thread.is_alive()  # the refused stop stopped nothing

    # A browser opened with ?token=: in a cookie from then on, out of the address and page.
    context = browser.new_context()
    page = context.new_page()
    refused = page.goto(url)
    assert refused is not None and refused.status == 401
    page.goto(url + "?token=" + TOKEN)
    page.wait_for_selector("#connection.live", timeout=WAIT_MS)
    bay_card(page, "A").wait_for(timeout=WAIT_MS)
    assert TOKEN not in page.url and TOKEN not in page.content()
    [cookie] = context.cookies()
    assert cookie["httpOnly"] and cookie["value"] == TOKEN
    context.close()


def test_the_page_runs_only_its_own_script_and_is_never_framed(live: LiveStation) -> None:
    page = requests.get(live.url, timeout=10)
    assert page.headers["content-security-policy"] == "default-src 'self'; frame-ancestors 'none'"
    assert page.headers["x-frame-options"] == "DENY"


def test_a_post_from_another_sites_page_is_refused(live: LiveStation) -> None:
    foreign = {"Origin": "http://evil.example"}
    assert requests.post(live.url + "stop", headers=foreign, timeout=10).status_code == 403
    assert live.thread.is_alive()


# --- the pieces -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:8765", ("127.0.0.1", 8765)),
        ("0.0.0.0:80", ("0.0.0.0", 80)),
        ("9000", ("127.0.0.1", 9000)),
        ("localhost", ("localhost", 8765)),
        ("[::1]:8080", ("::1", 8080)),
    ],
)
def test_listen_addresses(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize("text", ["a:b:c", "host:http", "127.0.0.1:70000", ":8080", ""])
def test_a_bad_listen_address_is_one_line(text: str) -> None:
    with pytest.raises(UsageError, match=r"^--web: ") as err:
        parse_listen(text)
    assert "\n" not in str(err.value)


def test_listening_beyond_loopback_needs_a_token() -> None:
    with pytest.raises(UsageError, match="needs a token: set RIG_WEB_TOKEN"):
        WebOption.from_args("0.0.0.0:8765", {})
    with pytest.raises(UsageError, match="RIG_WEB_TOKEN: too short"):
        WebOption.from_args("0.0.0.0:8765", {"RIG_WEB_TOKEN": "1234"})
    assert WebOption.from_args("0.0.0.0:8765", {"RIG_WEB_TOKEN": TOKEN}).token == TOKEN
    assert WebOption.from_args("127.0.0.1:8765", {}).token is None


def test_scans_from_the_page() -> None:
    assert check_scan("  B   AAWRJ12345001 ", ["A", "B"]) == "B AAWRJ12345001"
    assert check_scan("AAWRJ12345001", ["A"]) == "AAWRJ12345001"
    with pytest.raises(UsageError, match="no bay named 'C'"):
        check_scan("C AAWRJ12345001", ["A", "B"])
    with pytest.raises(UsageError, match="too short"):
        check_scan("AB", ["A"])


def test_web_scans_merge_and_end() -> None:
    # The base stream's end leaves the page in charge; the stop button is the `q` line.
    scans = WebScans(["AAWRJ12345001"], base_ends=False, poll_s=0.01)
    got: list[str] = []

    def read() -> None:
        for line in scans:
            got.append(line)
            if line == STOP_LINE:
                return

    reader = threading.Thread(target=read)
    reader.start()
    assert wait_until(lambda: got == ["AAWRJ12345001"]) is not None
    scans.put("B AAWRJ12345002")
    scans.stop()
    reader.join(timeout=5)
    assert got == ["AAWRJ12345001", "B AAWRJ12345002", STOP_LINE]
    # At a terminal the base stream's end (Ctrl-D) ends the stream, as without --web.
    assert list(WebScans(["x1234567"], base_ends=True, poll_s=0.01)) == ["x1234567"]


def test_the_state_counts_down_on_the_progress_clock(tmp_path: Path) -> None:
    clock = FakeClock()
    progress = Progress(clock)
    feed = StationFeed(progress, station="lab-1", bays=["A", "B"], data_dir=tmp_path)
    progress.stage("A", "holding", deadline=clock.monotonic() + 18.0)
    clock.advance(5.0)
    state = feed.state()
    assert [b["name"] for b in state["bays"]] == ["A", "B"]
    assert state["bays"][0]["stage"] == "holding"
    assert state["bays"][0]["left_s"] == pytest.approx(13.0)
    assert state["bays"][1]["stage"] == "starting" and state["bays"][1]["left_s"] is None
    assert state["today"]["units"] == 0


def test_a_unit_s_qa_result_is_its_qa_pass_s() -> None:
    def report(job_id: int, qa: str | None = None, check: str | None = None) -> JobReport:
        result = Result(Outcome.RESET_VERIFIED, "ok", Unit(), 18.0, [], [], qa, check)
        return JobReport(job_id, "A", result)

    assert unit_qa([report(1)]) == ""  # no QA pass
    assert unit_qa([report(1), report(2, "passed")]) == "passed"
    # A failed pass names its check, even when the bay hard-reset the unit after it.
    assert unit_qa([report(1), report(2, "failed", "qa_picture"), report(3)]) == (
        "failed: qa_picture"
    )
    line = unit_outcome([report(1), report(2), report(3, "failed", "qa_storage")])[1]
    assert line == "reset_verified (2 attempt(s)), qa failed: qa_storage"


def test_the_command_line_default_is_the_server_s() -> None:
    from rig.cli import _parser
    from rig.web.serve import DEFAULT_LISTEN

    assert _parser().parse_args(["run", "--web"]).web == DEFAULT_LISTEN
    assert _parser().parse_args(["demo", "--bays", "2", "--web"]).web == DEFAULT_LISTEN
    assert _parser().parse_args(["run"]).web is None


class Printer:
    """A TCP listener on 127.0.0.1 standing in for a Brother QL: every job it is sent."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.jobs: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed
                return
            with conn:
                job = b""
                while chunk := conn.recv(65536):
                    job += chunk
            self.jobs.append(job)


def test_the_page_prints_a_unit_s_label_again(
    lab: tuple[MockFactory, SimNetwork], tmp_path: Path, browser: Any
) -> None:
    import zxingcpp

    printer = Printer()
    labels = f'\n[labels]\nbrother = "127.0.0.1:{printer.port}"\nurl = "http://bench.lab:8765"\n'
    live = LiveStation(*lab, tmp_path, token=None, labels=labels)
    try:
        requests.post(live.url + "scan", json={"scan": f"B {live.serial('B')}"}, timeout=10)
        # The station prints the verified unit's label on its own...
        assert wait_until(lambda: len(printer.jobs) == 1, timeout_s=60) is not None
        job_id = live.station.units[0][-1].job_id
        page = browser.new_page()
        page.goto(live.url)
        button = page.locator(f"#units tr[data-job='{job_id}'] button.print")
        button.click(timeout=WAIT_MS)
        # ... and again from the page: the same label.
        assert wait_until(lambda: len(printer.jobs) == 2, timeout_s=30) is not None
        assert printer.jobs[0] == printer.jobs[1] and printer.jobs[0].endswith(b"\x1a")
        page.wait_for_function(
            "() => document.querySelector('#scan-status').textContent.includes('queued for')",
            timeout=WAIT_MS,
        )
        label = requests.get(f"{live.url}label/{job_id}.png", timeout=10)
        [code] = zxingcpp.read_barcodes(Image.open(io.BytesIO(label.content)))
        assert code.text == f"http://bench.lab:8765/report#certificate-{job_id}"
        page.close()
    finally:
        live.close()
        printer.sock.close()


def test_without_a_printer_the_page_has_no_print_button(live: LiveStation) -> None:
    assert requests.get(live.url + "config", timeout=10).json() == {"printer": False}
    answer = requests.post(live.url + "label/1/print", timeout=10)
    assert answer.status_code == 404 and "no label printer" in answer.json()["error"]


def test_a_unit_s_qa_result_shows_on_its_bay_when_there_is_one(tmp_path: Path) -> None:
    progress = Progress(FakeClock())
    feed = StationFeed(progress, station="lab-1", bays=["A", "B"], data_dir=tmp_path)
    plain = JobReport(1, "B", Result(Outcome.RESET_VERIFIED, "factory state", Unit(), 18.0, [], []))
    feed.unit_done("B", [plain])  # a unit with no QA pass
    reset = JobReport(2, "A", Result(Outcome.RESET_VERIFIED, "factory state", Unit(), 18.0, [], []))
    qa_pass = JobReport(
        3,
        "A",
        Result(Outcome.RESET_VERIFIED, "restored", Unit(), None, [], [], "failed", "qa_picture"),
    )
    feed.unit_done("A", [reset, qa_pass])
    qa = {bay["name"]: bay["qa"] for bay in feed.state()["bays"]}
    assert qa == {"A": "failed: qa_picture", "B": ""}


def test_the_benchmark_measures_every_change_it_makes() -> None:
    from rig.web.bench import page_latency

    latencies = page_latency(6, bays=2, gap_s=0.01)
    assert len(latencies) == 6 and all(x >= 0 for x in latencies)
