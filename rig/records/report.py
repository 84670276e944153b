"""The HTML page a lab hands its customer: the summary of the records grouped by unit
(rig.records.units), the units not reset, and a reset certificate per unit verified.

The page is one self-contained file: the stylesheet (report.css, shipped as package data) is
inlined, the SVG chart (rig.records.chart) too, and there is no script, no font, image or
stylesheet from anywhere, and a Content-Security-Policy that forbids them, so it opens the same
offline, in a mail attachment or printed. Everything that came from the records is escaped:
serials, models and reasons are whatever a device on the bench LAN chose to say.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from functools import cache
from html import escape
from importlib import resources
from typing import Any

from rig import __version__
from rig.job import HARD_PROCEDURES
from rig.outcomes import Outcome
from rig.records.chart import hourly_chart
from rig.records.units import (
    NO_BAY,
    PROOF_FIELDS,
    Attempt,
    QaRecord,
    QaTally,
    Tally,
    UnitRecord,
    bay_label,
    by_day,
    iso,
    qa_by_model,
    tally,
    tally_by_model,
    tally_by_station,
    units_from_jobs,
)

DEFAULT_TITLE = "Factory reset report"

# Keyed by the procedure names' string values: a str-valued enum member (StrEnum) hashes and
# compares as its value, so it finds its description here as the plain string from the records.
PROCEDURES: dict[str, str] = {
    "power-cycle-hold": (
        "Hard reset (vendor procedure): power cut, reset pin pressed, power restored while the"
        " pin is held, held for the target time from power-on, released"
    ),
    "running-hold": "Hard reset: reset pin held with the unit powered, then released",
    "software-full": "Software factory reset over ISAPI (mode=full): back to the inactive state",
    "software-basic": "Software restore over ISAPI (mode=basic): network settings kept",
    "qa": (
        "QA pass: activated with a bench password, checked (identity, firmware, picture,"
        " card), restored over ISAPI (mode=full) and proven inactive again"
    ),
}

# --- HTML helpers ---------------------------------------------------------------------------


def _e(value: object) -> str:
    """Text or attribute value, escaped (quotes too: the same helper serves attributes)."""
    return escape("" if value is None else str(value), quote=True)


def _or_dash(value: object) -> str:
    return "–" if value is None or value == "" else _e(value)


def _time(wall: float | None) -> str:
    """A <time> a person reads (seconds, UTC) that keeps the exact ISO 8601 in its attribute."""
    if wall is None:
        return "–"
    moment = datetime.fromtimestamp(wall, UTC)
    return f'<time datetime="{_e(iso(wall))}">{moment:%Y-%m-%d %H:%M:%S} UTC</time>'


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f} s"


def _hold(attempt: Attempt) -> str:
    if attempt.hold_s is None:
        return "–"
    error_ms = (attempt.hold_s - attempt.target_hold_s) * 1000
    return f"{attempt.hold_s:.3f} s <span class='muted'>({error_ms:+.1f} ms from target)</span>"


def _flag(value: object) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false (inactive: factory state)"
    return "not reported" if value is None else _e(value)


def _proof_value(key: str, value: object) -> str:
    if key in ("sadp_activated", "isapi_activated"):
        return _flag(value)
    if key == "factory_login_status" and value == 200:
        return "200 (accepted: factory state)"
    return _or_dash(value)


def _outcome_badge(outcome: str | None) -> str:
    name = outcome or "running"
    kind = "ok" if name == Outcome.RESET_VERIFIED.value else "bad"
    return f'<span class="badge {kind}">{_e(name)}</span>'


def _model_table(
    models: Mapping[str, Tally],
    total: Tally,
    caption: str,
    *,
    heading: str = "Model",
    all_label: str = "All models",
) -> str:
    rows = "".join(
        f"<tr><th scope='row'>{_e(model)}</th><td>{t.done}</td><td>{t.verified}</td>"
        f"<td>{t.not_verified}</td><td class='yield'>{t.yield_text()}</td></tr>"
        for model, t in models.items()
    )
    return (
        f"<table class='models'><caption>{_e(caption)}</caption>"
        f"<thead><tr><th scope='col'>{_e(heading)}</th><th scope='col'>Units done</th>"
        "<th scope='col'>Reset verified</th><th scope='col'>Not reset</th>"
        "<th scope='col'>Yield</th></tr></thead>"
        f"<tbody>{rows}</tbody>"
        f"<tfoot><tr><th scope='row'>{_e(all_label)}</th><td>{total.done}</td>"
        f"<td>{total.verified}</td><td>{total.not_verified}</td>"
        f"<td class='yield'>{total.yield_text()}</td></tr></tfoot></table>"
    )


def _figures(t: Tally) -> str:
    boxes = [
        ("Units done", str(t.done)),
        ("Reset verified", str(t.verified)),
        ("Not reset", str(t.not_verified)),
        ("Yield", t.yield_text()),
    ]
    if t.running:
        boxes.append(("Still running", str(t.running)))
    cells = "".join(
        f"<div class='figure'><span class='value'>{_e(v)}</span> "
        f"<span class='name'>{_e(k)}</span></div>"
        for k, v in boxes
    )
    return f"<div class='figures'>{cells}</div>"


def _station_table(units: Sequence[UnitRecord], caption: str) -> str:
    """Units per station, when the records are a fleet's (`rig report --fleet`)."""
    stations = tally_by_station(units)
    if len(stations) < 2:
        return ""
    return _model_table(
        stations, tally(units), caption, heading="Station", all_label="All stations"
    )


