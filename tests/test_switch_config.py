"""Switch bays: the config (`[switches.NAME]`, `power = { switch, port }`), secrets kept out
of every message, the forwarding table read from the real walks, the vendor registry, and
SNMPv3 against a real agent."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from pathlib import Path

import pytest
from pysnmp.proto import rfc1902

from rig.config import parse_config
from rig.errors import ConfigError
from rig.hardware.backends import describe
from rig.hardware.switch import SwitchPool, SwitchPort
from rig.network.snmp import Credentials, SnmpClient, SnmpError
from rig.network.snmp.fdb import (
    BASE_PORT_IFINDEX,
    FDB_PORT,
    Q_FDB_PORT,
    Q_FDB_STATUS,
    Get,
    Walk,
    read_entries,
    read_forwarding_table,
)
from rig.network.snmp.poe import StandardPoe, poe_for
from rig.sim.snmp import TPLINK_WALK, AgentClient, SnmpAgent, switch_snmprec
from tests.test_real_samples import CISCO, TPLINK, read_snmprec, sample

SWITCH = '[switches.sw1]\nhost = "10.0.0.2:1161"\n'
BAY = '[[bays]]\nname = "{name}"\npresser = {{ gpio = {gpio} }}\n'


def bay(name: str, power: str, gpio: int = 27) -> str:
    return BAY.format(name=name, gpio=gpio) + f"power = {power}\n"


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as exc:
        parse_config(text)
    return str(exc.value)


# -- config ---------------------------------------------------------------------------------------


def test_a_switch_bay_and_its_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIG_SW1_COMMUNITY", "s3cret-c0mmunity")
    text = (
        SWITCH
        + 'community_env = "RIG_SW1_COMMUNITY"\ngroup = 2\n'
        + bay("A", '{ switch = "sw1", port = 5 }')
        + bay("B", '{ switch = "sw1", port = 5, group = 1 }', gpio=23)
    )
    config = parse_config(text)
    sw1 = config.switches["sw1"]
    assert (sw1.host, sw1.port, sw1.credentials.community, sw1.group, sw1.vendor) == (
        "10.0.0.2",
        1161,
        "s3cret-c0mmunity",
        2,
        "standard",
    )
    assert "s3cret" not in repr(sw1) and "s3cret" not in repr(config)
    a, b = config.bays
    assert a.power == SwitchPort("sw1", 5, group=2)  # the switch's group
    assert describe(a.power) == "sw1 port 2/5" and describe(b.power) == "sw1 port 5"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (SWITCH, "rig.toml: switches.sw1.community: is needed (or community_env, or a v3 user)"),
        (
            SWITCH + 'community_env = "RIG_NOT_SET"\n',
            "rig.toml: switches.sw1.community_env: the environment variable RIG_NOT_SET is not set",
        ),
        (
            SWITCH + 'community = "x"\ncommunity_env = "RIG_X"\n',
            "rig.toml: switches.sw1.community_env: give community or community_env, not both",
        ),
        (
            '[switches.sw1]\nhost = "10.0.0.2:99999"\ncommunity = "x"\n',
            'rig.toml: switches.sw1.host: must be "host" or "host:port", got \'10.0.0.2:99999\'',
        ),
        (
            SWITCH + 'user = "rig"\npriv_key = "k3y-k3y-k3y"\n',
            "rig.toml: switches.sw1.priv_key: needs an auth_key too",
        ),
        (SWITCH + 'community = "x"\nvendor = "cisco"\n', "rig.toml: switches.sw1.vendor: must be"),
        (SWITCH + 'community = "x"\ncomunity = "y"\n', "rig.toml: switches.sw1.comunity: unknown"),
        (
            SWITCH + 'community = "x"\n' + bay("A", '{ switch = "sw9", port = 5 }'),
            "rig.toml: bays[0].power.switch: no [switches.sw9] (switches: sw1)",
        ),
        (
            SWITCH + 'community = "x"\n' + bay("A", '{ switch = "sw1", port = 0 }'),
            "rig.toml: bays[0].power.port: must be",
        ),
        (
            SWITCH
            + 'community = "x"\n'
            + bay("A", '{ switch = "sw1", port = 5 }')
            + bay("B", '{ switch = "sw1", port = 5 }', gpio=23),
            "rig.toml: bays[1].power: already used by bay A power",
        ),
    ],
)
def test_switch_config_errors_are_one_line_naming_the_key(text: str, message: str) -> None:
    error = error_of(text if "[[bays]]" in text else text + bay("A", '"manual"'))
    assert error.startswith(message), error
    assert "\n" not in error


def test_a_secret_of_the_wrong_type_is_not_shown() -> None:
    error = error_of(SWITCH + "community = 12345678\n" + bay("A", '"manual"'))
    assert error == "rig.toml: switches.sw1.community: must be a non-empty string"


def test_credentials_and_clients_show_no_secret() -> None:
    v3 = Credentials(user="rig", auth_key="auth-s3cret", priv_key="priv-s3cret")
    assert v3.describe() == "v3 user 'rig' (authPriv)"
    client = SnmpClient("sw1", "127.0.0.1", 9, credentials=v3)
    try:
        assert "s3cret" not in repr(v3) + repr(client)
    finally:
        client.close()
    assert "s3cret" not in repr(Credentials(community="c-s3cret"))


def test_tplink_vendor_refuses_in_one_line_before_sending_anything() -> None:
    client = SnmpClient("sw1", "127.0.0.1", 9, credentials=Credentials(community="x"))
    try:
        with pytest.raises(SnmpError) as exc:
            poe_for("tplink", client)
    finally:
        client.close()
    assert str(exc.value).startswith("switch sw1: vendor 'tplink': TP-Link switches carry no")
    assert isinstance(poe_for("standard", client), StandardPoe)


# -- the forwarding table of the real walks --------------------------------------------------------


def walk_of(rows: dict[tuple[int, ...], tuple[str, object]]) -> Walk:
    """A walk over a real recording, as an agent would answer it (ordered, under the prefix)."""

    def walk(prefix: tuple[int, ...]) -> list[tuple[tuple[int, ...], object]]:
        found = [(oid, value) for oid, (_, value) in rows.items() if oid[: len(prefix)] == prefix]
        return sorted(found)

    return walk


def test_the_tplink_walk_maps_fdb_ports_to_its_front_panel_ports() -> None:
    table = read_forwarding_table(walk_of(read_snmprec(sample(TPLINK))))
    assert table.source == "Q-BRIDGE-MIB"
    assert table.unmapped == {}  # FDB ports 1..18 found through dot1dStpPort
    port5 = table.port(1, 5)
    assert port5 is not None
    assert (port5.name, port5.if_index, port5.member) == ("gigabitEthernet 1/0/5", 49157, 1)
    assert table.macs_on(1, 5) == ["24-32-ae-a3-5f-0f"]  # the camera "ac31: Kam (p5)"
    assert table.macs_on(1, 11) == ["24-32-ae-77-43-cd"]  # "ac31: DVR (p11)"
    assert len(table.macs_on(1, 18)) > 20  # the trunk: every MAC behind the uplink
    assert table.port(1, 19) is None and table.port(2, 5) is None
    assert all(i.name.startswith("gigabitEthernet") for i in table.interfaces.values())


def test_without_q_bridge_the_bridge_mib_table_is_read() -> None:
    rows = read_snmprec(sample(TPLINK))
    bridge: dict[tuple[int, ...], tuple[str, object]] = {}
    for oid, row in rows.items():
        if oid[: len(Q_FDB_PORT)] == Q_FDB_PORT:
            bridge[(*FDB_PORT, *oid[-6:])] = row  # the same MAC on the same port, no VLAN
        else:
            bridge[oid] = row
    table = read_forwarding_table(walk_of(bridge))
    assert table.source == "BRIDGE-MIB"
    assert table.macs_on(1, 5) == ["24-32-ae-a3-5f-0f"]


def get_of(rows: dict[tuple[int, ...], tuple[str, object]], asked: list[int]) -> Get:
    """A GET over a real recording: None (noSuchInstance) for what it lacks."""

    def get(oids: Sequence[tuple[int, ...]]) -> dict[tuple[int, ...], object]:
        asked.append(len(oids))
        return {oid: rows[oid][1] if oid in rows else None for oid in oids}

    return get


def test_a_scanned_units_entry_is_one_get_on_the_vlans_its_port_learned_on() -> None:
    rows = read_snmprec(sample(TPLINK))
    full = read_forwarding_table(walk_of(rows))
    port5, trunk = full.port(1, 5), full.port(1, 18)
    assert port5 is not None and port5.vlans == {31}  # the camera's VLAN
    assert trunk is not None and trunk.vlans == {1, 2, 31, 98, 100, 255}
    assert full.port_map is not None
    camera, stranger = "24-32-ae-a3-5f-0f", "c0-56-e3-99-99-99"
    asked: list[int] = []
    wanted = {camera: port5.vlans, stranger: port5.vlans}
    table = read_entries(get_of(rows, asked), wanted, full.source, full.port_map)
    assert asked == [4]  # one GET: each MAC's port and status on VLAN 31
    assert table.macs_on(1, 5) == [camera]
    assert sum(len(i.macs) for i in table.interfaces.values()) == 1  # the stranger: nowhere
    elsewhere = read_entries(get_of(rows, asked), {camera: {100}}, full.source, full.port_map)
    assert elsewhere.macs_on(1, 5) == []  # not learned on that VLAN: not found (a walk then)
    # The switch's own MAC or a static entry is no unit behind the port.
    mac_index = tuple(int(b, 16) for b in camera.split("-"))
    own = {**rows, (*Q_FDB_STATUS, 31, *mac_index): ("2", 4)}  # self(4)
    mine = read_entries(get_of(own, asked), {camera: {31}}, full.source, full.port_map)
    assert mine.macs_on(1, 5) == []
    bridge = {(*FDB_PORT, *mac_index): ("2", 5)}  # BRIDGE-MIB: indexed by the MAC alone
    by_bridge = read_entries(get_of(bridge, asked), {camera: set()}, "BRIDGE-MIB", full.port_map)
    assert by_bridge.macs_on(1, 5) == [camera]


def test_a_walk_without_bridge_rows_knows_no_mac() -> None:
    rows = read_snmprec(sample(CISCO))  # trimmed to its PoE rows and ifDescr
    assert not any(oid[: len(BASE_PORT_IFINDEX)] == BASE_PORT_IFINDEX for oid in rows)
    table = read_forwarding_table(walk_of(rows))
    assert table.source == "none"
    # ifDescr stands in for ifName; a stack member's port is told by its unit number.
    port = table.port(2, 5)
    assert port is not None and port.name == "GigabitEthernet2/0/5"
    assert table.macs_on(2, 5) == []


def test_the_simulated_switch_is_the_real_walk_plus_rfc_3621_rows() -> None:
    text = switch_snmprec({5: ["c0-56-e3-00-00-01"]})
    real = [line for line in TPLINK_WALK.read_text().splitlines() if line]
    lines = text.splitlines()
    kept = [line for line in real if line in lines]
    dropped = [line for line in real if line not in lines]
    assert dropped == ["1.3.6.1.2.1.17.7.1.2.2.1.2.31.36.50.174.163.95.15|2|5"]  # port 5's unit
    assert len(kept) == len(real) - 1
    assert "1.3.6.1.2.1.17.7.1.2.2.1.2.31.192.86.227.0.0.1|2|5" in lines
    assert "1.3.6.1.2.1.105.1.1.1.3.1.5|2:pse|1" in lines  # writable, told to the PSE
    assert "1.3.6.1.2.1.105.1.3.1.1.2.1|66|190" in lines  # the Netgear's real budget


def test_the_agent_tells_the_pse_of_each_admin_set_and_keeps_the_value(tmp_path: Path) -> None:
    data = {"sw1": switch_snmprec({5: ["c0-56-e3-00-00-01"]}, read_only=[6])}
    admin = "1.3.6.1.2.1.105.1.1.1.3.1.{}"
    with (
        SnmpAgent(tmp_path, data) as agent,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as events,
    ):
        events.bind(agent.admin_events)
        events.settimeout(5)
        client = AgentClient(agent.host, agent.port, "sw1")
        try:
            client.set_many([(admin.format(5), rfc1902.Integer32(2))])
            # Sent before the agent answered the SET: there already.
            assert events.recv(512) == f"{admin.format(5)} 2".encode()
            assert client.get([admin.format(5)]) == {admin.format(5): 2}
            with pytest.raises(OSError, match="SET failed"):  # not a number: refused
                client.set_many([(admin.format(5), rfc1902.OctetString(b"off"))])
            client.set_many([(admin.format(6), rfc1902.Integer32(2))])  # read-only: taken, no word
            assert client.get([admin.format(5), admin.format(6)]) == {
                admin.format(5): 2,
                admin.format(6): 1,
            }
            events.settimeout(0.2)
            with pytest.raises(TimeoutError):
                events.recv(512)
        finally:
            client.close()


# -- SNMPv3 against the agent --------------------------------------------------------------------


def test_snmpv3_auth_priv_against_the_agent(tmp_path: Path) -> None:
    user = ("rigv3", "auth-k3y-123", "priv-k3y-456")
    data = {"sw1ctx": switch_snmprec({5: ["c0-56-e3-00-00-01"]})}
    with SnmpAgent(tmp_path, data, v3_user=user) as agent:
        text = (
            f'[switches.sw1]\nhost = "{agent.target}"\nuser = "rigv3"\nauth_key = "{user[1]}"\n'
            f'priv_key = "{user[2]}"\ncontext = "sw1ctx"\ntimeout_s = 0.5\nretries = 0\n'
        )
        config = parse_config(text, need_bays=False)
        with SwitchPool(config.switches) as pool:
            poe = pool.poe("sw1")
            assert poe.state(1, 5).admin_on
            poe.set_admin(1, 5, False)
            assert not poe.state(1, 5).admin_on
            poe.set_admin(1, 5, True)
        wrong = parse_config(text.replace(user[1], "not-the-key"), need_bays=False)
        with SwitchPool(wrong.switches) as pool, pytest.raises(SnmpError) as exc:
            pool.poe("sw1").state(1, 5)
    assert "refused the v3 user 'rigv3' (authPriv)" in str(exc.value)
    assert "k3y" not in str(exc.value)


def test_the_benchmarks_switch_row_measures_cuts_and_power_ons() -> None:
    from rig.benchmark import switch_port_times

    cuts, ons = switch_port_times(2, detect_s=0.05)
    assert len(cuts) == len(ons) == 2
    # A power-on includes the PSE's detection time; nothing can be faster than that.
    assert all(on >= 0.05 for on in ons) and all(cut > 0 for cut in cuts)
