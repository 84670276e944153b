"""Home Assistant MQTT discovery: each bay's stage, unit, last outcome and countdown as
sensors of one device per station, available while the station's status is `online`.

Discovery topics are `homeassistant/<component>/<node_id>/<object_id>/config`, retained; Home
Assistant's birth message (`online` on `homeassistant/status`) is when to send them again.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rig import __version__
from rig.fleet import topics

PREFIX = "homeassistant"
BIRTH_TOPIC = f"{PREFIX}/status"

# (object, name, value template, extra keys of the sensor)
_SENSORS: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    ("stage", "stage", "{{ value_json.stage }}", {"icon": "mdi:camera-retake"}),
    ("unit", "unit", "{{ value_json.unit or '' }}", {"icon": "mdi:barcode"}),
    ("outcome", "last outcome", "{{ value_json.outcome or '' }}", {"icon": "mdi:check-decagram"}),
    (
        "deadline",
        "stage ends",
        "{{ value_json.deadline or None }}",
        {"device_class": "timestamp"},
    ),
)


def _id(text: str) -> str:
    """Node and object ids may hold [a-zA-Z0-9_-] only."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)


def discovery_messages(station: str, bays: list[str]) -> list[tuple[str, str]]:
    """(topic, retained payload) of every sensor of the station's bays."""
    node = _id(f"rig_{station}")
    device = {
        "identifiers": [node],
        "name": f"reset rig {station}",
        "manufacturer": "reset-rig",
        "model": "camera factory-reset station",
        "sw_version": __version__,
    }
    messages = []
    for bay in bays:
        for what, name, template, extra in _SENSORS:
            object_id = _id(f"bay_{bay}_{what}")
            config = {
                "name": f"bay {bay} {name}",
                "unique_id": f"{node}_{object_id}",
                "object_id": f"{node}_{object_id}",
                "state_topic": topics.bay_state(station, bay),
                "value_template": template,
                "availability_topic": topics.status(station),
                "payload_available": topics.ONLINE,
                "payload_not_available": topics.OFFLINE,
                "device": device,
                **extra,
            }
            if what == "stage":
                config["json_attributes_topic"] = topics.bay_state(station, bay)
            messages.append(
                (f"{PREFIX}/sensor/{node}/{object_id}/config", json.dumps(config, sort_keys=True))
            )
    return messages
