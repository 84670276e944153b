"""The station's QA policy, `[qa]` in rig.toml (read by rig.config, kept here): the firmware
each model must run, and the local image to upgrade it from.

```toml
[qa]
snapshot_gap_s = 1.0                       # between the two snapshots
[qa.firmware."DS-2CD2143G2-I"]
min_firmware = "V5.7.3"                    # overrides the profile's min_firmware
upgrade = "/srv/firmware/DS-2CD2143G2-I/digicap.dav"   # optional
```
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from rig.network.version import parse_firmware
from rig.qa.firmware import FirmwarePolicy
from rig.tomlcheck import Table


@dataclass(frozen=True)
class QaConfig:
    snapshot_gap_s: float = 1.0
    firmware: dict[str, FirmwarePolicy] = field(default_factory=dict)  # by model


def firmware_text(t: Table, key: str, default: str | None = None) -> str | None:
    """A firmware version key ("V5.7.3"), checked to be one."""
    value = t.text(key, default)
    if value is not None and parse_firmware(value) is None:
        raise t.error(key, f'must be a firmware version like "V5.7.3", got {value!r}')
    return value


def read_qa(t: Table | None, base_dir: Path) -> QaConfig:
    if t is None:
        return QaConfig()
    gap_s = t.number("snapshot_gap_s", 1.0, lo=0.1, hi=30, unit="s")
    policies: dict[str, FirmwarePolicy] = {}
    models = t.table("firmware", None)
    if models is not None:
        for model, value in models.items():
            if not isinstance(value, dict):
                raise models.error(model, 'must be a table, e.g. { min_firmware = "V5.7.3" }')
            m = models.sub(model, value)
            upgrade = m.text("upgrade", None)
            path = None
            if upgrade is not None:
                path = Path(os.path.expandvars(upgrade)).expanduser()
                path = path if path.is_absolute() else base_dir / path
                if not path.is_file():
                    raise m.error("upgrade", f"no such file: {path}")
            policies[model] = FirmwarePolicy(firmware_text(m, "min_firmware"), path)
            m.finish()
        models.finish()
    t.finish()
    return QaConfig(snapshot_gap_s=gap_s, firmware=policies)
