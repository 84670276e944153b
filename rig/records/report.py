"""The report: the records grouped by unit, and the HTML page a lab hands its customer.

A *unit* is the camera that sat in a bay: all the jobs sharing COALESCE(first_job_id, job_id),
i.e. the first attempt and the station's escalation retries with longer holds. Its outcome is
its last attempt's. A unit is dated by its first attempt's start (UTC), so it falls on exactly
one day of the daily summary and in exactly one `--since` range.

The page is one self-contained file: inline CSS, an inline SVG chart built here, no script, no
font, image or stylesheet from anywhere, and a Content-Security-Policy that forbids them, so it
opens the same offline, in a mail attachment or printed. Everything that came from the records is
escaped: serials, models and reasons are whatever a device on the bench LAN chose to say.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from html import escape
from typing import Any

from rig import __version__
from rig.outcomes import Outcome

DEFAULT_TITLE = "Factory reset report"

# The verify step's details that prove a reset, as a customer reads them. Only these keys
# reach the page: a details key added later (raw XML, anything sensitive) stays out of a
# document that leaves the lab.
PROOF_FIELDS: tuple[tuple[str, str], ...] = (
    ("identity", "Unit identified by"),
    ("verified_by", "Factory state confirmed by"),
    ("mode", "Software reset mode"),
    ("sadp_activated", "SADP: Activated"),
    ("isapi_activated", "ISAPI /SDK/activateStatus: Activated"),
    ("factory_login_status", "Factory default login (firmware < 5.3): HTTP status"),
    ("activated_after", "SADP: Activated after the restore"),
)
_PROOF_KEYS = frozenset(key for key, _ in PROOF_FIELDS)

PROCEDURES = {
    "power-cycle-hold": (
        "Hard reset (vendor procedure): power cut, reset pin pressed, power restored while the"
        " pin is held, held for the target time from power-on, released"
    ),
    "running-hold": "Hard reset: reset pin held with the unit powered, then released",
    "software-full": "Software factory reset over ISAPI (mode=full): back to the inactive state",
    "software-basic": "Software restore over ISAPI (mode=basic): network settings kept",
}

VERIFIED_FILL = "#2b7a4b"
NOT_VERIFIED_FILL = "#d0892b"  # amber, not red: tells apart from green for red-green blindness


def iso(wall: float | None) -> str | None:
    """ISO 8601 UTC with milliseconds: the time format of every export."""
    if wall is None:
        return None
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds")


# --- the units ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """One job: one try at resetting a unit."""

    job_id: int
    attempt: int
    station: str
    bay: str
    profile: str
    procedure: str
    scanned_serial: str | None
    serial: str | None
    mac: str | None
    model: str | None
    firmware: str | None
    firmware_before: str | None
    target_hold_s: float
    hold_s: float | None
    outcome: str | None  # None while running
    reason: str | None
    started_wall: float
    ended_wall: float | None
    proof: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_job(cls, job: Mapping[str, Any]) -> Attempt:
        verify = [s for s in job.get("steps") or () if s["name"] == "verify"]
        details = verify[-1]["details"] if verify else {}
        return cls(
            job_id=int(job["job_id"]),
            attempt=int(job.get("attempt") or 1),
            station=job["station"],
            bay=job["bay"],
            profile=job["profile"],
            procedure=job["procedure"],
            scanned_serial=job.get("scanned_serial"),
            serial=job.get("serial"),
            mac=job.get("mac"),
            model=job.get("model"),
            firmware=job.get("firmware"),
            firmware_before=job.get("firmware_before"),
            target_hold_s=float(job["target_hold_s"]),
            hold_s=job.get("hold_s"),
            outcome=job.get("outcome"),
            reason=job.get("reason"),
            started_wall=float(job["started_wall"]),
            ended_wall=job.get("ended_wall"),
            proof={k: v for k, v in details.items() if k in _PROOF_KEYS},
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "attempt": self.attempt,
            "bay": self.bay,
            "procedure": self.procedure,
            "outcome": self.outcome,
            "reason": self.reason,
            "target_hold_s": self.target_hold_s,
            "hold_s": self.hold_s,
            "started": iso(self.started_wall),
            "ended": iso(self.ended_wall),
        }


@dataclass(frozen=True)
class UnitRecord:
    """A unit and its attempts, oldest first. What it is comes from the latest attempt that
    saw it (a last attempt that ended before identify knows nothing of it)."""

    attempts: tuple[Attempt, ...]

    @property
    def first(self) -> Attempt:
        return self.attempts[0]

    @property
    def last(self) -> Attempt:
        return self.attempts[-1]

    def _latest(self, name: str) -> str | None:
        for attempt in reversed(self.attempts):
            value = getattr(attempt, name)
            if value is not None:
                return str(value)
        return None

    @property
    def serial(self) -> str | None:
        return self._latest("serial")

    @property
    def scanned_serial(self) -> str | None:
        return self._latest("scanned_serial")

    @property
    def mac(self) -> str | None:
        return self._latest("mac")

    @property
    def model(self) -> str | None:
        return self._latest("model")

    @property
    def firmware_before(self) -> str | None:
        # Before the first power cut: later attempts' "before" is already after a reset try.
        return next((a.firmware_before for a in self.attempts if a.firmware_before), None)

    @property
    def firmware_after(self) -> str | None:
        return self._latest("firmware")

    @property
    def outcome(self) -> str | None:
        return self.last.outcome

    @property
    def verified(self) -> bool:
        return self.last.outcome == Outcome.RESET_VERIFIED.value

    @property
    def finished(self) -> bool:
        return self.last.outcome is not None

    @property
    def started_wall(self) -> float:
        return self.first.started_wall

    @property
    def ended_wall(self) -> float | None:
        return self.last.ended_wall

    @property
    def started(self) -> datetime:
        return datetime.fromtimestamp(self.started_wall, UTC)

    @property
    def day(self) -> date:
        return self.started.date()

    @property
    def job_ids(self) -> list[int]:
        return [a.job_id for a in self.attempts]

    @property
    def label(self) -> str:
        return self.serial or self.scanned_serial or "unknown unit"

    def as_dict(self) -> dict[str, Any]:
        last = self.last
        return {
            "job_id": last.job_id,  # the job whose outcome and hold this is
            "job_ids": self.job_ids,
            "station": last.station,
            "bay": last.bay,
            "serial": self.serial,
            "scanned_serial": self.scanned_serial,
            "mac": self.mac,
            "model": self.model,
            "firmware_before": self.firmware_before,
            "firmware_after": self.firmware_after,
            "profile": last.profile,
            "procedure": last.procedure,
            "outcome": last.outcome,
            "reason": last.reason,
            "target_hold_s": last.target_hold_s,
            "hold_s": last.hold_s,
            "started": iso(self.started_wall),
            "ended": iso(self.ended_wall),
            "proof": dict(last.proof),
            "attempts": [a.as_dict() for a in self.attempts],
        }


def units_from_jobs(jobs: Iterable[Mapping[str, Any]]) -> list[UnitRecord]:
    """Group jobs (RecordStore.jobs()) into units, in the order the units started.

    A retry whose first attempt is not among `jobs` is left out: its unit started before the
    range these jobs were selected by (`--since`), so it belongs to that earlier report.
    """
    jobs = sorted(jobs, key=lambda job: int(job["job_id"]))
    present = {int(job["job_id"]) for job in jobs}
    groups: dict[int, list[Attempt]] = {}
    for job in jobs:
        first = job.get("first_job_id")
        key = int(first) if first is not None else int(job["job_id"])
        if key in present:
            groups.setdefault(key, []).append(Attempt.from_job(job))
    units = [UnitRecord(tuple(attempts)) for attempts in groups.values()]
    return sorted(units, key=lambda unit: (unit.started_wall, unit.first.job_id))


# --- tallies --------------------------------------------------------------------------------


@dataclass
class Tally:
    """Yield is verified / units done: a unit still running has no verdict yet."""

    units: int = 0
    done: int = 0
    verified: int = 0

    def add(self, unit: UnitRecord) -> None:
        self.units += 1
        self.done += unit.finished
        self.verified += unit.verified

    @property
    def not_verified(self) -> int:
        return self.done - self.verified

    @property
    def running(self) -> int:
        return self.units - self.done

    @property
    def yield_pct(self) -> float | None:
        return 100.0 * self.verified / self.done if self.done else None

    def yield_text(self) -> str:
        pct = self.yield_pct
        return "–" if pct is None else f"{pct:.1f} %"


def tally(units: Iterable[UnitRecord]) -> Tally:
    total = Tally()
    for unit in units:
        total.add(unit)
    return total


def tally_by_model(units: Iterable[UnitRecord]) -> dict[str, Tally]:
    models: dict[str, Tally] = {}
    for unit in units:
        models.setdefault(unit.model or "unknown model", Tally()).add(unit)
    return dict(sorted(models.items()))


def by_day(units: Iterable[UnitRecord]) -> dict[date, list[UnitRecord]]:
    days: dict[date, list[UnitRecord]] = {}
    for unit in units:
        days.setdefault(unit.day, []).append(unit)
    return dict(sorted(days.items()))


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


def _model_table(models: Mapping[str, Tally], total: Tally, caption: str) -> str:
    rows = "".join(
        f"<tr><th scope='row'>{_e(model)}</th><td>{t.done}</td><td>{t.verified}</td>"
        f"<td>{t.not_verified}</td><td class='yield'>{t.yield_text()}</td></tr>"
        for model, t in models.items()
    )
    return (
        f"<table class='models'><caption>{_e(caption)}</caption>"
        "<thead><tr><th scope='col'>Model</th><th scope='col'>Units done</th>"
        "<th scope='col'>Reset verified</th><th scope='col'>Not reset</th>"
        "<th scope='col'>Yield</th></tr></thead>"
        f"<tbody>{rows}</tbody>"
        f"<tfoot><tr><th scope='row'>All models</th><td>{total.done}</td>"
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


# --- the chart ------------------------------------------------------------------------------

_W, _H = 720, 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 12, 34, 48
_PLOT_W, _PLOT_H = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
_SLOT = _PLOT_W / 24
_BAR_W = _SLOT * 0.68


def _tick_step(top: int) -> int:
    """1, 2, 5, 10, 20, 50...: the smallest giving at most five gridlines."""
    magnitude = 1
    while True:
        for k in (1, 2, 5):
            if top <= 5 * k * magnitude:
                return k * magnitude
        magnitude *= 10


def hourly_chart(day: date, units: Sequence[UnitRecord]) -> str:
    """Units started per hour of the day (UTC) as an inline SVG: stacked bars, verified at the
    bottom. One <rect class="bar ..."> per non-empty segment; all 24 hours are labelled so two
    days' charts line up."""
    verified = [0] * 24
    other = [0] * 24
    for unit in units:
        (verified if unit.verified else other)[unit.started.hour] += 1
    top = max(max(v + o for v, o in zip(verified, other, strict=True)), 1)
    step = _tick_step(top)
    y_max = step * math.ceil(top / step)
    scale = _PLOT_H / y_max
    base = _TOP + _PLOT_H
    ident = f"chart-{day.isoformat()}"
    busy = [
        f"{h:02d}:00 {v + o} ({v} verified)"
        for h, (v, o) in enumerate(zip(verified, other, strict=True))
        if v + o
    ]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img"'
        f' viewBox="0 0 {_W} {_H}" width="{_W}" height="{_H}"'
        f' aria-labelledby="{ident}-title {ident}-desc">',
        f'<title id="{ident}-title">Units per hour on {day.isoformat()} (UTC)</title>',
        f'<desc id="{ident}-desc">Units started per hour of day, UTC: {", ".join(busy)}.</desc>',
    ]
    for i in range(y_max // step + 1):
        value = i * step
        y = base - value * scale
        parts.append(
            f'<line class="grid" x1="{_LEFT}" y1="{y:.1f}" x2="{_W - _RIGHT}" y2="{y:.1f}"'
            f' stroke="{"#555" if value == 0 else "#ddd"}" stroke-width="1"/>'
            f'<text class="tick" x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{value}</text>'
        )
    for hour in range(24):
        x = _LEFT + hour * _SLOT + (_SLOT - _BAR_W) / 2
        y = float(base)
        for count, kind, fill, what in (
            (verified[hour], "verified", VERIFIED_FILL, "reset verified"),
            (other[hour], "not-verified", NOT_VERIFIED_FILL, "not verified"),
        ):
            if not count:
                continue
            height = count * scale
            y -= height
            parts.append(
                f'<rect class="bar {kind}" x="{x:.1f}" y="{y:.1f}" width="{_BAR_W:.1f}"'
                f' height="{height:.1f}" fill="{fill}">'
                f"<title>{hour:02d}:00–{hour + 1:02d}:00 UTC: {count} {what}</title></rect>"
            )
        if verified[hour] + other[hour]:
            parts.append(
                f'<text class="count" x="{x + _BAR_W / 2:.1f}" y="{y - 4:.1f}"'
                f' text-anchor="middle">{verified[hour] + other[hour]}</text>'
            )
        parts.append(
            f'<text class="hour" x="{_LEFT + (hour + 0.5) * _SLOT:.1f}" y="{base + 15}"'
            f' text-anchor="middle">{hour:02d}</text>'
        )
    parts += [
        f'<text class="axis-title" x="{_LEFT + _PLOT_W / 2:.1f}" y="{_H - 8}"'
        ' text-anchor="middle">Hour of day (UTC)</text>',
        f'<text class="axis-title" transform="translate(14 {_TOP + _PLOT_H / 2:.1f}) rotate(-90)"'
        ' text-anchor="middle">Units</text>',
        # The legend's swatches are rects too, but not class "bar".
        f'<rect class="legend" x="{_W - 250}" y="10" width="12" height="12"'
        f' fill="{VERIFIED_FILL}"/>',
        f'<text class="legend-text" x="{_W - 234}" y="20">reset verified</text>',
        f'<rect class="legend" x="{_W - 130}" y="10" width="12" height="12"'
        f' fill="{NOT_VERIFIED_FILL}"/>',
        f'<text class="legend-text" x="{_W - 114}" y="20">not verified</text>',
        "</svg>",
    ]
    return "".join(parts)


# --- the sections ---------------------------------------------------------------------------


def _summary(units: Sequence[UnitRecord]) -> str:
    if not units:
        return "<section class='summary'><h2>Summary</h2><p>No units in this range.</p></section>"
    days = by_day(units)
    parts = [
        "<section class='summary'><h2>Summary</h2>",
        _figures(tally(units)),
        _model_table(tally_by_model(units), tally(units), "Yield per model, whole range"),
        "<p class='note'>Yield = reset verified / units done. A unit is every attempt on the"
        " same camera (escalation retries with longer holds count once, with the outcome of"
        " the last attempt) and is dated by its first attempt's start.</p>",
    ]
    for day, day_units in days.items():
        total = tally(day_units)
        parts.append(
            f"<section class='day' id='day-{day.isoformat()}'>"
            f"<h3>{day.isoformat()} <span class='muted'>{day:%A}</span></h3>"
            + _figures(total)
            + "<div class='day-body'>"
            + _model_table(tally_by_model(day_units), total, f"Yield per model, {day}")
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
            f"<span class='muted'>{_e(u.last.station)} / bay {_e(u.last.bay)}</span></td>"
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
        [("Station", _e(last.station)), ("Bay", _e(last.bay))],
        [
            (
                "Procedure",
                f"<span class='mono'>{_e(last.procedure)}</span>"
                + (f" <span class='muted'>– {_e(procedure)}</span>" if procedure else ""),
            )
        ],
        [("Started", _time(unit.started_wall)), ("Completed", _time(unit.ended_wall))],
        [("Hold target", _seconds(last.target_hold_s)), ("Measured hold", _hold(last))],
        [("Attempts", str(len(unit.attempts))), ("Job ids", _e(", ".join(map(str, unit.job_ids))))],
    ]
    proof_rows: list[FactRow] = [
        [(name, _proof_value(key, last.proof[key]))]
        for key, name in PROOF_FIELDS
        if key in last.proof
    ]
    proof_rows.append([("Verdict", f"{_outcome_badge(last.outcome)} {_or_dash(last.reason)}")])
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
        f" reset at station <strong>{_e(last.station)}</strong>, bay"
        f" <strong>{_e(last.bay)}</strong>, and the rig verified over the network that the"
        " same unit came back in factory state, as recorded below.</p>"
        + _facts("Unit", unit_rows)
        + _facts("Reset", reset_rows)
        + _facts("Evidence", proof_rows, css="facts proof")
        + history
        + "<footer class='cert-foot'>"
        "<div class='sign'><span>Checked by</span></div><div class='sign'><span>Date</span></div>"
        f"<p class='muted'>Issued from the station's records by rig {_e(__version__)}."
        " Times are UTC. The hold is measured from power-on to release.</p>"
        "</footer></section>"
    )


_CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #eef0f2; color: #1d2327;
  font: 14px/1.45 "Liberation Sans", "Helvetica Neue", Helvetica, Arial, "DejaVu Sans",
  sans-serif; }
main { max-width: 980px; margin: 0 auto; padding: 24px; }
.report-head, section.summary, section.not-reset, section.certificate {
  background: #fff; border: 1px solid #d5d9dd; border-radius: 6px; padding: 20px 24px;
  margin: 0 0 20px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 0 0 12px; }
h3 { font-size: 16px; margin: 18px 0 8px; }
.muted, .note { color: #5f6b73; }
.note { font-size: 12px; }
.mono { font-family: "Liberation Mono", "DejaVu Sans Mono", Menlo, Consolas, monospace;
  overflow-wrap: anywhere; }
.meta { margin: 0; color: #5f6b73; }
.figures { display: flex; flex-wrap: wrap; gap: 10px; margin: 8px 0 12px; }
.figure { border: 1px solid #d5d9dd; border-radius: 4px; padding: 6px 14px; min-width: 120px; }
.figure .value { display: block; font-size: 22px; font-weight: bold; }
.figure .name { color: #5f6b73; font-size: 12px; }
table { border-collapse: collapse; width: 100%; margin: 4px 0 10px; }
caption { text-align: left; font-weight: bold; padding: 4px 0; }
th, td { text-align: left; vertical-align: top; padding: 4px 8px;
  border-bottom: 1px solid #e3e6e8; }
thead th { border-bottom: 2px solid #9aa4ab; font-size: 12px; color: #3d474e; }
tfoot th, tfoot td { border-top: 2px solid #9aa4ab; font-weight: bold; }
table.models { max-width: 680px; }
table.models td, table.models thead th { text-align: right; }
table.models thead th:first-child { text-align: left; }
table.models th[scope=row] { font-weight: normal; }
tfoot th[scope=row] { font-weight: bold; }
section.day { border-top: 1px solid #d5d9dd; margin-top: 16px; }
figure { margin: 8px 0 0; }
figcaption { font-size: 12px; color: #5f6b73; }
svg.chart { max-width: 100%; height: auto; font-size: 11px; fill: #1d2327; }
svg.chart .axis-title { font-size: 12px; }
.badge { display: inline-block; padding: 0 6px; border-radius: 3px; font-size: 12px;
  font-weight: bold; white-space: nowrap; }
.badge.ok { background: #dcefe3; color: #1f5c38; }
.badge.bad { background: #fae6cf; color: #7a4a0c; }
section.certificate { padding: 28px 32px; }
.cert-head { display: flex; justify-content: space-between; align-items: flex-end;
  border-bottom: 3px solid #2b7a4b; padding-bottom: 10px; margin-bottom: 14px; }
.cert-head h2 { font-size: 26px; margin: 0; }
.kicker { margin: 0; color: #5f6b73; text-transform: uppercase; letter-spacing: .06em;
  font-size: 11px; }
.cert-no { text-align: right; font-size: 13px; }
.statement { font-size: 15px; }
table.facts { table-layout: fixed; margin-bottom: 14px; }
table.facts col.k { width: 19%; }
table.facts col.v { width: 31%; }
table.facts th { font-weight: normal; color: #5f6b73; }
table.proof col.k { width: 34%; }
table.proof col.v { width: 16%; }
.nowrap { white-space: nowrap; }
table.failed { font-size: 12px; }
table.failed td.unit { width: 36%; }
.cert-foot { display: grid; grid-template-columns: 1fr 1fr; gap: 0 24px; margin-top: 28px; }
.cert-foot p { grid-column: 1 / -1; font-size: 11px; margin-top: 26px; }
.sign { border-bottom: 1px solid #1d2327; height: 40px; position: relative; }
.sign span { position: absolute; bottom: -18px; font-size: 11px; color: #5f6b73; }
@page { size: A4; margin: 14mm; }
@media print {
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  body { background: #fff; font-size: 10pt; }
  main { max-width: none; padding: 0; }
  .report-head, section.summary, section.not-reset, section.certificate {
    border: 0; border-radius: 0; padding: 0; margin: 0 0 12pt; }
  section.day, figure, tr, table.facts, .cert-foot { break-inside: avoid; }
  section.not-reset h2 { break-after: avoid; }
  section.certificate { break-before: page; page-break-before: always; }
}
"""


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
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body><main>"
        f"<header class='report-head'><h1>{_e(title)}</h1>"
        f"<p class='meta'>Station {_e(station_text)} · {_e(scope)} · {len(units)} units,"
        f" {len(verified)} certificates · generated {_time(generated)} by rig"
        f" {_e(__version__)}</p></header>"
        + _summary(units)
        + _not_reset(units)
        + "".join(_certificate(u, title) for u in verified)
        + "</main></body></html>\n"
    )
