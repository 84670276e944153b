"""What each QA check records, after OpenHTF's measurements: a named value, its limits and
whether it is within them; a check passes when all of its measurements do.

The records keep `Check.as_details()` in the check's step, so the certificate can show each
value against its limits without knowing how it was measured.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Value = float | int | str | bool | None


@dataclass(frozen=True)
class Measurement:
    name: str
    value: Value
    passed: bool
    unit: str = ""
    low: float | None = None  # value >= low
    high: float | None = None  # value <= high
    expected: Value = None  # value == expected (identity, status words)
    limit_text: str | None = None  # limits no number says (a firmware version: ">= V5.7.3")

    @property
    def limits(self) -> str:
        """The limits as a person reads them: '>= 100', '20–235', '= DS-2CD2143G2-I'."""
        unit = f" {self.unit}" if self.unit else ""
        if self.limit_text is not None:
            return self.limit_text
        if self.expected is not None:
            return f"= {self.expected}"
        if self.low is not None and self.high is not None:
            return f"{self.low:g}–{self.high:g}{unit}"
        if self.low is not None:
            return f">= {self.low:g}{unit}"
        if self.high is not None:
            return f"<= {self.high:g}{unit}"
        return "recorded"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "limits": self.limits,
            "passed": self.passed,
        }


def at_least(name: str, value: float | None, low: float, unit: str = "") -> Measurement:
    passed = value is not None and value >= low
    return Measurement(name, _round(value), passed, unit, low=low)


def in_range(
    name: str, value: float | None, low: float, high: float, unit: str = ""
) -> Measurement:
    passed = value is not None and low <= value <= high
    return Measurement(name, _round(value), passed, unit, low=low, high=high)


def equals(name: str, value: Value, expected: Value) -> Measurement:
    return Measurement(name, value, value == expected, expected=expected)


def _round(value: float | None) -> float | None:
    if value is None or isinstance(value, int):
        return value  # a count stays a count
    return round(float(value), 3)


@dataclass(frozen=True)
class Check:
    """One QA check's result: its measurements and, when it failed, why in one line."""

    name: str  # activate, identity, firmware, picture, storage, restore
    measurements: tuple[Measurement, ...] = ()
    reason: str | None = None  # set when the check could not measure (no answer, refused)
    extra: dict[str, Any] = field(default_factory=dict)  # what else the step keeps

    @property
    def passed(self) -> bool:
        return self.reason is None and all(m.passed for m in self.measurements)

    @property
    def why(self) -> str:
        """Why it failed: its own reason, else the measurements out of limits."""
        if self.reason is not None:
            return self.reason
        bad = [m for m in self.measurements if not m.passed]
        return "; ".join(f"{m.name} {m.value} not {m.limits}" for m in bad) or "passed"

    def as_details(self) -> dict[str, Any]:
        return {
            "check": self.name,
            "passed": self.passed,
            "measurements": [m.as_dict() for m in self.measurements],
            **({"why": self.why} if not self.passed else {}),
            **self.extra,
        }


def failed(name: str, reason: str, **extra: Any) -> Check:
    """A check that could not measure at all."""
    return Check(name, reason=reason, extra=extra)
