"""The firmware check: the unit runs at least the firmware the lab supports for its model.

The policy per model is the profile's `min_firmware`, overridden by the station's
`[qa.firmware."MODEL"]` table, which may also name a local `digicap.dav` to upgrade from.
Versions compare as numbers (rig.network.version): "V5.7.18" is newer than "V5.7.3".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rig.network.version import parse_firmware
from rig.qa.measure import Check, Measurement, failed


@dataclass(frozen=True)
class FirmwarePolicy:
    min_firmware: str | None = None  # None: any firmware passes (recorded all the same)
    upgrade_file: Path | None = None  # a digicap.dav for this model, sent when below minimum


def _text(version: tuple[int, int, int]) -> str:
    return "V" + ".".join(map(str, version))


def check_firmware(reported: str | None, policy: FirmwarePolicy) -> Check:
    version = parse_firmware(reported)
    if version is None:
        return failed("firmware", f"deviceInfo firmwareVersion {reported!r} is not a version")
    if policy.min_firmware is None:
        return Check("firmware", (Measurement("firmware_version", _text(version), True),))
    minimum = parse_firmware(policy.min_firmware)
    assert minimum is not None, "checked when the profile and config were read"
    return Check(
        "firmware",
        (
            Measurement(
                "firmware_version",
                _text(version),
                version >= minimum,
                limit_text=f">= {_text(minimum)}",
            ),
        ),
        extra={"min_firmware": _text(minimum)},
    )