# --- the sections ---------------------------------------------------------------------------


def _summary(units: Sequence[UnitRecord]) -> str:
    if not units:
        return "<section class='summary'><h2>Summary</h2><p>No units in this range.</p></section>"
    days = by_day(units)
    parts = [
        "<section class='summary'><h2>Summary</h2>",
        _figures(tally(units)),
        _model_table(tally_by_model(units), tally(units), "Yield per model, whole range"),
        _station_table(units, "Units per station, whole range"),
        "<p class='note'>Yield = reset verified / units done. A unit is every attempt on the"
        " same camera (escalation retries with longer holds count once, with the outcome of"
        " the last attempt) and is dated by its first attempt's start.</p>",
        _qa_tables(units, "whole range"),
    ]
    for day, day_units in days.items():
        total = tally(day_units)
        parts.append(
            f"<section class='day' id='day-{day.isoformat()}'>"
            f"<h3>{day.isoformat()} <span class='muted'>{day:%A}</span></h3>"
            + _figures(total)
            + "<div class='day-body'>"
            + _model_table(tally_by_model(day_units), total, f"Yield per model, {day}")
            + _qa_tables(day_units, str(day))
            + _station_table(day_units, f"Units per station, {day}")
            + f"<figure>{hourly_chart(day, day_units)}"
            + "<figcaption>Units per hour (UTC)</figcaption></figure></div></section>"
        )
    parts.append("</section>")
    return "".join(parts)


