"""The station's config, `rig.toml`: read, checked, and turned into typed settings.

Its keys are a contract (the firmware, the wiring drawings and outside tools rely on them;
`rig init` writes them all, below): a key may be added, never renamed. Every mistake is one
line naming the file and the key.

A bay's `power` and `presser` are read by the backend they name (rig.hardware.backends); this
module knows none of them, only the named tables they may refer to (`[boards.NAME]`).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs

from rig.errors import ConfigError
from rig.fleet.settings import FleetConfig, read_fleet
from rig.hardware.backends import read_power, read_presser
from rig.hardware.settings import PowerSettings, PresserSettings, Resources, Role
from rig.labels.names import DEFAULT_MODEL, DEFAULT_SIZE, SIZE_NAMES
from rig.profiles import GENERIC, PROCEDURES, Profile, get_profile
from rig.qa.settings import QaConfig, read_qa
from rig.tomlcheck import Table, load_toml, parse_toml

if TYPE_CHECKING:
    # Only read when a config has [switches]: pysnmp is not loaded for any other.
    from rig.network.snmp.client import Credentials

DEFAULT_CONFIG = Path("rig.toml")
VERIFIERS = ("network", "manual")


@dataclass(frozen=True)
class BayConfig:
    name: str
    power: PowerSettings
    presser: PresserSettings
    profile: Profile
    procedure: str
    off_s: float
    hold_s: float
    boot_timeout_s: float
    escalation_holds_s: tuple[float, ...]
    verify: str
    # The bay's config sets hold_s itself (not the profile's): a hold below the vendor's window
    # chosen on purpose (a benchmark, a lab) is also the floor of a learned hold (rig.holds).
    hold_s_set: bool = False


@dataclass(frozen=True)
class BoardConfig:
    name: str
    port: str


@dataclass(frozen=True)
class SwitchConfig:
    """`[switches.NAME]`: a managed PoE switch whose ports power bays (rig.hardware.switch).
    SNMP v2c (`community`) or v3 (`user`, `auth_key`, `priv_key`, `context`); each secret may
    come from the environment instead (`community_env = "RIG_SW1_COMMUNITY"`). The
    credentials keep their secrets out of `repr`, and so out of every log line, record and
    export."""

    name: str
    host: str
    credentials: Credentials
    port: int = 161
    group: int = 1  # the PoE group of a bay that names none (a stack numbers one per member)
    vendor: str = "standard"  # which MIB controls PoE (rig.network.snmp.poe.VENDORS)
    timeout_s: float = 1.0  # per SNMP request, then `retries` more
    retries: int = 1
    cut_timeout_s: float = 5.0  # a disabled port must stop delivering power within this
    on_timeout_s: float = 5.0  # an enabled port must deliver power again within this


@dataclass(frozen=True)
class NetworkConfig:
    sadp_target: tuple[str, int] = ("239.255.255.250", 37020)
    sadp_source: str | None = None  # local address to send from (picks the NIC)
    sadp_interface: str | None = None  # NIC name, e.g. "eth0" (SO_BINDTODEVICE)
    sadp_poll_s: float = 0.5
    # The poll period while a unit is expected to go or come back (a cut, a boot): how close
    # to the wire detection is. Idle, the rig polls at sadp_poll_s.
    sadp_fast_poll_s: float = 0.1
    http_timeout_s: float = 5.0
    # A unit back on SADP must keep answering this long to count as booted; one that drops
    # out within it is looping. Each second here is a second added to every unit.
    settle_s: float = 0.5


@dataclass(frozen=True)
class StationConfig:
    name: str = field(default_factory=socket.gethostname)
    data_dir: Path | None = None
    # The barcode scanner's input device (a path under /dev/input/by-id/), read by rig.scanner.
    # Not checked here: a scanner unplugged at start is waited for (`rig doctor` checks it).
    scanner: str | None = None
    qa: bool = False  # the QA pass for every unit after its proven reset (rig.procedures.qa)
    # Switch bays start their unit themselves when its port starts delivering power and the
    # unit answers SADP (rig.autostart); a scan still works.
    autostart: bool = False
    # Each unit starts at the hold its model's recent units proved (rig.holds), else at its
    # bay's hold_s; a hold is sure once `learn_min_units` units verified at it.
    learn_holds: bool = True
    learn_min_units: int = 5


@dataclass(frozen=True)
class LabelsConfig:
    """`[labels]`: at `rig run`, each verified unit's label is printed (rig.labels)."""

    brother: str | None = None  # a Brother QL on the network: HOST[:PORT] (port 9100)
    cups: str | None = None  # or a CUPS printer's queue name
    model: str = DEFAULT_MODEL  # the Brother QL's model (its raster differs per model)
    size: str = DEFAULT_SIZE  # the media loaded: "62x29" die-cut or "62" continuous
    url: str | None = None  # the station page's address: the QR code links the certificate

    @property
    def prints(self) -> bool:
        return self.brother is not None or self.cups is not None


