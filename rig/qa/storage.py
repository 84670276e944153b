"""The storage check, on models with a card slot: the card is there and says its capacity.

A camera lists its memory card as an `hdd` of `GET /ISAPI/ContentMgmt/Storage`; no card is
an empty `hddList`. A card the unit cannot use says so in its status (`unformatted`,
`error`); `ok` is what real answers show for a working one.
"""

from __future__ import annotations

from rig.network.isapi import StorageDevice
from rig.qa.measure import Check, at_least, equals

USABLE = "ok"


def check_storage(devices: list[StorageDevice]) -> Check:
    card = next((d for d in devices if (d.status or "").casefold() == USABLE), None)
    card = card or (devices[0] if devices else None)
    measurements = [at_least("cards_detected", len(devices), 1)]
    if card is not None:
        measurements += [
            equals("card_status", (card.status or "").casefold() or None, USABLE),
            at_least("card_capacity", card.capacity_mb, 1, unit="MB"),
        ]
    extra = {"cards": [d.__dict__ for d in devices]}
    return Check("storage", tuple(measurements), extra=extra)
