"""The simulated camera's SADP answer (a ProbeMatch), in the field order of the DVR capture.

Only the answer is built here; `rig.sim.network.SimNetwork` receives the probes, sends the
answers and documents the datagrams.

A unit with activation sends Encrypt, Salt, and after OEMInfo its true Activated followed by
the password-reset and lock fields. A unit without activation omits all of that, except that
`CameraSpec.sadp_legacy_activated == "true"` makes it send a permanent `<Activated>true`.
"""

from __future__ import annotations

import hashlib
from xml.sax.saxutils import escape

from .bodies import xml_bool
from .spec import LOOPBACK, SADP_DEVICE_TYPE_IPC, CameraSpec


def ipv6_link_local(mac: str) -> str:
    """The fe80:: address a unit derives from its MAC (EUI-64)."""
    raw = bytearray(bytes.fromhex(mac.replace("-", "")))
    raw[0] ^= 0x02  # EUI-64: flip the universal/local bit, put ff:fe in the middle
    eui = bytes(raw[:3]) + b"\xff\xfe" + bytes(raw[3:])
    groups = (int.from_bytes(eui[i : i + 2], "big") for i in range(0, 8, 2))
    return "fe80::" + ":".join(f"{g:x}" for g in groups)


def probe_match(
    spec: CameraSpec,
    probe_uuid: str,
    *,
    http_port: int,
    dhcp: bool,
    boot_time: str,
    activated: bool,
    firmware: str | None = None,
) -> bytes:
    """The ProbeMatch a camera in this state sends in answer to an inquiry probe."""
    ip = spec.sadp_ipv4_prefix
    fields: list[tuple[str, str]] = [("Uuid", probe_uuid[:64]), ("Types", "inquiry")]
    if spec.has_activation:
        fields += [
            ("Encrypt", "true"),
            ("Salt", hashlib.sha256(spec.device_sn.encode()).hexdigest()),
        ]
    fields += [
        ("DeviceType", SADP_DEVICE_TYPE_IPC),
        ("DeviceDescription", spec.model),
        ("DeviceSN", spec.device_sn),
        ("CommandPort", "8000"),
        ("HttpPort", str(http_port)),
        ("MAC", spec.mac),
        (f"{ip}Address", LOOPBACK),
        (f"{ip}SubnetMask", "255.0.0.0"),
        (f"{ip}Gateway", LOOPBACK),
        ("IPv6Address", ipv6_link_local(spec.mac)),
        ("IPv6Gateway", "::"),
        ("IPv6MaskLen", "64"),
        ("DHCP", xml_bool(dhcp)),
        ("AnalogChannelNum", "0"),
        ("DigitalChannelNum", "1"),
        ("SoftwareVersion", firmware or spec.firmware),
        ("DSPVersion", "V7.3, build 230101"),
        ("BootTime", boot_time),
        ("OEMInfo", "N/A"),
    ]
    if spec.has_activation:
        fields += [
            ("Activated", xml_bool(activated)),
            ("PasswordResetAbility", "true"),
            ("PasswordResetModeSecond", "true"),
            ("DeviceLock", "true"),
            ("SupportGUID", "true"),
            ("SupportSecurityQuestion", "true"),
            ("SupportHCPlatform", "true"),
        ]
    elif spec.sadp_legacy_activated == "true":
        fields.append(("Activated", "true"))
    body = "".join(f"    <{tag}>{escape(value)}</{tag}>\n" for tag, value in fields)
    return f'<?xml version="1.0" encoding="UTF-8" ?>\n<ProbeMatch>\n{body}</ProbeMatch>\n'.encode()
