"""The report: one row per unit (escalation attempts grouped), and the HTML page a lab hands a
customer, checked as markup and as a real browser renders it."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import struct
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from html.parser import HTMLParser
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from rig.cli import main
from rig.job import Plan, ProcedureName, Result, Step, Unit
from rig.outcomes import Outcome
from rig.records.export import to_csv, to_json
from rig.records.report import render_html
from rig.records.show import render_job
from rig.records.store import RecordStore
from rig.records.units import units_from_jobs
from tests.browser import CHROMIUM, CHROMIUM_ARGS

DOME, BULLET = "DS-2CD2143G2-I", "DS-2CD2086G2-I"
FW_OLD, FW_NEW, FW_LEGACY = "V5.5.800 build 210628", "V5.7.3 build 220112", "V5.4.5 build 170401"
HOSTILE_SERIAL = "<script>alert(1)</script>"
HOSTILE_REASON = "inactive <img src=x onerror=alert(2)> & done"
INACTIVE = {"identity": "scanned serial", "sadp_activated": False, "isapi_activated": False}
ACTIVE = {"identity": "scanned serial", "sadp_activated": True}


def at(day: str, hhmm: str) -> float:
    return datetime.fromisoformat(f"{day}T{hhmm}:00+00:00").timestamp()


def add_job(
    store: RecordStore,
    *,
    bay: str,
    model: str,
    tail: str,
    started: float,
    outcome: Outcome,
    reason: str,
    hold_s: float | None,
    target_hold_s: float = 18.0,
    first_job_id: int | None = None,
    attempt: int = 1,
    firmware_before: str = FW_OLD,
    firmware_after: str = FW_NEW,
    proof: dict[str, Any] | None = None,
    serial: str | None = None,
) -> int:
    """One job as the station writes it: start, unit seen, hold and verify steps, the end."""
    plan = Plan(ProcedureName.POWER_CYCLE_HOLD, 5.0, target_hold_s, 180.0, scanned_serial=tail)
    job_id = store.start_job(
        station="bench-1",
        bay=bay,
        profile=model,
        plan=plan,
        wall=started,
        attempt=attempt,
        first_job_id=first_job_id,
    )
    serial = serial or f"{model}20230815{tail}"
    mac = f"aa-bb-cc-00-00-{job_id:02x}"
    store.set_unit(job_id, Unit(serial=serial, mac=mac, model=model, firmware=firmware_before))
    if hold_s is not None:
        store.add_step(job_id, Step("hold", 10.0, started + 10, 10.0 + hold_s, {"hold_s": hold_s}))
        verify = {"outcome": outcome.value, "reason": reason, **(proof or {})}
        store.add_step(job_id, Step("verify", 60.0, started + 60, 61.0, verify))
    after = Unit(serial=serial, mac=mac, model=model, firmware=firmware_after)
    store.finish_job(job_id, Result(outcome, reason, after, hold_s, [], []), started + 90)
    return job_id


@dataclass
class Bench:
    """Two days on one bench, plus a unit started the evening before (for --since)."""

    data_dir: Path
    ids: dict[str, int] = field(default_factory=dict)

    def jobs(self, since: str | None = None) -> list[dict[str, Any]]:
        since_wall = None if since is None else at(since, "00:00")
        with RecordStore(self.data_dir) as store:
            return store.jobs(since_wall=since_wall)


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Bench:
    bench = Bench(tmp_path_factory.mktemp("bench") / "records")
    v, nr = Outcome.RESET_VERIFIED, Outcome.NOT_RESET
    with RecordStore(bench.data_dir) as store:
        ids = bench.ids
        # The evening before: not reset at 18 s, retried past midnight at 30 s.
        ids["u0"] = add_job(
            store,
            bay="A",
            model=DOME,
            tail="AAWRJ0000",
            started=at("2026-03-01", "23:50"),
            outcome=nr,
            reason="still activated (SADP)",
            hold_s=18.0011,
            proof=ACTIVE,
        )
        ids["u0b"] = add_job(
            store,
            bay="A",
            model=DOME,
            tail="AAWRJ0000",
            started=at("2026-03-02", "00:02"),
            outcome=v,
            reason="inactive",
            hold_s=30.0009,
            target_hold_s=30.0,
            first_job_id=ids["u0"],
            attempt=2,
            proof=INACTIVE,
        )
        # Day 1: an escalated unit, an old-firmware unit, one that never came back.
        ids["u1"] = add_job(
            store,
            bay="A",
            model=DOME,
            tail="AAWRJ0001",
            started=at("2026-03-02", "09:05"),
            outcome=nr,
            reason="still activated (SADP)",
            hold_s=18.0021,
            proof=ACTIVE,
        )
        ids["u1b"] = add_job(
            store,
            bay="A",
            model=DOME,
            tail="AAWRJ0001",
            started=at("2026-03-02", "09:09"),
            outcome=v,
            reason="inactive: factory state (SADP and activateStatus)",
            hold_s=30.0037,
            target_hold_s=30.0,
            first_job_id=ids["u1"],
            attempt=2,
            firmware_before=FW_NEW,
            proof=INACTIVE,
        )
        ids["u2"] = add_job(
            store,
            bay="B",
            model=BULLET,
            tail="AAWRJ0002",
            started=at("2026-03-02", "09:40"),
            outcome=v,
            reason="the factory default login works (firmware < 5.3)",
            hold_s=18.0008,
            firmware_before=FW_LEGACY,
            firmware_after=FW_LEGACY,
            proof={"identity": "scanned serial", "factory_login_status": 200},
        )
        ids["u3"] = add_job(
            store,
            bay="A",
            model=BULLET,
            tail="AAWRJ0003",
            started=at("2026-03-02", "10:20"),
            outcome=Outcome.NO_RESPONSE,
            reason="did not come back within 180 s",
            hold_s=18.001,
        )
        # Day 2: two verified (one with a hostile serial) and a hardware fault in one hour.
        ids["u4"] = add_job(
            store,
            bay="A",
            model=DOME,
            tail="AAWRJ0004",
            started=at("2026-03-03", "14:03"),
            outcome=v,
            reason="inactive",
            hold_s=18.0012,
            proof=INACTIVE,
        )
        ids["u5"] = add_job(
            store,
            bay="B",
            model=DOME,
            tail="AAWRJ0005",
            started=at("2026-03-03", "14:30"),
            outcome=v,
            reason=HOSTILE_REASON,
            hold_s=17.9996,
            proof=INACTIVE,
            serial=HOSTILE_SERIAL,
        )
        ids["u6"] = add_job(
            store,
            bay="A",
            model=BULLET,
            tail="AAWRJ0006",
            started=at("2026-03-03", "14:50"),
            outcome=Outcome.HARDWARE_FAULT,
            reason="power did not cut",
            hold_s=None,
        )
    return bench


def serial(tail: str, model: str = DOME) -> str:
    return f"{model}20230815{tail}"


# --- a tiny DOM, from our page or from the one chromium serialised -------------------------


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    @property
    def classes(self) -> list[str]:
        return self.attrs.get("class", "").split()

    def text(self) -> str:
        if self.tag == "br":
            return "\n"
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.walk()

    def find_all(self, tag: str, cls: str | None = None) -> list[Node]:
        return [n for n in self.walk() if n.tag == tag and (cls is None or cls in n.classes)]


class _TreeBuilder(HTMLParser):
    VOID = frozenset({"meta", "br", "link", "img", "input", "hr", "col", "wbr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(html: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def squash(text: str) -> str:
    return " ".join(text.split())


def model_rows(table: Node) -> dict[str, list[str]]:
    """A yield table as {model: [units done, verified, not reset, yield]}."""
    rows = {}
    for tr in table.find_all("tr"):
        cells = [squash(c.text()) for c in tr.children if isinstance(c, Node)]
        if cells and cells[0] != "Model":
            rows[cells[0]] = cells[1:]
    return rows


def facts(section: Node) -> dict[str, str]:
    """A certificate's label/value pairs (a row header, then its value cell)."""
    out = {}
    for tr in section.find_all("tr"):
        cells = [c for c in tr.children if isinstance(c, Node) and c.tag in ("th", "td")]
        for label, value in pairwise(cells):
            if label.tag == "th" and label.attrs.get("scope") == "row" and value.tag == "td":
                out[squash(label.text())] = squash(value.text())
    return out


