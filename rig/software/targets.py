"""The units a software reset is asked for, and the password it logs in with.

A unit is named by MAC, by label serial or both, on the command line or in a lab's
spreadsheet. The password lives in a `Password`, whose repr hides it; it is revealed only
where a request is built, and never reaches a log, a record, an export or the output.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from rig.errors import UsageError
from rig.identity import check_mac, check_serial


class Password:
    """The admin password, kept out of every repr, str, log and record by construction.

    `reveal()` is called only where a request is built (the digest response), so a password
    can only leave the process inside those requests.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not value:
            raise UsageError("the password is empty")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Password(<hidden>)"

    __str__ = __repr__


@dataclass(frozen=True)
class Target:
    """One unit the operator named: by MAC, by label serial, or both (then both must match)."""

    mac: str | None  # normalised: lower case with dashes
    serial: str | None  # as printed on the label: the end of SADP's DeviceSN
    # From a spreadsheet's password column; None: the shared password (RIG_PASSWORD / prompt).
    password: Password | None = field(default=None, repr=False, compare=False)
    source: str = "command line"  # where it was named, for messages ("units.csv line 3")

    @property
    def label(self) -> str:
        return " / ".join(x for x in (self.mac, self.serial) if x) or "?"


_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def check_user(user: str) -> str:
    # The user goes into a quoted digest parameter: a control character could only be a typo.
    if not user or _CONTROL_RE.search(user):
        raise UsageError(f"--user: {user!r} is not a user name")
    return user


# --- the spreadsheet of units ---------------------------------------------------------------


def _delimiter(first_line: str) -> str:
    # Spreadsheets saved in a comma-decimal locale use ";"; some labs paste tab-separated.
    for candidate in (",", ";", "\t"):
        if candidate in first_line:
            return candidate
    return ","


def read_targets_csv(path: Path) -> list[Target]:
    """The units of a lab's spreadsheet: a header row, then `mac` and/or `serial` per row.

    An optional `password` column gives a unit its own password (read here once, kept only in
    memory); other columns are ignored (labs keep notes beside the units). Raises UsageError
    naming the file, the line and the column; a password cell is never quoted in a message.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")  # Excel writes a BOM
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=_delimiter(text.partition("\n")[0])
    )
    targets: list[Target] = []
    seen: dict[tuple[str, str], int] = {}  # (column, unit) -> line it was first named on
    try:
        header = next(reader, None)
        if header is None or not any(h.strip() for h in header):
            raise UsageError(f"{path}: line 1: no header row (expected a mac or serial column)")
        columns = [h.strip().casefold() for h in header]
        for name in ("mac", "serial", "password"):
            if columns.count(name) > 1:
                raise UsageError(f"{path}: line 1, column {name}: named twice in the header")
        if "mac" not in columns and "serial" not in columns:
            raise UsageError(f"{path}: line 1: no mac or serial column in the header")
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue  # blank rows are what spreadsheets leave at the end
            if len(row) > len(columns):
                raise UsageError(
                    f"{path}: line {line}: {len(row)} fields, but the header has {len(columns)}"
                )
            cells = dict(zip(columns, (c.strip() for c in row), strict=False))
            targets.append(_target_from_row(path, line, cells, seen))
    except csv.Error as exc:
        raise UsageError(f"{path}: line {reader.line_num}: not valid CSV: {exc}") from None
    if not targets:
        raise UsageError(f"{path}: no units listed under the header")
    return targets


def _target_from_row(
    path: Path, line: int, cells: dict[str, str], seen: dict[tuple[str, str], int]
) -> Target:
    mac_text, serial_text = cells.get("mac", ""), cells.get("serial", "")
    if not mac_text and not serial_text:
        column = "mac" if "mac" in cells else "serial"
        raise UsageError(f"{path}: line {line}, column {column}: empty (name the unit)")
    mac = check_mac(mac_text, f"{path}: line {line}, column mac") if mac_text else None
    serial = (
        check_serial(serial_text, f"{path}: line {line}, column serial") if serial_text else None
    )
    for column, key in (("mac", mac), ("serial", serial.upper() if serial else None)):
        if key is None:
            continue
        if (column, key) in seen:
            first = seen[column, key]
            raise UsageError(f"{path}: line {line}, column {column}: same unit as line {first}")
        seen[column, key] = line
    password_text = cells.get("password", "")
    return Target(
        mac=mac,
        serial=serial,
        password=Password(password_text) if password_text else None,
        source=f"{path.name} line {line}",
    )
