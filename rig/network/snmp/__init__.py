"""SNMP for bays on a managed PoE switch: a synchronous client over pysnmp 7 (client), PoE
port control by POWER-ETHERNET-MIB and the vendor registry (poe), and the forwarding table
that says which unit is on which port (fdb)."""

from rig.network.snmp.client import Credentials, NoSuchObject, SnmpClient, SnmpError, SnmpTimeout
from rig.network.snmp.fdb import ForwardingTable, read_forwarding_table
from rig.network.snmp.poe import VENDORS, PoeControl, PortState, poe_for

__all__ = [
    "VENDORS",
    "Credentials",
    "ForwardingTable",
    "NoSuchObject",
    "PoeControl",
    "PortState",
    "SnmpClient",
    "SnmpError",
    "SnmpTimeout",
    "poe_for",
    "read_forwarding_table",
]
