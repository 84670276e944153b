"""How an operator names a unit: the serial on its label (typed or scanned) or its MAC.

One check for every way a name comes in (`--serial`, `--mac`, a spreadsheet row, a scan at
the station), so a name refused in one place is refused in all.
"""

from __future__ import annotations

from rig.errors import ParseError, UsageError
from rig.network.sadp import normalise_mac

# The label serial is matched against the end of SADP's DeviceSN: a stray keypress or a short
# scan must not match the end of every serial on the network.
MIN_SERIAL_CHARS = 6


def check_serial(serial: str, where: str) -> str:
    """The label serial, stripped; UsageError naming `where` if it cannot identify a unit."""
    value = serial.strip()
    if len(value) < MIN_SERIAL_CHARS:
        raise UsageError(f"{where}: {value!r} is too short to identify a unit")
    if not value.isprintable() or " " in value:
        raise UsageError(f"{where}: {value!r} is not a serial (it holds spaces or control codes)")
    return value


def check_mac(mac: str, where: str) -> str:
    """The MAC in SADP's form (lower case, dashes); UsageError naming `where` otherwise."""
    try:
        return normalise_mac(mac)
    except ParseError as exc:
        raise UsageError(f"{where}: {exc}") from None
