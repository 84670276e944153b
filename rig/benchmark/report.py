"""How the benchmark prints its figures: medians and worsts, and each figure against its
target as a ratio (so a figure holds on a noisy machine: the ratio is what is judged)."""

from __future__ import annotations

import statistics

from rich.console import Console
from rich.table import Table

console = Console()


def med_worst(values: list[float], digits: int = 3) -> tuple[str, str]:
    """Median and worst (largest) of `values`, or dashes when there are none."""
    if not values:
        return "-", "-"
    return f"{statistics.median(values):.{digits}f}", f"{max(values):.{digits}f}"


def med_worst_abs(values: list[float], digits: int = 2) -> tuple[str, str]:
    """Median and the worst by size, signed (hold errors may be early or late)."""
    if not values:
        return "-", "-"
    return f"{statistics.median(values):.{digits}f}", f"{max(values, key=abs):+.{digits}f}"


def at_most(value: float, limit: float) -> str:
    """`value / limit` and whether it is within (a ratio of at most 1 meets the target)."""
    ratio = value / limit if limit else float("inf")
    return f"{ratio:.2f} {'met' if ratio <= 1 else 'MISSED'}"


def at_least(value: float, limit: float) -> str:
    """`value / limit` and whether it reaches the target (a ratio of at least 1)."""
    ratio = value / limit if limit else float("inf")
    return f"{ratio:.2f} {'met' if ratio >= 1 else 'MISSED'}"


def table(title: str, *columns: str) -> Table:
    t = Table(title=title, title_justify="left")
    for column in columns:
        t.add_column(column)
    return t
