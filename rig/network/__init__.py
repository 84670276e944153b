"""The network side of the proof (DESIGN §4): SADP discovery and the ISAPI calls.

Parsers take bytes and return typed results or raise `rig.errors.ParseError`; clients turn
transport trouble into evidence (`Exchange.error`) or `rig.errors.NetworkError`.
"""

from __future__ import annotations

from rig.network.isapi import (
    DeviceInfo,
    Exchange,
    IsapiClient,
    LockInfo,
    ResponseStatus,
    parse_activate_status,
    parse_device_info,
    parse_response_status,
    parse_user_check,
)
from rig.network.sadp import (
    ForeignReply,
    SadpClient,
    SadpEvent,
    SadpPoller,
    SadpReply,
    SadpStats,
    build_probe,
    normalise_mac,
    parse_probe_match,
)
from rig.network.version import is_activation_firmware, parse_firmware

__all__ = [
    "DeviceInfo",
    "Exchange",
    "ForeignReply",
    "IsapiClient",
    "LockInfo",
    "ResponseStatus",
    "SadpClient",
    "SadpEvent",
    "SadpPoller",
    "SadpReply",
    "SadpStats",
    "build_probe",
    "is_activation_firmware",
    "normalise_mac",
    "parse_activate_status",
    "parse_device_info",
    "parse_firmware",
    "parse_probe_match",
    "parse_response_status",
    "parse_user_check",
]
