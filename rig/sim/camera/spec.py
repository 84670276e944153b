"""What one simulated camera is (`CameraSpec`), its firmware number, and the vendor's constants."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

LOOPBACK = "127.0.0.1"
OLD_FACTORY_PASSWORD = "12345"
ADMIN = "admin"
# First camera firmware with the activation step (no default password any more).
ACTIVATION_FIRMWARE = (5, 3)
# Hikvision cameras leave the factory with DHCP off (static 192.168.1.64).
FACTORY_DHCP = False
# Illustrative: the number a camera sends in SADP <DeviceType>; nothing should depend on it.
SADP_DEVICE_TYPE_IPC = "138153"

# What a unit without activation puts in SADP's <Activated>: nothing, or a permanent "true".
LegacyActivated = Literal["omit", "true"]

_FIRMWARE_RE = re.compile(r"V?(\d+)\.(\d+)(?:\.(\d+))?", re.IGNORECASE)
_MAC_RE = re.compile(r"^[0-9a-f]{2}(?:-[0-9a-f]{2}){5}$")


def firmware_version(firmware: str) -> tuple[int, int, int]:
    """(major, minor, patch) of a SoftwareVersion such as "V5.7.3build 230222"."""
    match = _FIRMWARE_RE.search(firmware)
    if match is None:
        raise ValueError(f"firmware {firmware!r} has no version number like V5.7.3")
    return int(match[1]), int(match[2]), int(match[3] or 0)


@dataclass
class CameraSpec:
    """What one simulated camera is and how it behaves. Durations are seconds."""

    mac: str  # lower case with dashes, as SADP shows it; colons are accepted and converted
    device_sn: str  # full DeviceSN: model + date + serial run together
    model: str
    firmware: str = "V5.7.3build 230222"  # < 5.3: no activation, unless has_activation says so
    boot_s: float = 3.0  # from power-up (or release, when held at power-up) until it answers
    reset_hold_s: float = 10.0  # continuous hold from power-up that makes the bootloader reset
    activated: bool = True  # initial state (ignored on a unit without activation)
    password: str = "Bench-Secret-1"  # initial admin password
    dead: bool = False  # never boots again once it has gone down (power loss or reboot)
    reboot_loop: bool = False  # after a power-up/reboot: up `up_s`, down `down_s`, forever
    up_s: float = 2.0
    down_s: float = 3.0
    ignores_power_cut: bool = False  # keeps running when the relay "cuts" (a failed relay)
    lock_after_failures: int = 7
    lock_s: float = 1800.0
    dhcp: bool = True  # initial network setting; a factory reset sets FACTORY_DHCP
    # When set, holding the pin this long while the camera runs also resets it (the
    # `running-hold` procedure). None: the pin is ignored while running; the vendor's hard
    # reset counts only a hold that starts at power-up.
    running_hold_s: float | None = None
    # Some devices spell the SADP tags Ipv4Address etc.; parsers must not care.
    sadp_ipv4_prefix: str = "IPv4"
    http_port: int = 0  # 0: ephemeral
    # Whether the unit has the activation step: it ships inactive (no password at all, logins
    # refused), reports <Activated> truthfully in SADP and answers /SDK/activateStatus. Without
    # it the factory state is admin/12345. None: from the firmware number, as on Hikvision
    # cameras (>= 5.3). Other product lines number differently and have activation on lower
    # numbers (an EZVIZ camera on V5.2.3, a DVR on V3.5.38, an intercom on V1.5.0).
    # Resolved to a bool when the spec is made.
    has_activation: bool | None = None
    # Only for a unit without activation: what SADP's <Activated> says. "omit": no such tag
    # (most cameras before 5.3). "true": always "true", also in factory state (some old units
    # do; it says nothing, and the factory login admin/12345 still works after a reset).
    sadp_legacy_activated: LegacyActivated = "omit"
    # What a bench QA pass finds (rig.sim.camera.qa): the picture ("ok", or the faults
    # "black", "blurred", "frozen"), the memory card's size in MB (None: no card), the
    # firmware an upgrade installs, how long the flash takes, and a flash that fails (the
    # unit reboots with its old firmware).
    picture: str = "ok"
    card_mb: int | None = 30436
    upgrade_to: str = "V5.7.18build 240826"
    upgrade_s: float = 1.0
    upgrade_fails: bool = False
    version: tuple[int, int, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.mac = self.mac.strip().lower().replace(":", "-")
        if not _MAC_RE.match(self.mac):
            raise ValueError(f"mac {self.mac!r} is not six hex pairs")
        self.version = firmware_version(self.firmware)
        if self.has_activation is None:
            self.has_activation = self.version >= ACTIVATION_FIRMWARE
        for name in ("boot_s", "reset_hold_s", "up_s", "down_s", "lock_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.picture not in ("ok", "black", "blurred", "frozen"):
            raise ValueError("picture must be ok, black, blurred or frozen")
        if self.lock_after_failures < 1:
            raise ValueError("lock_after_failures must be at least 1")
        if self.sadp_ipv4_prefix not in ("IPv4", "Ipv4"):
            raise ValueError("sadp_ipv4_prefix must be 'IPv4' or 'Ipv4'")
        if self.sadp_legacy_activated not in ("omit", "true"):
            raise ValueError("sadp_legacy_activated must be 'omit' or 'true'")
        if self.has_activation and self.sadp_legacy_activated != "omit":
            raise ValueError(
                "sadp_legacy_activated is for units without activation; "
                "a unit with activation reports Activated truthfully"
            )

    @classmethod
    def sample(cls, n: int = 1, **changes: Any) -> CameraSpec:
        """A plausible unit number `n` (distinct MAC and serial per n), fields overridable."""
        values: dict[str, Any] = {
            "mac": f"44-19-b6-00-{(n >> 8) & 0xFF:02x}-{n & 0xFF:02x}",
            "device_sn": f"DS-2CD2143G2-I20230815AAWRJ{12345000 + n:08d}",
            "model": "DS-2CD2143G2-I",
        }
        values.update(changes)
        return cls(**values)