# --- units, CSV, JSON -----------------------------------------------------------------------


def test_csv_is_one_row_per_unit(bench: Bench) -> None:
    rows = list(csv.DictReader(io.StringIO(to_csv(bench.jobs(since="2026-03-02")))))
    assert [r["serial"] for r in rows] == [
        serial("AAWRJ0001"),
        serial("AAWRJ0002", BULLET),
        serial("AAWRJ0003", BULLET),
        serial("AAWRJ0004"),
        HOSTILE_SERIAL,
        serial("AAWRJ0006", BULLET),
    ]
    u1 = rows[0]
    assert u1["attempts"] == "2"
    assert u1["job_ids"] == f"{bench.ids['u1']} {bench.ids['u1b']}"
    assert u1["job_id"] == str(bench.ids["u1b"])  # the job whose outcome and hold it reports
    assert (u1["firmware_before"], u1["firmware_after"]) == (FW_OLD, FW_NEW)
    assert u1["outcome"] == "reset_verified"
    assert (float(u1["hold_s"]), float(u1["target_hold_s"])) == (30.0037, 30.0)
    assert u1["started"] == "2026-03-02T09:05:00.000+00:00"  # the first attempt's start
    assert u1["ended"] == "2026-03-02T09:10:30.000+00:00"  # the last attempt's end
    assert (u1["bay"], u1["station"], u1["mac"]) == ("A", "bench-1", "aa-bb-cc-00-00-04")
    assert [r["attempts"] for r in rows[1:]] == ["1"] * 5
    assert [r["outcome"] for r in rows[1:]] == [
        "reset_verified",
        "no_response",
        "reset_verified",
        "reset_verified",
        "hardware_fault",
    ]


