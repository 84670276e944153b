"""The network side of the proof: SADP discovery (`rig.network.sadp`) and the ISAPI calls
(`rig.network.isapi`), with the safe XML reader and firmware versions they share.

Parsers take bytes and return typed results or raise `rig.errors.ParseError`; clients turn
transport trouble into evidence (`Exchange.error`) or `rig.errors.NetworkError`. Import names
from those modules: this package itself exports nothing.
"""