@dataclass(frozen=True)
class RigConfig:
    station: StationConfig
    network: NetworkConfig
    boards: dict[str, BoardConfig]
    bays: list[BayConfig]
    source: str = "rig.toml"
    labels: LabelsConfig = field(default_factory=LabelsConfig)
    qa: QaConfig = field(default_factory=QaConfig)  # [qa]: the QA pass's firmware policy
    switches: dict[str, SwitchConfig] = field(default_factory=dict)
    fleet: FleetConfig = field(default_factory=FleetConfig)  # [fleet]: rig.fleet.settings

    def bay(self, name: str) -> BayConfig:
        for bay in self.bays:
            if bay.name == name:
                return bay
        known = ", ".join(b.name for b in self.bays) or "none"
        raise ConfigError(f"{self.source}: no bay named {name!r} (bays: {known})")


def default_data_dir() -> Path:
    """The user data directory (`~/.local/share/rig`, honouring XDG_DATA_HOME)."""
    return Path(platformdirs.user_data_dir("rig", appauthor=False))


def resolve_data_dir(cli_value: str | None, config: RigConfig | None) -> Path:
    if cli_value:
        return Path(cli_value).expanduser()
    if config is not None and config.station.data_dir is not None:
        return config.station.data_dir
    return default_data_dir()


# -- reading ------------------------------------------------------------------------------


def load_config(path: Path = DEFAULT_CONFIG, *, need_bays: bool = True) -> RigConfig:
    """Read `path`. `need_bays=False` accepts a config without `[[bays]]` (for the commands a
    technician runs before any bay is set up: `rig discover`, `rig board check`)."""
    table = load_toml(path, str(path))
    return _read(table, str(path), base_dir=path.resolve().parent, need_bays=need_bays)


def parse_config(
    text: str, label: str = "rig.toml", base_dir: Path | None = None, *, need_bays: bool = True
) -> RigConfig:
    table = parse_toml(text, label)
    return _read(table, label, base_dir=base_dir or Path.cwd(), need_bays=need_bays)


def _read(root: Table, label: str, base_dir: Path, *, need_bays: bool) -> RigConfig:
    station = _station(root.table("station", None), base_dir)
    network = _network(root.table("network", None))
    boards = _boards(root.table("boards", None))
    switches = _switches(root.table("switches", None))
    resources = Resources(
        {"boards": tuple(boards), "switches": tuple(switches)}, tables={"switches": switches}
    )
    bays = [_bay(t, resources) for t in root.tables("bays")]
    labels = _labels(root.table("labels", None))
    qa = read_qa(root.table("qa", None), base_dir)
    fleet = read_fleet(root.table("fleet", None), base_dir)
    root.finish()
    if not bays and need_bays:
        raise root.error("bays", "no [[bays]] defined (run `rig init` for an example)")
    _check_bays(root, bays)
    return RigConfig(
        station,
        network,
        boards,
        bays,
        source=label,
        labels=labels,
        qa=qa,
        switches=switches,
        fleet=fleet,
    )