def test_csv_cells_never_run_as_spreadsheet_formulas(tmp_path: Path) -> None:
    with RecordStore(tmp_path) as store:
        add_job(
            store,
            bay="A",
            model=DOME,
            tail="X",
            started=at("2026-03-02", "09:00"),
            outcome=Outcome.WRONG_DEVICE,
            reason='=HYPERLINK("http://x")',
            hold_s=18.0,
            serial="@SUM(A1)",
        )
        rows = list(csv.DictReader(io.StringIO(to_csv(store.jobs()))))
    assert (rows[0]["serial"], rows[0]["reason"]) == ("'@SUM(A1)", '\'=HYPERLINK("http://x")')


def test_json_lists_units_with_their_attempts(bench: Bench) -> None:
    units = json.loads(to_json(bench.jobs(since="2026-03-02")))
    assert len(units) == 6
    u1 = units[0]
    assert u1["serial"] == serial("AAWRJ0001")
    assert u1["job_ids"] == [bench.ids["u1"], bench.ids["u1b"]]
    assert u1["outcome"] == "reset_verified"  # the last attempt's
    # Before the first power cut, not before the retry (which already followed a reset try).
    assert (u1["firmware_before"], u1["firmware_after"]) == (FW_OLD, FW_NEW)
    assert [a["job_id"] for a in u1["attempts"]] == [bench.ids["u1"], bench.ids["u1b"]]
    assert [(a["outcome"], a["target_hold_s"], a["hold_s"]) for a in u1["attempts"]] == [
        ("not_reset", 18.0, 18.0021),
        ("reset_verified", 30.0, 30.0037),
    ]
    assert u1["attempts"][0]["reason"] == "still activated (SADP)"
    assert u1["attempts"][1]["started"] == "2026-03-02T09:09:00.000+00:00"
    assert u1["attempts"][1]["ended"] == "2026-03-02T09:10:30.000+00:00"
    assert u1["proof"] == {**INACTIVE}
    assert [len(u["attempts"]) for u in units] == [2, 1, 1, 1, 1, 1]
    assert not {"evidence", "steps", "plan"} & (set(u1) | set(u1["attempts"][0]))


def test_since_dates_a_unit_by_its_first_attempt(bench: Bench) -> None:
    everything = json.loads(to_json(bench.jobs()))
    assert len(everything) == 7  # nine jobs: two units were retried
    assert everything[0]["job_ids"] == [bench.ids["u0"], bench.ids["u0b"]]
    # From 2026-03-02: the unit first tried the evening before is out, retry and all (its
    # retry ran after midnight, but it is that earlier day's unit).
    since = json.loads(to_json(bench.jobs(since="2026-03-02")))
    job_ids = {job_id for unit in since for job_id in unit["job_ids"]}
    assert bench.ids["u0"] not in job_ids and bench.ids["u0b"] not in job_ids
    assert len(json.loads(to_json(bench.jobs(since="2026-03-03")))) == 3
    assert json.loads(to_json(bench.jobs(since="2026-03-04"))) == []


