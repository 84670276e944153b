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

import platformdirs

from rig.errors import ConfigError
from rig.fleet.settings import FleetConfig, read_fleet
from rig.hardware.backends import read_power, read_presser
from rig.hardware.settings import PowerSettings, PresserSettings, Resources, Role
from rig.profiles import GENERIC, PROCEDURES, Profile, get_profile
from rig.tomlcheck import Table, load_toml, parse_toml

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


@dataclass(frozen=True)
class BoardConfig:
    name: str
    port: str


@dataclass(frozen=True)
class NetworkConfig:
    sadp_target: tuple[str, int] = ("239.255.255.250", 37020)
    sadp_source: str | None = None  # local address to send from (picks the NIC)
    sadp_interface: str | None = None  # NIC name, e.g. "eth0" (SO_BINDTODEVICE)
    sadp_poll_s: float = 0.5
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


@dataclass(frozen=True)
class RigConfig:
    station: StationConfig
    network: NetworkConfig
    boards: dict[str, BoardConfig]
    bays: list[BayConfig]
    source: str = "rig.toml"
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
    resources = Resources({"boards": tuple(boards)})
    bays = [_bay(t, resources) for t in root.tables("bays")]
    fleet = read_fleet(root.table("fleet", None), base_dir)
    root.finish()
    if not bays and need_bays:
        raise root.error("bays", "no [[bays]] defined (run `rig init` for an example)")
    _check_bays(root, bays)
    return RigConfig(station, network, boards, bays, source=label, fleet=fleet)


def _station(t: Table | None, base_dir: Path) -> StationConfig:
    if t is None:
        return StationConfig()
    name = t.text("name", None) or socket.gethostname()
    data_dir = t.text("data_dir", None)
    scanner = t.text("scanner", None)
    t.finish()
    path = None
    if data_dir is not None:
        path = Path(os.path.expandvars(data_dir)).expanduser()
        path = path if path.is_absolute() else base_dir / path
    return StationConfig(name=name, data_dir=path, scanner=scanner)


def _network(t: Table | None) -> NetworkConfig:
    if t is None:
        return NetworkConfig()
    target = t.text("sadp_target", None)
    config = NetworkConfig(
        sadp_target=_host_port(t, target) if target else NetworkConfig.sadp_target,
        sadp_source=t.text("sadp_source", None),
        sadp_interface=t.text("sadp_interface", None),
        sadp_poll_s=t.number("sadp_poll_s", 0.5, lo=0.1, hi=10, unit="s"),
        http_timeout_s=t.number("http_timeout_s", 5.0, lo=0.5, hi=60, unit="s"),
        settle_s=t.number("settle_s", 0.5, lo=0, hi=120, unit="s"),
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

[network]
# Where SADP probes go. On the bench leave the multicast default; tests use 127.0.0.1:PORT.
sadp_target = "239.255.255.250:37020"
# sadp_source = "192.0.2.10"       # send from this local address (picks the camera NIC)
# sadp_interface = "eth1"          # or bind to this NIC by name
# sadp_poll_s = 0.5                # how often the rig asks who is there
# http_timeout_s = 5.0             # every ISAPI call gives up after this
# settle_s = 0.5                   # a unit back must stay up this long (else: reboot loop)

# A firmware board (firmware/README.md): any pyserial URL or device.
# [boards.b1]
# port = "/dev/ttyACM0"

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
