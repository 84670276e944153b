"""Hikvision firmware versions, as the units report them (SADP SoftwareVersion, ISAPI deviceInfo).

The factory state is judged by the firmware the unit reports: from 5.3 on a camera ships
inactive and must be activated; before that it ships with admin/12345 (docs/architecture.md).
"""

from __future__ import annotations

import re

__all__ = ["ACTIVATION_SINCE", "FirmwareVersion", "is_activation_firmware", "parse_firmware"]

FirmwareVersion = tuple[int, int, int]

# The first camera firmware with the activation concept.
ACTIVATION_SINCE: FirmwareVersion = (5, 3, 0)

# Seen on the wire: "V5.5.0", "V5.7.3build 230222", "V3.5.38build 191215",
# "V5.5.800 build 210628", "V5.0, build 191213" (a DSPVersion), "V4.62.210" (a recorder's
# ISAPI firmwareVersion; its build date comes in firmwareReleasedDate). The build date is not
# part of the version. The digit limits keep a garbage string from becoming an absurd version;
# the digits are ASCII only (`\d` would also take Arabic-Indic digits, which int() reads).
_VERSION = re.compile(r"\s*[Vv]?([0-9]{1,4})\.([0-9]{1,4})(?:\.([0-9]{1,6}))?(?![\d.])")


def parse_firmware(text: str | None) -> FirmwareVersion | None:
    """`"V5.7.3build 230222"` -> `(5, 7, 3)`; a two-part `"V5.0"` -> `(5, 0, 0)`; else None."""
    if not text:
        return None
    match = _VERSION.match(text)
    if match is None:
        return None
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


def is_activation_firmware(version: FirmwareVersion | str | None) -> bool | None:
    """True if this camera firmware has the activation concept (>= 5.3); None if unknown.

    Accepts a parsed version or the string as reported. Recorders (NVR/DVR) number their
    firmware differently (a V3.5 DVR can report `Activated`), so this rule is for cameras;
    when a unit reports `Activated` itself, that report is the better evidence.
    """
    if isinstance(version, str):
        version = parse_firmware(version)
    if version is None:
        return None
    return version >= ACTIVATION_SINCE