# --- the HTML page --------------------------------------------------------------------------

GENERATED = at("2026-03-04", "08:00")


@pytest.fixture(scope="module")
def page(bench: Bench) -> str:
    return render_html(
        bench.jobs(since="2026-03-02"),
        title="Acme Refurb: reset report",
        since=date(2026, 3, 2),
        generated_wall=GENERATED,
    )


def check_certificates(dom: Node, bench: Bench) -> None:
    certificates = dom.find_all("section", "certificate")
    expected = {
        bench.ids["u1b"]: (serial("AAWRJ0001"), "30.004 s", "30.000 s"),
        bench.ids["u2"]: (serial("AAWRJ0002", BULLET), "18.001 s", "18.000 s"),
        bench.ids["u4"]: (serial("AAWRJ0004"), "18.001 s", "18.000 s"),
        bench.ids["u5"]: (HOSTILE_SERIAL, "18.000 s", "18.000 s"),
    }
    assert [c.attrs["id"] for c in certificates] == [f"certificate-{i}" for i in expected]
    for section, (unit_serial, measured, target) in zip(
        certificates, expected.values(), strict=True
    ):
        rows = facts(section)
        assert rows["Serial (DeviceSN)"] == unit_serial
        assert rows["Measured hold"].startswith(measured)
        assert rows["Hold target"] == target
        assert rows["Station"] == "bench-1"
        assert rows["Procedure"].startswith("power-cycle-hold – Hard reset (vendor procedure)")
    escalated = facts(certificates[0])
    assert escalated["Measured hold"] == "30.004 s (+3.7 ms from target)"
    assert escalated["Attempts"] == "2"
    assert escalated["Job ids"] == f"{bench.ids['u1']}, {bench.ids['u1b']}"
    assert (escalated["Firmware before"], escalated["Firmware after"]) == (FW_OLD, FW_NEW)
    assert escalated["MAC address"] == "aa-bb-cc-00-00-04"
    assert escalated["Bay"] == "A"
    assert escalated["SADP: Activated"] == "false (inactive: factory state)"
    assert escalated["ISAPI /SDK/activateStatus: Activated"] == "false (inactive: factory state)"
    assert escalated["Unit identified by"] == "scanned serial"
    assert escalated["Verdict"] == (
        "reset_verified inactive: factory state (SADP and activateStatus)"
    )
    assert escalated["Started"] == "2026-03-02 09:05:00 UTC"
    assert escalated["Completed"] == "2026-03-02 09:10:30 UTC"
    legacy = facts(certificates[1])
    assert legacy["Factory default login (firmware < 5.3): HTTP status"].startswith("200")
    assert "SADP: Activated" not in legacy
    assert facts(certificates[3])["Verdict"] == f"reset_verified {HOSTILE_REASON}"


def check_charts(dom: Node) -> None:
    charts = dom.find_all("svg", "chart")
    assert len(charts) == 2  # one per day in the range
    for chart, bars in zip(
        charts,
        ({9: ["verified"], 10: ["not-verified"]}, {14: ["verified", "not-verified"]}),
        strict=True,
    ):
        assert chart.children[0].tag == "title"  # type: ignore[union-attr]
        assert chart.attrs["role"] == "img"
        hours = [squash(t.text()) for t in chart.find_all("text", "hour")]
        assert hours == [f"{h:02d}" for h in range(24)]
        rects = chart.find_all("rect", "bar")
        assert len(rects) == sum(len(kinds) for kinds in bars.values())
        seen: dict[int, list[str]] = {}
        for rect in rects:
            hour = int(rect.find_all("title")[0].text()[:2])
            seen.setdefault(hour, []).append(rect.classes[1])
        assert seen == bars
        assert {squash(t.text()) for t in chart.find_all("text", "axis-title")} == {
            "Hour of day (UTC)",
            "Units",
        }
    # Day 2, hour 14: two verified at the bottom, the fault stacked on top and half as tall.
    verified, fault = charts[1].find_all("rect", "bar")
    height = float(fault.attrs["height"])
    assert float(verified.attrs["height"]) == pytest.approx(2 * height, abs=0.2)  # 0.1 px rounding
    assert float(fault.attrs["y"]) + height == pytest.approx(float(verified.attrs["y"]), abs=0.2)