def _station(t: Table | None, base_dir: Path) -> StationConfig:
    if t is None:
        return StationConfig()
    name = t.text("name", None) or socket.gethostname()
    data_dir = t.text("data_dir", None)
    scanner = t.text("scanner", None)
    qa = t.flag("qa", False)
    autostart = t.flag("autostart", False)
    learn_holds = t.flag("learn_holds", True)
    learn_min_units = t.integer("learn_min_units", 5, lo=2, hi=1000)
    t.finish()
    path = None
    if data_dir is not None:
        path = Path(os.path.expandvars(data_dir)).expanduser()
        path = path if path.is_absolute() else base_dir / path
    return StationConfig(
        name=name,
        data_dir=path,
        scanner=scanner,
        qa=qa,
        autostart=autostart,
        learn_holds=learn_holds,
        learn_min_units=learn_min_units,
    )


def _labels(t: Table | None) -> LabelsConfig:
    if t is None:
        return LabelsConfig()
    config = LabelsConfig(
        brother=t.text("brother", None),
        cups=t.text("cups", None),
        model=t.text("model", DEFAULT_MODEL),
        size=t.text("size", DEFAULT_SIZE, choices=SIZE_NAMES),
        url=t.text("url", None),
    )
    if config.brother is not None and config.cups is not None:
        raise t.error("cups", "one printer: brother or cups, not both")
    if config.url is not None and not config.url.startswith(("http://", "https://")):
        raise t.error(
            "url", f"must be the station page's address (http://HOST:PORT), got {config.url!r}"
        )
    t.finish()
    return config


def _network(t: Table | None) -> NetworkConfig:
    if t is None:
        return NetworkConfig()
    target = t.text("sadp_target", None)
    config = NetworkConfig(
        sadp_target=_host_port(t, target) if target else NetworkConfig.sadp_target,
        sadp_source=t.text("sadp_source", None),
        sadp_interface=t.text("sadp_interface", None),
        sadp_poll_s=t.number("sadp_poll_s", 0.5, lo=0.1, hi=10, unit="s"),
        sadp_fast_poll_s=t.number("sadp_fast_poll_s", 0.1, lo=0.02, hi=10, unit="s"),
        http_timeout_s=t.number("http_timeout_s", 5.0, lo=0.5, hi=60, unit="s"),
        settle_s=t.number("settle_s", 0.5, lo=0, hi=120, unit="s"),
    )
    if config.sadp_fast_poll_s > config.sadp_poll_s:
        raise t.error(
            "sadp_fast_poll_s",
            f"must not be over sadp_poll_s ({config.sadp_poll_s:g} s), "
            f"got {config.sadp_fast_poll_s:g}",
        )
    t.finish()
    return config


