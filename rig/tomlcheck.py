"""Reading a TOML table with one-line errors that name the file and key.

A `Table` wraps one parsed table and its dotted path (`bays[0].presser`). Each read names the
key; `finish()` rejects any key nobody read, so a typo like `hodl_s` is an error instead of
silently falling back to a default.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from rig.errors import ConfigError

T = TypeVar("T")
_MISSING: Any = object()


def load_toml(path: Path, label: str | None = None) -> Table:
    """Read `path` as TOML; a missing file or a syntax error is one ConfigError line."""
    label = label or path.name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{label}: no such file (run `rig init` to write an example)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{label}: cannot read: {exc}") from None
    return parse_toml(text, label)


def parse_toml(text: str, label: str) -> Table:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{label}: not valid TOML: {exc}") from None
    return Table(data, label, "")


class Table:
    def __init__(self, data: dict[str, Any], label: str, path: str) -> None:
        self._data = data
        self._label = label
        self._path = path
        self._read: set[str] = set()

    # -- naming -------------------------------------------------------------------------

    def where(self, key: str | None = None) -> str:
        """`rig.toml: bays[0].hold_s`: the place a message points at."""
        dotted = ".".join(p for p in (self._path, key) if p)
        return f"{self._label}: {dotted}" if dotted else self._label

    def error(self, key: str | None, problem: str) -> ConfigError:
        return ConfigError(f"{self.where(key)}: {problem}")

    # -- reads --------------------------------------------------------------------------

    def has(self, key: str) -> bool:
        return key in self._data

    def raw(self, key: str, default: Any = _MISSING) -> Any:
        self._read.add(key)
        if key in self._data:
            return self._data[key]
        if default is _MISSING:
            raise self.error(key, "missing (required)")
        return default

    def text(self, key: str, default: Any = _MISSING, *, choices: tuple[str, ...] = ()) -> Any:
        value = self.raw(key, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"must be a non-empty string, got {value!r}")
        if choices and value not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)}; got {value!r}")
        return value

    def flag(self, key: str, default: Any = _MISSING) -> Any:
        value = self.raw(key, default)
        if not isinstance(value, bool) and not (value is default and default is not _MISSING):
            raise self.error(key, f"must be true or false, got {value!r}")
        return value

    def number(
        self, key: str, default: Any = _MISSING, *, lo: float, hi: float, unit: str = ""
    ) -> Any:
        value = self.raw(key, default)
        if value is default and default is not _MISSING:
            return value
        suffix = f" {unit}" if unit else ""
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"must be a number{suffix}, got {value!r}")
        if not lo <= value <= hi:
            raise self.error(key, f"must be {lo:g}–{hi:g}{suffix}, got {value:g}")
        return float(value)

    def integer(self, key: str, default: Any = _MISSING, *, lo: int, hi: int) -> Any:
        value = self.raw(key, default)
        if value is default and default is not _MISSING:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"must be a whole number, got {value!r}")
        if not lo <= value <= hi:
            raise self.error(key, f"must be {lo}–{hi}, got {value}")
        return value

    def numbers(self, key: str, default: Any = _MISSING, *, lo: float, hi: float) -> Any:
        value = self.raw(key, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, list) or not value:
            raise self.error(key, f"must be a list of numbers, got {value!r}")
        out = []
        for item in value:
            if isinstance(item, bool) or not isinstance(item, int | float) or not lo <= item <= hi:
                raise self.error(key, f"every value must be a number {lo:g}–{hi:g}, got {item!r}")
            out.append(float(item))
        return out

    def table(self, key: str, default: Any = _MISSING) -> Any:
        value = self.raw(key, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, dict):
            raise self.error(key, f"must be a table, got {value!r}")
        return Table(value, self._label, self._join(key))

    def tables(self, key: str) -> Iterator[Table]:
        """An array of tables (`[[bays]]`), each named `bays[i]`."""
        value = self.raw(key, [])
        if not isinstance(value, list):
            raise self.error(key, "must be an array of tables ([[" + key + "]])")
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise self.error(f"{key}[{i}]", "must be a table")
            yield Table(item, self._label, self._join(f"{key}[{i}]"))

    def items(self) -> Iterator[tuple[str, Any]]:
        for key, value in self._data.items():
            self._read.add(key)
            yield key, value

    def sub(self, key: str, value: dict[str, Any]) -> Table:
        return Table(value, self._label, self._join(key))

    def finish(self) -> None:
        """Every key must have been read: unknown keys are errors, never ignored."""
        for key in self._data:
            if key not in self._read:
                raise self.error(key, "unknown key (check the spelling; see `rig init`)")

    def _join(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else key