def test_html_summary_yield_per_model_and_chart(page: str) -> None:
    dom = parse(page)
    assert squash(dom.find_all("title")[0].text()) == "Acme Refurb: reset report"
    summary = dom.find_all("section", "summary")[0]
    tables = summary.find_all("table", "models")
    whole, day1, day2 = tables
    assert model_rows(whole) == {
        BULLET: ["3", "1", "2", "33.3 %"],
        DOME: ["3", "3", "0", "100.0 %"],
        "All models": ["6", "4", "2", "66.7 %"],
    }
    assert model_rows(day1) == {
        BULLET: ["2", "1", "1", "50.0 %"],
        DOME: ["1", "1", "0", "100.0 %"],
        "All models": ["3", "2", "1", "66.7 %"],
    }
    assert model_rows(day2) == {
        BULLET: ["1", "0", "1", "0.0 %"],
        DOME: ["2", "2", "0", "100.0 %"],
        "All models": ["3", "2", "1", "66.7 %"],
    }
    days = [squash(h.text()) for h in summary.find_all("h3")]
    assert days == ["2026-03-02 Monday", "2026-03-03 Tuesday"]
    figures = [squash(f.text()) for f in summary.find_all("div", "figure")][:4]
    assert figures == ["6 Units done", "4 Reset verified", "2 Not reset", "66.7 % Yield"]
    check_charts(dom)


def test_html_certificates_and_the_not_reset_table(page: str, bench: Bench) -> None:
    dom = parse(page)
    check_certificates(dom, bench)
    failed = dom.find_all("section", "not-reset")[0]
    body = failed.find_all("tbody")[0]
    rows = [[squash(td.text()) for td in tr.find_all("td")] for tr in body.find_all("tr")]
    assert rows == [
        [
            f"{serial('AAWRJ0003', BULLET)} aa-bb-cc-00-00-06 · {BULLET}",
            "2026-03-02 10:20:00 UTC bench-1 / bay A",
            "1",
            "no_response",
            "did not come back within 180 s",
            str(bench.ids["u3"]),
        ],
        [
            f"{serial('AAWRJ0006', BULLET)} aa-bb-cc-00-00-09 · {BULLET}",
            "2026-03-03 14:50:00 UTC bench-1 / bay A",
            "1",
            "hardware_fault",
            "power did not cut",
            str(bench.ids["u6"]),
        ],
    ]


def test_html_escapes_what_came_from_the_network(page: str) -> None:
    assert "<script" not in page.lower()
    assert "<img" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(2)&gt; &amp; done" in page
    # Self-contained: no element points anywhere, the stylesheet fetches nothing.
    dom = parse(page)
    for node in dom.walk():
        assert not {"src", "href", "srcset", "action", "xlink:href"} & set(node.attrs), node
    style = dom.find_all("style")[0].text()
    assert "url(" not in style and "@import" not in style and "@font-face" not in style
    assert "default-src 'none'" in page


def test_html_with_no_units(tmp_path: Path) -> None:
    dom = parse(render_html([], generated_wall=GENERATED))
    assert "No units in this range." in squash(dom.text())
    assert dom.find_all("svg") == [] and dom.find_all("section", "certificate") == []


def test_a_unit_still_running_has_no_verdict_yet(tmp_path: Path) -> None:
    with RecordStore(tmp_path) as store:
        plan = Plan(ProcedureName.POWER_CYCLE_HOLD, 5.0, 18.0, 180.0, scanned_serial="AAWRJ0007")
        job_id = store.start_job(
            station="bench-1", bay="C", profile=DOME, plan=plan, wall=at("2026-03-02", "11:00")
        )
        store.set_unit(job_id, Unit(serial=serial("AAWRJ0007"), model=DOME, firmware=FW_OLD))
        jobs = store.jobs()
    assert json.loads(to_json(jobs))[0]["outcome"] is None
    dom = parse(render_html(jobs, generated_wall=GENERATED))
    figures = [squash(f.text()) for f in dom.find_all("div", "figure")]
    assert figures[:5] == [
        "0 Units done",
        "0 Reset verified",
        "0 Not reset",
        "– Yield",
        "1 Still running",
    ]
    assert [squash(b.text()) for b in dom.find_all("span", "badge")] == ["running"]
    assert dom.find_all("rect", "not-verified")  # counted in its hour, not as verified