def _host_port(t: Table, value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    # ASCII digits only: str.isdigit() also takes "²" (which int() refuses) and "٣" (which it
    # reads as 3).
    digits = port.isascii() and port.isdigit()
    if not sep or not host or not digits or not 0 < int(port) < 65536:
        raise t.error("sadp_target", f'must be "host:port", got {value!r}')
    return host, int(port)


def _boards(t: Table | None) -> dict[str, BoardConfig]:
    boards: dict[str, BoardConfig] = {}
    if t is None:
        return boards
    for name, value in t.items():
        if not isinstance(value, dict):
            raise t.error(name, "must be a table with a port, e.g. [boards.b1] port = ...")
        b = t.sub(name, value)
        boards[name] = BoardConfig(name=name, port=b.text("port"))
        b.finish()
    return boards


def _switches(t: Table | None) -> dict[str, SwitchConfig]:
    switches: dict[str, SwitchConfig] = {}
    if t is None:
        return switches
    from rig.network.snmp.client import AUTH_PROTOCOLS, PRIV_PROTOCOLS, Credentials
    from rig.network.snmp.poe import VENDORS

    for name, value in t.items():
        if not isinstance(value, dict):
            raise t.error(name, "must be a table with a host, e.g. [switches.sw1] host = ...")
        s = t.sub(name, value)
        host = s.text("host")
        address, sep, port_text = host.rpartition(":")
        port = 161
        if sep and "]" not in port_text:  # "host:port" (an IPv6 literal would be "[::1]")
            if not (port_text.isascii() and port_text.isdigit() and 0 < int(port_text) < 65536):
                raise s.error("host", f'must be "host" or "host:port", got {host!r}')
            host, port = address, int(port_text)
        community = _secret(s, "community")
        user = s.text("user", None)
        auth_key, priv_key = _secret(s, "auth_key"), _secret(s, "priv_key")
        if community is None and user is None:
            raise s.error("community", "is needed (or community_env, or a v3 user)")
        if priv_key is not None and auth_key is None:
            raise s.error("priv_key", "needs an auth_key too (SNMPv3 has no privacy without auth)")
        credentials = Credentials(
            community=community,
            user=user,
            auth_key=auth_key,
            priv_key=priv_key,
            auth_protocol=s.text("auth_protocol", "sha", choices=tuple(AUTH_PROTOCOLS)),
            priv_protocol=s.text("priv_protocol", "aes", choices=tuple(PRIV_PROTOCOLS)),
            context=s.text("context", ""),
        )
        switches[name] = SwitchConfig(
            name=name,
            host=host,
            credentials=credentials,
            port=port,
            group=s.integer("group", 1, lo=1, hi=64),
            vendor=s.text("vendor", "standard", choices=tuple(VENDORS)),
            timeout_s=s.number("timeout_s", 1.0, lo=0.1, hi=30, unit="s"),
            retries=s.integer("retries", 1, lo=0, hi=5),
            cut_timeout_s=s.number("cut_timeout_s", 5.0, lo=0.5, hi=30, unit="s"),
            on_timeout_s=s.number("on_timeout_s", 5.0, lo=0.5, hi=15, unit="s"),
        )
        s.finish()
    return switches


def _secret(t: Table, key: str) -> str | None:
    """`key` from the config, or from the environment variable `key_env` names."""
    env_key = f"{key}_env"
    if t.has(key) and t.has(env_key):
        raise t.error(env_key, f"give {key} or {env_key}, not both")
    if t.has(env_key):
        variable = t.text(env_key)
        value = os.environ.get(variable)
        if not value:
            raise t.error(env_key, f"the environment variable {variable} is not set")
        return value
    value = t.raw(key, None)
    if value is not None and (not isinstance(value, str) or not value):
        raise t.error(key, "must be a non-empty string")  # the value itself is never shown
    return value


def _bay(t: Table, resources: Resources) -> BayConfig:
    name = t.text("name")
    profile = get_profile_for(t)
    procedure = t.text("procedure", profile.procedure, choices=PROCEDURES)
    power = read_power(t, resources)
    presser = read_presser(t, resources)
    bay = BayConfig(
        name=name,
        power=power,
        presser=presser,
        profile=profile,
        procedure=procedure,
        off_s=t.number("off_s", profile.off_s, lo=0.5, hi=60, unit="s"),
        # 60 s is the hard press limit: the board refuses longer, so must the config.
        hold_s=t.number("hold_s", profile.hold_s, lo=1, hi=60, unit="s"),
        boot_timeout_s=t.number("boot_timeout_s", profile.boot_timeout_s, lo=5, hi=1800, unit="s"),
        escalation_holds_s=tuple(
            t.numbers("escalation_holds_s", list(profile.escalation_holds_s), lo=1, hi=60)
        ),
        verify=t.text("verify", "network", choices=VERIFIERS),
        hold_s_set=t.has("hold_s"),
    )
    t.finish()
    return bay


def get_profile_for(t: Table) -> Profile:
    model = t.text("profile", GENERIC)
    try:
        return get_profile(model)
    except ConfigError as exc:
        raise t.error("profile", str(exc)) from None


def _check_bays(root: Table, bays: list[BayConfig]) -> None:
    """Bay names are unique, and no two bays (or roles) claim the same pin or channel."""
    names: set[str] = set()
    claimed: dict[Hashable, str] = {}
    for i, bay in enumerate(bays):
        if bay.name in names:
            raise root.error(f"bays[{i}].name", f"bay {bay.name!r} defined twice")
        names.add(bay.name)
        roles: tuple[tuple[Role, PowerSettings | PresserSettings], ...] = (
            ("power", bay.power),
            ("presser", bay.presser),
        )
        for role, settings in roles:
            for claim in settings.claims(role):
                if claim in claimed:
                    raise root.error(f"bays[{i}].{role}", f"already used by {claimed[claim]}")
                claimed[claim] = f"bay {bay.name} {role}"


# -- `rig init` ---------------------------------------------------------------------------

# The pins here are the harness's pins (wiring/): a test checks they agree.
EXAMPLE_CONFIG = """\
# rig.toml: the reset rig's station config. Every key is checked: a typo is an error.

[station]
# name = "bench-1"                 # shown in records and reports (default: the hostname)
# data_dir = "~/.local/share/rig"  # where the SQLite records live (default: user data dir)
# scanner = "/dev/input/by-id/usb-SCANNER-event-kbd"  # a USB barcode scanner for `rig run`
# qa = false                       # the QA pass after every reset (README "QA pass")
# autostart = false                # switch bays: a unit plugged in starts itself (no scan)
# learn_holds = true               # start each unit at the hold its model proved (README)
# learn_min_units = 5              # units verified at a hold before it is sure (2-1000)

[network]
# Where SADP probes go. On the bench leave the multicast default; tests use 127.0.0.1:PORT.
sadp_target = "239.255.255.250:37020"
# sadp_source = "192.0.2.10"       # send from this local address (picks the camera NIC)
# sadp_interface = "eth1"          # or bind to this NIC by name
# sadp_poll_s = 0.5                # how often the rig asks who is there
# sadp_fast_poll_s = 0.1           # ... while a unit is expected to go or come back
# http_timeout_s = 5.0             # every ISAPI call gives up after this
# settle_s = 0.5                   # a unit back must stay up this long (else: reboot loop)

# A firmware board (firmware/README.md): any pyserial URL or device.
# [boards.b1]
# port = "/dev/ttyACM0"

# A managed PoE switch whose ports power bays (README, "Bays on a PoE switch"); a bay then
# takes power = { switch = "sw1", port = 5 }.
# [switches.sw1]
# host = "10.0.0.2"
# community_env = "RIG_SW1_COMMUNITY"  # the write community, from the environment

[[bays]]
name = "A"
# Relay for the camera's PoE power, wired NC in the injector's DC feed (wiring/README.md).
# Opto relay modules are usually active-low. Or "manual", or { board = "b1", channel = 1 }.
power = { gpio = 17, active_high = false }
# Solenoid MOSFET gate: full drive for hit_ms, then PWM at hold_duty so a long hold does not
# cook the coil. pwm = false drives it plain on/off. Or "manual", or { board = "b1", channel = 1 }.
presser = { gpio = 27, pwm = true, hit_ms = 300, hold_duty = 0.5 }
profile = "DS-2CD2143G2-I"         # `rig profiles` lists them
# The bay's own values override the profile's:
# procedure = "power-cycle-hold"   # or "running-hold"
# off_s = 5.0                      # power off this long before the press
# hold_s = 18.0                    # from power-on to release; vendor window 15-20 s
# boot_timeout_s = 180             # from the release until the unit must answer
# escalation_holds_s = [18.0, 30.0]
# verify = "network"               # or "manual": the operator confirms factory state

# Print each verified unit's label at `rig run` (`rig label JOB` prints one by hand):
# [labels]
# brother = "192.0.2.20"           # a Brother QL on the network (HOST[:PORT], port 9100)
# cups = "Brother_QL-820NWB"       # or a CUPS printer's queue (not both)
# model = "QL-820NWB"              # the Brother's model
# size = "62x29"                   # the media loaded: "62x29" die-cut or "62" continuous
# url = "http://bench-1.lab:8765"  # the station page (`rig run --web`): the QR code links there

# A fleet of rigs (README "Many rigs"): records to the lab's PostgreSQL, bays live on MQTT.
# No password here: PGPASSWORD (or a libpq service/password file) and the named variables.
# [fleet]
# postgres = "postgresql://rig@db.lab:5432/lab"
# postgres_password_env = "RIG_PG_PASSWORD"
# mqtt = "mqtt://broker.lab:1883"          # mqtts://broker.lab:8883 for TLS
# mqtt_username = "rig"
# mqtt_password_env = "RIG_MQTT_PASSWORD"
# home_assistant = true                  # Home Assistant MQTT discovery of the bays
# mqtt_ca_file = "/etc/rig/lab-ca.pem"   # TLS (an mqtts:// URL): the broker's CA

# A second bay on the same Pi:
# [[bays]]
# name = "B"
# power = { gpio = 22, active_high = false }
# presser = { gpio = 23 }
# profile = "DS-2CD2343G2-I"
"""
