"""The fleet page (`rig fleet --web`) in real headless chromium (Debian's, driven by Playwright)
over a real Mosquitto and a real PostgreSQL on 127.0.0.1 (tests/servers.py): two stations' bays
live from MQTT, a station gone offline, the day's units from PostgreSQL, and its token."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import requests
from gpiozero.pins.mock import MockFactory

from rig.cli import main
from rig.clock import FakeClock
from rig.errors import UsageError
from rig.fleet.live import LivePublisher
from rig.fleet.settings import FleetConfig, MqttSettings, PostgresSettings
from rig.progress import Progress
from rig.records.store import RecordStore
from rig.web.fleet_app import DEFAULT_LISTEN, DEFAULT_PORT, fleet_web
from rig.web.serve import WebOption
from tests.fakes import wait_until
from tests.servers import MosquittoBroker, free_port
from tests.test_fleet_records import record_units, sender_for
from tests.test_web import TOKEN, WAIT_MS


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """conftest's fake clock, but on today's wall clock: the page shows the day's units."""
    fake = FakeClock(wall_start=time.time())
    monkeypatch.setattr("gpiozero.pins.mock.monotonic", fake.monotonic)
    return fake


def upload(pg_url: str, data_dir: Path, station: str) -> None:
    """The station's records into the fleet database, as its outbox sender does it."""
    sender = sender_for(pg_url, data_dir, station)
    try:
        assert sender.flush(30, patient=True)
    finally:
        sender.close()


def publisher(broker: MosquittoBroker, station: str, progress: Progress) -> LivePublisher:
    settings = MqttSettings("127.0.0.1", broker.port)
    bays = [s.name for s in progress.snapshot()]
    live = LivePublisher(settings, station=station, bays=bays, progress=progress).start()
    assert live.connected.wait(30)
    return live


def station_block(page: Any, station: str) -> Any:
    return page.locator(f"section.station[data-station='{station}']")


def bay_text(station: str, bay: str, part: str) -> str:
    """A JS expression: the text of `part` of that station's bay card ('' until there)."""
    return (
        f"(document.querySelector(\"[data-station='{station}'] [data-bay='{bay}'] {part}\")"
        "?.textContent || '')"
    )


def test_the_page_shows_every_station_live_and_the_day_from_postgres(
    pg_url: str,
    broker: MosquittoBroker,
    pins: MockFactory,
    clock: FakeClock,
    tmp_path: Path,
    browser: Any,
) -> None:
    dirs = {"lab-1": tmp_path / "lab-1", "lab-2": tmp_path / "lab-2"}
    with RecordStore(dirs["lab-1"]) as store:
        record_units(store, pins, clock, 2, station="lab-1")  # one verified, one not
    with RecordStore(dirs["lab-2"]) as store:
        record_units(store, pins, clock, 1, station="lab-2")
    for station, data_dir in dirs.items():
        upload(pg_url, data_dir, station)

    progress = {"lab-1": Progress(clock), "lab-2": Progress(clock)}
    progress["lab-1"].stage("A", "ready")
    progress["lab-1"].stage("B", "ready")
    progress["lab-2"].stage("A", "ready")
    publishers = {name: publisher(broker, name, p) for name, p in progress.items()}
    fleet = FleetConfig(
        postgres=PostgresSettings(pg_url), mqtt=MqttSettings("127.0.0.1", broker.port)
    )
    try:
        with fleet_web(fleet, WebOption("127.0.0.1", 0, None)) as server:
            page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
            page.goto(server.url)
            page.wait_for_selector("#connection.live", timeout=WAIT_MS)
            for station, bays in (("lab-1", "AB"), ("lab-2", "A")):
                block = station_block(page, station)
                block.wait_for(timeout=WAIT_MS)
                for bay in bays:
                    block.locator(f"article.bay[data-bay='{bay}']").wait_for(timeout=WAIT_MS)
                assert "online" in block.locator(".status").inner_text()

            # A bay's change on MQTT is on the page live, its countdown running in the page.
            lab1 = progress["lab-1"]
            lab1.unit("B", "AAWRJ00000042")
            lab1.stage("B", "holding", deadline=clock.monotonic() + 18)
            page.wait_for_function(f"() => {bay_text('lab-1', 'B', '.stage')} === 'holding'",
                                   timeout=WAIT_MS)  # fmt: skip
            card = station_block(page, "lab-1").locator("article.bay[data-bay='B']")
            assert "AAWRJ00000042" in card.inner_text()
            assert card.locator(".countdown").inner_text().endswith(" s")
            assert station_block(page, "lab-1").locator("[data-bay='A'] .stage").inner_text() == (
                "ready"
            )

            # The day's units from PostgreSQL: per station, per model, each with its certificate.
            tally = station_block(page, "lab-1").locator(".tally")
            assert "2 unit(s), 1 verified" in tally.inner_text()
            assert "1 unit(s), 1 verified" in station_block(page, "lab-2").inner_text()
            rows = page.locator("#units tbody tr")
            assert rows.count() == 3
            link = page.locator("#units tr[data-station='lab-2'][data-job='1'] a")
            assert link.get_attribute("href") == "/report?station=lab-2#certificate-1"
            report = requests.get(server.url + "report?station=lab-2", timeout=30)
            assert report.status_code == 200 and "id='certificate-1'" in report.text
            assert "lab-1" not in report.text  # that station's only: its anchors are its own
            # On the phone only the units' table scrolls sideways, in its own box.
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            models = page.locator("#models tbody tr")
            assert models.count() >= 1 and "3" in models.first.inner_text()

            # A station that stops says offline: the page shows it.
            publishers.pop("lab-2").close()
            page.wait_for_function(
                "() => document.querySelector(\"[data-station='lab-2'] .status\")"
                "?.textContent === 'offline'",
                timeout=WAIT_MS,
            )

            # A unit uploaded later is on the page at the next read of the day (every 10 s).
            with RecordStore(dirs["lab-2"]) as store:
                record_units(store, pins, clock, 1, station="lab-2")
            upload(pg_url, dirs["lab-2"], "lab-2")
            page.wait_for_function(
                "() => document.querySelectorAll('#units tbody tr').length === 4",
                timeout=WAIT_MS,
            )
            assert "2 unit(s), 2 verified" in station_block(page, "lab-2").inner_text()
            assert "PG_PASSWORD" not in page.content() and "bench-secret" not in page.content()
            page.close()
    finally:
        for live in publishers.values():
            live.close()


