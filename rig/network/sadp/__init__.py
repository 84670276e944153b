"""SADP, Hikvision's UDP discovery: how rig finds a unit, tells it by MAC, and sees it go and
come back.

- `message`: the probe, the ProbeMatch parser, and the rules for its fields (MAC, serial);
- `client`: one UDP socket that probes and collects the answers;
- `poller`: a background thread that probes over and over and tracks who is present.

This package is the API: import from `rig.network.sadp`, not from its modules.
"""

from __future__ import annotations

from rig.network.sadp.client import SadpClient, SadpStats
from rig.network.sadp.message import (
    RECORDER_SUFFIX_MAX,
    SADP_MULTICAST,
    ForeignReply,
    SadpReply,
    build_probe,
    normalise_mac,
    parse_probe_match,
    serial_matches,
)
from rig.network.sadp.poller import EventKind, Prober, SadpEvent, SadpPoller

__all__ = [
    "RECORDER_SUFFIX_MAX",
    "SADP_MULTICAST",
    "EventKind",
    "ForeignReply",
    "Prober",
    "SadpClient",
    "SadpEvent",
    "SadpPoller",
    "SadpReply",
    "SadpStats",
    "build_probe",
    "normalise_mac",
    "parse_probe_match",
    "serial_matches",
]
