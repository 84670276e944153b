"""The MQTT topics of a fleet (README "Many rigs"): one place, for the publisher and readers.

rig/<station>/status                 "online" | "offline", retained; also the last will
rig/<station>/bay/<bay>/state        the bay now (JSON), retained
rig/<station>/bay/<bay>/job          one event per finished job (JSON), QoS 1, not retained
"""

from __future__ import annotations

ROOT = "rig"
ONLINE, OFFLINE = "online", "offline"


def status(station: str) -> str:
    return f"{ROOT}/{station}/status"


def bay_state(station: str, bay: str) -> str:
    return f"{ROOT}/{station}/bay/{bay}/state"


def bay_job(station: str, bay: str) -> str:
    return f"{ROOT}/{station}/bay/{bay}/job"


#: What a fleet view subscribes to: every station's status and bays.
ALL_STATUS = f"{ROOT}/+/status"
ALL_STATES = f"{ROOT}/+/bay/+/state"
ALL_JOBS = f"{ROOT}/+/bay/+/job"


def parse(topic: str) -> tuple[str, str | None, str]:
    """(station, bay or None, what): what is "status", "state" or "job"."""
    parts = topic.split("/")
    if len(parts) == 3 and parts[0] == ROOT and parts[2] == "status":
        return parts[1], None, "status"
    if len(parts) == 5 and parts[0] == ROOT and parts[2] == "bay" and parts[4] in ("state", "job"):
        return parts[1], parts[3], parts[4]
    raise ValueError(f"not a rig topic: {topic!r}")