def test_rig_report_html_from_the_command_line(
    bench: Bench, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no rig.toml here: the records come from --data-dir
    out = tmp_path / "report.html"
    data_dir = str(bench.data_dir)
    argv = ["report", "--data-dir", data_dir, "--format", "html", "-o", str(out)]
    assert main([*argv, "--since", "2026-01-01"]) == 0
    dom = parse(out.read_text(encoding="utf-8"))
    assert len(dom.find_all("section", "certificate")) == 5  # with the unit of 2026-03-01
    assert squash(dom.find_all("h1")[0].text()) == "Factory reset report"
    assert main([*argv, "--since", "2026-03-02", "--title", "Acme <Refurb>"]) == 0
    html = out.read_text(encoding="utf-8")
    check_certificates(parse(html), bench)
    assert "<h1>Acme &lt;Refurb&gt;</h1>" in html
    csv_out = tmp_path / "report.csv"
    assert (
        main(["report", "--data-dir", data_dir, "--since", "2026-03-02", "-o", str(csv_out)]) == 0
    )
    assert len(list(csv.DictReader(io.StringIO(csv_out.read_text())))) == 6


# --- a software reset: no bay ---------------------------------------------------------------

NETWORK_MAC = "44-19-b6-00-00-01"


@pytest.fixture(scope="module")
def network_jobs(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Two software resets, which use no bay: a full reset verified, a basic restore not."""
    runs = (
        (
            ProcedureName.SOFTWARE_FULL,
            "AAWRJ0010",
            at("2026-03-02", "11:00"),
            Outcome.RESET_VERIFIED,
            "inactive: factory state (SADP)",
            {"identity": "named MAC", "mode": "full", "sadp_activated": False},
        ),
        (
            ProcedureName.SOFTWARE_BASIC,
            "AAWRJ0011",
            at("2026-03-02", "11:20"),
            Outcome.NOT_RESET,
            "came back inactive: not the basic restore asked for",
            {"identity": "named MAC", "activated_after": False},
        ),
    )
    with RecordStore(tmp_path_factory.mktemp("network") / "records") as store:
        for procedure, tail, started, outcome, reason, proof in runs:
            plan = Plan(procedure, 0.0, 0.0, 180.0, scanned_serial=tail)
            job_id = store.start_job(
                station="bench-1", bay=None, profile="hikvision-generic", plan=plan, wall=started
            )
            unit = Unit(serial=serial(tail), mac=NETWORK_MAC, model=DOME, firmware=FW_NEW)
            store.set_unit(job_id, unit)
            verify = {"outcome": outcome.value, "reason": reason, **proof}
            store.add_step(job_id, Step("verify", 60.0, started + 60, 61.0, verify))
            store.finish_job(job_id, Result(outcome, reason, unit, None, [], []), started + 90)
        return store.jobs()


def test_a_unit_reset_with_no_bay_exports_an_empty_bay(network_jobs: list[dict[str, Any]]) -> None:
    assert [job["bay"] for job in network_jobs] == [None, None]
    units = units_from_jobs(network_jobs)
    assert [(u.last.procedure, u.last.bay) for u in units] == [
        ("software-full", None),
        ("software-basic", None),
    ]
    text = to_csv(network_jobs)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["procedure"], r["station"], r["bay"]) for r in rows] == [
        ("software-full", "bench-1", ""),
        ("software-basic", "bench-1", ""),
    ]
    assert "None" not in text
    exported = json.loads(to_json(network_jobs))
    assert [u["bay"] for u in exported] == [None, None]
    assert [a["bay"] for u in exported for a in u["attempts"]] == [None, None]


def test_the_page_names_the_network_where_there_is_no_bay(
    network_jobs: list[dict[str, Any]],
) -> None:
    html = render_html(network_jobs, generated_wall=GENERATED)
    dom = parse(html)
    [certificate] = dom.find_all("section", "certificate")
    rows = facts(certificate)
    assert (rows["Station"], rows["Bay"]) == ("bench-1", "network (no bay)")
    assert rows["Procedure"] == (
        "software-full – Software factory reset over ISAPI (mode=full): back to the inactive state"
    )
    assert rows["Software reset mode"] == "full"
    assert rows["SADP: Activated"] == "false (inactive: factory state)"
    # No pin was held: no hold on the certificate, nor a word about how holds are measured.
    assert "Hold target" not in rows and "Measured hold" not in rows
    assert "power-on to release" not in squash(certificate.text())
    assert squash(certificate.find_all("p", "statement")[0].text()) == (
        f"The camera {serial('AAWRJ0010')} was reset from station bench-1 over the network"
        " (no bay), and the rig verified over the network that the same unit came back in"
        " factory state, as recorded below."
    )
    body = dom.find_all("section", "not-reset")[0].find_all("tbody")[0]
    [failed] = [[squash(td.text()) for td in tr.find_all("td")] for tr in body.find_all("tr")]
    assert failed[1] == "2026-03-02 11:20:00 UTC bench-1 / network (no bay)"
    assert failed[3:5] == ["not_reset", "came back inactive: not the basic restore asked for"]
    assert "None" not in squash(dom.text())
    # The procedure names are a StrEnum in the code and plain strings in the records: the page
    # and the exports come out the same from either.
    as_enum = [{**job, "procedure": ProcedureName(job["procedure"])} for job in network_jobs]
    assert all(type(job["procedure"]) is str for job in network_jobs)
    assert render_html(as_enum, generated_wall=GENERATED) == html
    assert (to_csv(as_enum), to_json(as_enum)) == (to_csv(network_jobs), to_json(network_jobs))


def test_the_printed_record_names_the_bay_or_the_network(
    bench: Bench, network_jobs: list[dict[str, Any]]
) -> None:
    def printed(job: dict[str, Any]) -> str:
        console = Console(record=True, width=200, file=io.StringIO())
        console.print(render_job(job))
        return console.export_text()

    in_a_bay = next(job for job in bench.jobs() if job["job_id"] == bench.ids["u1"])
    assert f"job {bench.ids['u1']} bay A on bench-1: not_reset" in printed(in_a_bay)
    text = printed(network_jobs[0])
    assert f"job {network_jobs[0]['job_id']} network (no bay) on bench-1: reset_verified" in text
    assert "None" not in text and "hold" not in text.split("\n")[2]
    assert " (target " in printed(in_a_bay)  # a hard reset shows its hold


# --- in a real browser ----------------------------------------------------------------------


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the report is checked in a real browser."
            " Install it: apt-get install -y chromium",
            pytrace=False,
        )
    profile = tmp_path / "chromium-profile"
    command = [
        CHROMIUM,
        *CHROMIUM_ARGS,
        f"--user-data-dir={profile}",
        *args,
    ]
    # HOME too: chromium writes a few dot-directories there.
    env = {**os.environ, "HOME": str(tmp_path)}
    done = subprocess.run(command, capture_output=True, text=True, timeout=30, env=env)
    assert done.returncode == 0, f"chromium failed ({done.returncode}): {done.stderr[-2000:]}"
    shutil.rmtree(profile, ignore_errors=True)
    return done


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_page_in_a_real_browser(page: str, bench: Bench, tmp_path: Path) -> None:
    html = tmp_path / "report.html"
    html.write_text(page, encoding="utf-8")
    url = html.as_uri()

    dom = parse(chromium(tmp_path, "--dump-dom", url).stdout)
    check_certificates(dom, bench)
    check_charts(dom)
    # What the browser built holds no element the network smuggled in.
    assert dom.find_all("script") == [] and dom.find_all("img") == []

    shot = tmp_path / "report.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", "--hide-scrollbars", url)
    assert png_size(shot) == (1280, 2000)
    # A blank or error page of that size compresses to a few kB; text, tables and a chart don't.
    assert shot.stat().st_size > 40_000

    pdf = tmp_path / "report.pdf"
    chromium(tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", url)
    pages = len(re.findall(rb"/Type\s*/Page\b", pdf.read_bytes()))
    # At least the summary and one page per certificate. (A certificate takes most of an A4
    # page, so the count alone cannot show the breaks: the stylesheet asks for them.)
    assert pages >= 1 + 4
    print_css = page[page.index("@media print") :]
    assert re.search(r"section\.certificate \{ break-before: page;", print_css)