def _not_reset(units: Sequence[UnitRecord]) -> str:
    failed = [u for u in units if not u.verified]
    if not failed:
        body = "<p>Every unit in this range was reset and verified.</p>"
    else:
        rows = "".join(
            f"<tr><td class='unit'><span class='mono'>{_e(u.label)}</span><br>"
            f"<span class='muted'><span class='mono'>{_or_dash(u.mac)}</span>"
            f" · {_or_dash(u.model)}</span></td>"
            f"<td>{_time(u.started_wall)}<br>"
            f"<span class='muted'>{_e(u.last.station)} / {_e(bay_label(u.last.bay))}</span></td>"
            f"<td>{len(u.attempts)}</td><td>{_outcome_badge(u.outcome)}</td>"
            f"<td>{_or_dash(u.last.reason)}</td>"
            f"<td>{_e(', '.join(map(str, u.job_ids)))}</td></tr>"
            for u in failed
        )
        body = (
            "<table class='failed'><thead><tr><th scope='col'>Unit (serial, MAC, model)</th>"
            "<th scope='col'>Started, station / bay</th><th scope='col'>Attempts</th>"
            "<th scope='col'>Outcome</th><th scope='col'>Reason</th>"
            f"<th scope='col'>Jobs</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    return f"<section class='not-reset'><h2>Units not reset ({len(failed)})</h2>{body}</section>"


def _qa_tables(units: Sequence[UnitRecord], span: str) -> str:
    """QA yield per model and the failures by check; nothing when no unit had a QA pass."""
    models = qa_by_model(units)
    if not models:
        return ""
    total = QaTally()
    for unit in units:
        total.add(unit)
    rows = "".join(
        f"<tr><th scope='row'>{_e(model)}</th><td>{t.units}</td><td>{t.passed}</td>"
        f"<td>{t.failed}</td><td class='yield'>{t.yield_text()}</td></tr>"
        for model, t in models.items()
    )
    yield_table = (
        f"<table class='models qa-yield'><caption>QA yield per model, {_e(span)}</caption>"
        "<thead><tr><th scope='col'>Model</th><th scope='col'>Units QA'd</th>"
        "<th scope='col'>QA passed</th><th scope='col'>QA failed</th>"
        "<th scope='col'>QA yield</th></tr></thead>"
        f"<tbody>{rows}</tbody><tfoot><tr><th scope='row'>All models</th><td>{total.units}</td>"
        f"<td>{total.passed}</td><td>{total.failed}</td>"
        f"<td class='yield'>{total.yield_text()}</td></tr></tfoot></table>"
    )
    if not total.failed_by_check:
        return yield_table
    failures = "".join(
        f"<tr><th scope='row'>{_e(check)}</th><td>{count}</td></tr>"
        for check, count in sorted(total.failed_by_check.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    return yield_table + (
        f"<table class='models qa-failures'><caption>QA failures by check, {_e(span)}</caption>"
        "<thead><tr><th scope='col'>Check</th><th scope='col'>Units failed</th></tr></thead>"
        f"<tbody>{failures}</tbody></table>"
    )


def _qa_section(qa: QaRecord) -> str:
    """The certificate's QA pass: each check, each measurement with its value and limits,
    and the thumbnail of the first snapshot."""
    rows = []
    for check in qa.checks:
        measurements = check.get("measurements") or []
        verdict = _outcome_badge_text(
            "pass" if check.get("passed") else "fail", check.get("passed")
        )
        why = f"<br><span class='muted'>{_e(check['why'])}</span>" if check.get("why") else ""
        span = max(len(measurements), 1)
        head = f"<th scope='row' rowspan='{span}'>{_e(check.get('check'))}{why}</th>"
        if not measurements:
            rows.append(f"<tr>{head}<td>–</td><td>–</td><td>–</td><td>{verdict}</td></tr>")
        for i, m in enumerate(measurements):
            unit = f" {_e(m.get('unit'))}" if m.get("unit") else ""
            mark = _outcome_badge_text("pass" if m.get("passed") else "fail", m.get("passed"))
            rows.append(
                f"<tr>{head if i == 0 else ''}<td>{_e(m.get('name'))}</td>"
                f"<td class='mono'>{_or_dash(m.get('value'))}{unit}</td>"
                f"<td>{_e(m.get('limits'))}</td><td>{mark}</td></tr>"
            )
    table = (
        "<table class='qa-checks'><caption>QA pass"
        f" {_outcome_badge_text(qa.qa or 'unfinished', qa.qa == 'passed')}</caption>"
        "<thead><tr><th scope='col'>Check</th><th scope='col'>Measurement</th>"
        "<th scope='col'>Value</th><th scope='col'>Limits</th><th scope='col'>Result</th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )
    picture = ""
    if qa.thumbnail_b64:
        # base64 of our own JPEG, re-checked here: only its alphabet reaches the attribute.
        data = "".join(c for c in qa.thumbnail_b64 if c.isalnum() or c in "+/=")
        picture = (
            "<figure class='qa-thumbnail'><img alt='the picture of the unit at its QA pass'"
            f" src='data:image/jpeg;base64,{data}'>"
            "<figcaption>Main stream, first snapshot of the QA pass</figcaption></figure>"
        )
    return f"<section class='qa'><h3>QA pass (job {qa.job_id})</h3>{table}{picture}</section>"


def _outcome_badge_text(text: str, good: object) -> str:
    return f"<span class='badge {'ok' if good else 'bad'}'>{_e(text)}</span>"


FactRow = Sequence[tuple[str, str]]  # one or two (label, value) pairs


def _facts(caption: str, rows: Iterable[FactRow], *, css: str = "facts") -> str:
    """A label/value table, two pairs to a line; a lone pair (a serial, a procedure, a reason)
    gets the whole line. Values arrive already escaped or built from escaped parts."""
    body = []
    for row in rows:
        cells = "".join(f"<th scope='row'>{_e(k)}</th><td>{v}</td>" for k, v in row)
        if len(row) == 1:
            cells = cells.replace("<td>", "<td colspan='3'>", 1)
        body.append(f"<tr>{cells}</tr>")
    cols = "<colgroup><col class='k'><col class='v'><col class='k'><col class='v'></colgroup>"
    return f"<table class='{css}'><caption>{_e(caption)}</caption>{cols}{''.join(body)}</table>"


def _certificate(unit: UnitRecord, title: str) -> str:
    last = unit.last
    number = f"{last.station}/{last.job_id}"
    procedure = PROCEDURES.get(last.procedure)
    unit_rows: list[FactRow] = [
        [("Serial (DeviceSN)", f"<span class='mono'>{_or_dash(unit.serial)}</span>")],
        [
            ("Model", _or_dash(unit.model)),
            ("MAC address", f"<span class='mono'>{_or_dash(unit.mac)}</span>"),
        ],
        [
            ("Firmware before", _or_dash(unit.firmware_before)),
            ("Firmware after", _or_dash(unit.firmware_after)),
        ],
    ]
    if unit.scanned_serial and unit.scanned_serial != unit.serial:
        label = f"<span class='mono'>{_e(unit.scanned_serial)}</span>"
        unit_rows.append([("Label serial (scanned)", label)])
    reset_rows: list[FactRow] = [
        [("Station", _e(last.station)), ("Bay", _e(NO_BAY if last.bay is None else last.bay))],
        [
            (
                "Procedure",
                f"<span class='mono'>{_e(last.procedure)}</span>"
                + (f" <span class='muted'>– {_e(procedure)}</span>" if procedure else ""),
            )
        ],
        [("Started", _time(unit.started_wall)), ("Completed", _time(unit.ended_wall))],
    ]
    held = last.procedure in HARD_PROCEDURES  # a software reset holds no pin
    if held:
        reset_rows.append(
            [("Hold target", _seconds(last.target_hold_s)), ("Measured hold", _hold(last))]
        )
    reset_rows.append(
        [("Attempts", str(len(unit.attempts))), ("Job ids", _e(", ".join(map(str, unit.job_ids))))]
    )
    proof_rows: list[FactRow] = [
        [(name, _proof_value(key, last.proof[key]))]
        for key, name in PROOF_FIELDS
        if key in last.proof
    ]
    proof_rows.append([("Verdict", f"{_outcome_badge(last.outcome)} {_or_dash(last.reason)}")])
    station = f"<strong>{_e(last.station)}</strong>"
    if last.bay is None:
        where = f"from station {station} over the network (no bay)"
    else:
        where = f"at station {station}, bay <strong>{_e(last.bay)}</strong>"
    history = ""
    if len(unit.attempts) > 1:
        rows = "".join(
            f"<tr><td>{a.attempt}</td><td>{a.job_id}</td><td>{_seconds(a.target_hold_s)}</td>"
            f"<td>{_seconds(a.hold_s)}</td><td>{_outcome_badge(a.outcome)}</td>"
            f"<td>{_or_dash(a.reason)}</td></tr>"
            for a in unit.attempts
        )
        history = (
            "<h3>Attempts</h3><table class='attempts'><thead><tr><th scope='col'>#</th>"
            "<th scope='col'>Job</th><th scope='col'>Hold target</th>"
            "<th scope='col'>Measured hold</th><th scope='col'>Outcome</th>"
            f"<th scope='col'>Reason</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    return (
        f"<section class='certificate' id='certificate-{last.job_id}'"
        f" aria-labelledby='certificate-{last.job_id}-title'>"
        "<header class='cert-head'><div>"
        f"<p class='kicker'>{_e(title)}</p>"
        f"<h2 id='certificate-{last.job_id}-title'>Reset certificate</h2></div>"
        f"<div class='cert-no'>No. <strong class='mono'>{_e(number)}</strong><br>"
        f"{_time(unit.ended_wall)}</div></header>"
        f"<p class='statement'>The camera <strong class='mono'>{_e(unit.label)}</strong> was"
        f" reset {where}, and the rig verified over the network that the same unit came back in"
        " factory state, as recorded below.</p>"
        + _facts("Unit", unit_rows)
        + _facts("Reset", reset_rows)
        + _facts("Evidence", proof_rows, css="facts proof")
        + (_qa_section(unit.qa) if unit.qa is not None else "")
        + history
        + "<footer class='cert-foot'>"
        "<div class='sign'><span>Checked by</span></div><div class='sign'><span>Date</span></div>"
        f"<p class='muted'>Issued from the station's records by rig {_e(__version__)}."
        " Times are UTC."
        + (" The hold is measured from power-on to release." if held else "")
        + "</p>"
        "</footer></section>"
    )


@cache
def _stylesheet() -> str:
    """The page's CSS: report.css, package data next to this module, inlined into every page."""
    return resources.files("rig.records").joinpath("report.css").read_text(encoding="utf-8")


def render_html(
    jobs: Iterable[Mapping[str, Any]],
    *,
    title: str = DEFAULT_TITLE,
    since: date | None = None,
    generated_wall: float | None = None,
) -> str:
    """The whole page for these jobs (RecordStore.jobs(since_wall=...))."""
    units = units_from_jobs(jobs)
    generated = time.time() if generated_wall is None else generated_wall
    stations = sorted({u.last.station for u in units})
    days = sorted({u.day for u in units})
    if days:
        span = f"{days[0]}" if days[0] == days[-1] else f"{days[0]} to {days[-1]}"
        scope = f"Units started {span} (UTC)"
    else:
        scope = "No units"
    if since is not None:
        scope += f", selected from {since.isoformat()}"
    station_text = ", ".join(stations) if stations else "–"
    verified = [u for u in units if u.verified]
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        # Belt and braces for "self-contained": even if something slipped through escaping,
        # the browser runs no script and fetches nothing.
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none';"
        " style-src 'unsafe-inline'; img-src data:\">"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<meta name='generator' content='rig {_e(__version__)}'>"
        f"<title>{_e(title)}</title><style>{_stylesheet()}</style></head><body><main>"
        f"<header class='report-head'><h1>{_e(title)}</h1>"
        f"<p class='meta'>Station {_e(station_text)} · {_e(scope)} · {len(units)} units,"
        f" {len(verified)} certificates · generated {_time(generated)} by rig"
        f" {_e(__version__)}</p></header>"
        + _summary(units)
        + _not_reset(units)
        + "".join(_certificate(u, title) for u in verified)
        + "</main></body></html>\n"
    )