def test_with_a_token_every_request_without_it_is_refused(
    broker: MosquittoBroker, browser: Any
) -> None:
    progress = Progress(FakeClock(wall_start=time.time()))
    progress.stage("A", "ready")
    live = publisher(broker, "lab-9", progress)
    fleet = FleetConfig(mqtt=MqttSettings("127.0.0.1", broker.port))
    try:
        with fleet_web(fleet, WebOption("127.0.0.1", 0, TOKEN)) as server:
            url = server.url
            for path in ("", "events", "state", "report", "static/fleet.js"):
                assert requests.get(url + path, timeout=10).status_code == 401
            assert requests.get(url + "state?token=nope", timeout=10).status_code == 401
            assert "this fleet page needs its token" in requests.get(url, timeout=10).text
            ok = {"Authorization": f"Bearer {TOKEN}"}

            def stations() -> list[str]:
                state = requests.get(url + "state", headers=ok, timeout=10).json()
                return [s["name"] for s in state["stations"]]

            # The broker is the session's: other tests' stations may be retained there too.
            assert wait_until(lambda: "lab-9" in stations(), timeout_s=30, step_s=0.1) is not None

            context = browser.new_context()
            page = context.new_page()
            refused = page.goto(url)
            assert refused is not None and refused.status == 401
            page.goto(url + "?token=" + TOKEN)
            page.wait_for_selector("#connection.live", timeout=WAIT_MS)
            station_block(page, "lab-9").wait_for(timeout=WAIT_MS)
            assert TOKEN not in page.url and TOKEN not in page.content()
            context.close()
    finally:
        live.close()


def test_servers_away_at_start_leave_a_page_that_says_why_and_recovers() -> None:
    late = MosquittoBroker(port=free_port())  # not started yet: the broker comes later
    fleet = FleetConfig(
        postgres=PostgresSettings(f"postgresql://rig@127.0.0.1:{free_port()}/lab"),  # never up
        mqtt=MqttSettings("127.0.0.1", late.port),
    )
    seen: list[Any] = []
    live: LivePublisher | None = None
    try:
        with fleet_web(fleet, WebOption("127.0.0.1", 0, None)) as server:

            def state() -> dict[str, Any]:
                seen[:] = [requests.get(server.url + "state", timeout=10).json()]
                return dict(seen[0])

            problems = state()["problems"]
            assert any(p.startswith("PostgreSQL: ") for p in problems)
            assert any(p.startswith(f"MQTT broker 127.0.0.1:{late.port}: ") for p in problems)
            assert requests.get(server.url + "report", timeout=30).status_code == 503

            late.start()
            progress = Progress(FakeClock(wall_start=time.time()))
            progress.stage("A", "ready")
            live = publisher(late, "lab-8", progress)

            def lab8() -> bool:
                return any(s["name"] == "lab-8" for s in state()["stations"])

            assert wait_until(lab8, timeout_s=90, step_s=0.2) is not None
            assert not any(p.startswith("MQTT") for p in seen[0]["problems"])
    finally:
        if live is not None:
            live.close()
        late.close()


def test_the_command_line_default_and_its_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rig.cli import _parser

    monkeypatch.delenv("RIG_WEB_TOKEN", raising=False)

    assert _parser().parse_args(["fleet", "--web"]).web == DEFAULT_LISTEN
    assert _parser().parse_args(["fleet"]).web is None
    assert WebOption.from_args("9000", {}, default_port=DEFAULT_PORT).port == 9000
    assert WebOption.from_args("localhost", {}, default_port=DEFAULT_PORT).port == DEFAULT_PORT
    with pytest.raises(UsageError, match="needs a token: set RIG_WEB_TOKEN"):
        WebOption.from_args("0.0.0.0", {}, default_port=DEFAULT_PORT)
    path = tmp_path / "rig.toml"
    path.write_text('[station]\nname = "solo"\n[fleet]\nmqtt = "mqtt://127.0.0.1:1"\n')
    assert main(["fleet", "--web", "--json", "--config", str(path)]) == 2
    assert main(["fleet", "--web", "0.0.0.0:8766", "--config", str(path)]) == 2
