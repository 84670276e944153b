"""snmpsim variation module `pse`: a PoE port's admin flag (RFC 3621
pethPsePortAdminEnable) that tells the simulated PSE (rig.sim.snmp.SimPse) the moment a
manager sets it.

A switch's PoE controller acts on its admin flag at once. The simulated one used to learn of
a SET by reading the flags back every 20 ms, and with a switch of 16 bays that polling was
most of the agent's load: the rig's own requests queued behind it. With this module the
agent tells it: a record `<oid>|2:pse|1` answers like a writable integer (as snmpsim's
`writecache`), and each SET also sends `<oid> <value>` in one loopback datagram to the
`notify=127.0.0.1:<port>` of the module's options, before the agent answers the SET.

snmpsim loads this file with exec, not import: it gives `moduleContext` and calls `init`,
`variate` and `shutdown`. The directory holds nothing else (snmpsim loads every .py in it).
"""

from __future__ import annotations

import socket
from typing import Any

from pysnmp.smi import error

moduleContext: dict[str, Any]  # given by snmpsim's loader; one per alias of the module


def init(**context: Any) -> None:
    options = dict(
        item.split("=", 1) for item in (context.get("options") or "").split(",") if "=" in item
    )
    host, _, port = options.get("notify", "").rpartition(":")
    moduleContext["notify"] = (host, int(port)) if port else None
    moduleContext["socket"] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    moduleContext["values"] = {}


def variate(oid: Any, tag: str, value: Any, **context: Any) -> tuple[Any, str, Any]:
    if not context["nextFlag"] and not context["exactMatch"]:
        return context["origOid"], tag, context["errorStatus"]
    values: dict[str, int] = moduleContext["values"]
    key = str(oid)
    if context["setFlag"]:
        try:
            new = int(context["origValue"])
        except (TypeError, ValueError):  # not a number: wrongType, as a real agent says
            index = max(0, context["varsTotal"] - context["varsRemaining"] - 1)
            raise error.WrongTypeError(name=oid, idx=index) from None
        values[key] = new
        if moduleContext["notify"] is not None:
            moduleContext["socket"].sendto(f"{key} {new}".encode(), moduleContext["notify"])
    return oid, tag, values.get(key, int(value))


def shutdown(**context: Any) -> None:
    moduleContext["socket"].close()
