"""The chart of the report page: units started per hour of one day (UTC), as an inline SVG.

Plain SVG markup, no script, font or image. The bars' colours are attributes, so they hold
without a stylesheet; the page's (report.css, `svg.chart`) only scales the chart to the page and
sets its text's size and colour.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date

from rig.records.units import UnitRecord

VERIFIED_FILL = "#2b7a4b"
NOT_VERIFIED_FILL = "#d0892b"  # amber, not red: tells apart from green for red-green blindness

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
