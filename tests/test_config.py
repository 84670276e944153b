"""Every config mistake is one line naming the file and the key; the example is valid."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path

import pytest

from rig.config import EXAMPLE_CONFIG, load_config, parse_config
from rig.errors import ConfigError
from rig.hardware import backends
from rig.hardware.backends import Backend, describe
from rig.hardware.base import PowerSwitch
from rig.hardware.board import BoardChannel
from rig.hardware.gpio import GpioPower, GpioPresser
from rig.hardware.manual import MANUAL
from rig.hardware.settings import BuildContext, Resources, Role
from rig.profiles import all_profiles
from rig.tomlcheck import Table

BAY = '[[bays]]\nname = "A"\n'


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "rig.toml")
    message = str(info.value)
    assert "\n" not in message
    return message


def test_example_config_is_valid_and_uses_the_harness_pins() -> None:
    config = parse_config(EXAMPLE_CONFIG)
    bay = config.bays[0]
    assert bay.power == GpioPower(gpio=17, active_high=False)
    assert bay.presser == GpioPresser(gpio=27, pwm=True, hit_ms=300, hold_duty=0.5)
    assert bay.profile.model == "DS-2CD2143G2-I"
    assert (bay.off_s, bay.hold_s, bay.boot_timeout_s) == (5.0, 18.0, 180.0)
    assert config.network.sadp_target == ("239.255.255.250", 37020)


def test_design_contract_keys_work_as_written() -> None:
    config = parse_config(
        """
[network]
sadp_target = "127.0.0.1:37020"

[boards.b1]
port = "/dev/ttyACM0"

[[bays]]
name = "A"
power   = { board = "b1", channel = 1 }
presser = { board = "b1", channel = 1 }
profile = "DS-2CD2143G2-I"
off_s = 5.0
hold_s = 18.0
boot_timeout_s = 180
"""
    )
    assert config.network.sadp_target == ("127.0.0.1", 37020)
    assert config.boards["b1"].port == "/dev/ttyACM0"
    assert config.bays[0].hold_s == 18.0


def test_bay_values_override_the_profile() -> None:
    config = parse_config(BAY + 'profile = "DS-2CD2343G2-I"\nhold_s = 20\noff_s = 7\n')
    assert (config.bays[0].hold_s, config.bays[0].off_s) == (20.0, 7.0)
    assert config.bays[0].boot_timeout_s == all_profiles()["DS-2CD2343G2-I"].boot_timeout_s


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (BAY + "hold_s = 75", "rig.toml: bays[0].hold_s: must be 1–60 s, got 75"),
        (BAY + "hold_s = 0.5", "rig.toml: bays[0].hold_s: must be 1–60 s, got 0.5"),
        (BAY + 'hold_s = "18"', "rig.toml: bays[0].hold_s: must be a number s, got '18'"),
        (BAY + "hodl_s = 18", "rig.toml: bays[0].hodl_s: unknown key"),
        (BAY + "off_s = 0", "rig.toml: bays[0].off_s: must be 0.5–60 s, got 0"),
        (BAY + "boot_timeout_s = 2", "rig.toml: bays[0].boot_timeout_s: must be 5–1800 s, got 2"),
        (BAY + 'profile = "DS-9999"', "rig.toml: bays[0].profile: unknown profile 'DS-9999'"),
        (BAY + 'procedure = "wiggle"', "rig.toml: bays[0].procedure: must be one of"),
        (BAY + 'verify = "psychic"', "rig.toml: bays[0].verify: must be one of network, manual"),
        (BAY + "power = { gpio = 99 }", "rig.toml: bays[0].power.gpio: must be 2–27, got 99"),
        (
            BAY + "power = { gpio = 17, active_hi = true }",
            "rig.toml: bays[0].power.active_hi: unknown key",
        ),
        (
            BAY + 'power = { gpio = 17, active_high = "no" }',
            "rig.toml: bays[0].power.active_high: must be true or false",
        ),
        (
            BAY + "presser = { gpio = 27, hold_duty = 1.5 }",
            "rig.toml: bays[0].presser.hold_duty: must be 0.2–1",
        ),
        (BAY + 'presser = "paperclip"', 'rig.toml: bays[0].presser: must be "manual"'),
        (
            BAY + 'power = { board = "b9", channel = 1 }',
            "rig.toml: bays[0].power.board: no [boards.b9]",
        ),
        (
            BAY + "power = { gpio = 17 }\npresser = { gpio = 17 }",
            "rig.toml: bays[0].presser: already used by bay A power",
        ),
        (BAY + BAY, "rig.toml: bays[1].name: bay 'A' defined twice"),
        ("[[bays]]\nhold_s = 18", "rig.toml: bays[0].name: missing (required)"),
        ("", "rig.toml: bays: no [[bays]] defined"),
        ("[stations]\n" + BAY, "rig.toml: stations: unknown key"),
        (
            '[network]\nsadp_target = "nowhere"\n' + BAY,
            'rig.toml: network.sadp_target: must be "host:port"',
        ),
        (
            '[network]\nsadp_target = "127.0.0.1:3²"\n' + BAY,
            "rig.toml: network.sadp_target: must be \"host:port\", got '127.0.0.1:3²'",
        ),
        (
            '[network]\nsadp_target = "127.0.0.1:٣٧"\n' + BAY,  # Arabic-Indic 37
            'rig.toml: network.sadp_target: must be "host:port"',
        ),
        (
            '[network]\nsadp_target = "127.0.0.1:65536"\n' + BAY,
            'rig.toml: network.sadp_target: must be "host:port"',
        ),
        (
            BAY + "power = { gpio = 17 }\n" + BAY.replace('"A"', '"B"') + "presser = { gpio = 17 }",
            "rig.toml: bays[1].presser: already used by bay A power",
        ),
        (
            '[boards.b1]\nport = "/dev/ttyACM0"\n'
            + BAY
            + 'power = { board = "b1", channel = 2 }\n'
            + BAY.replace('"A"', '"B"')
            + 'power = { board = "b1", channel = 2 }\n',
            "rig.toml: bays[1].power: already used by bay A power",
        ),
        (
            '[boards.b1]\nport = "/dev/ttyACM0"\n' + BAY + 'power = { board = "b1", channel = 17 }',
            "rig.toml: bays[0].power.channel: must be 1–16, got 17",
        ),
        (
            '[boards.b1]\nport = "/dev/ttyACM0"\n'
            + BAY
            + 'power = { board = "b1", channel = 1, gpio = 17 }',
            "rig.toml: bays[0].power.gpio: unknown key",
        ),
        (BAY + "power = {}", "rig.toml: bays[0].power.gpio: missing (required)"),
        (
            BAY + "power = 17",
            'rig.toml: bays[0].power: must be "manual", { gpio = N }, { board, channel } or '
            "{ switch, port }",
        ),
        (
            "[network]\nsadp_poll_s = 0\n" + BAY,
            "rig.toml: network.sadp_poll_s: must be 0.1–10 s, got 0",
        ),
        ('[boards.b1]\nprt = "/dev/ttyACM0"\n' + BAY, "rig.toml: boards.b1.port: missing"),
        ("[[bays]\nname = 'A'", "rig.toml: not valid TOML"),
    ],
)
def test_config_errors_are_one_line_naming_the_key(text: str, message: str) -> None:
    assert error_of(text).startswith(message)


def test_missing_file_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope.toml: no such file \(run `rig init`"):
        load_config(tmp_path / "nope.toml")


def test_relative_data_dir_is_relative_to_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "rig.toml"
    path.write_text('[station]\ndata_dir = "records"\nname = "bench-7"\n' + BAY)
    config = load_config(path)
    assert config.station.data_dir == tmp_path / "records"
    assert config.station.name == "bench-7"


def test_cli_config_error_exits_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "rig.toml"
    path.write_text(BAY + "hold_s = 75\n")
    proc = subprocess.run(
        [sys.executable, "-m", "rig", "reset", "--config", str(path), "--bay", "A"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        f"rig: error: {path}: bays[0].hold_s: must be 1–60 s, got 75"
    ]


def test_sadp_port_is_ascii_digits_only() -> None:
    config = parse_config('[network]\nsadp_target = "127.0.0.1:37020"\n' + BAY)
    assert config.network.sadp_target == ("127.0.0.1", 37020)
    with pytest.raises(ConfigError):
        parse_config('[network]\nsadp_target = "127.0.0.1:3²"\n' + BAY)


def test_a_config_without_bays_loads_when_bays_are_not_needed(tmp_path: Path) -> None:
    text = '[network]\nsadp_target = "127.0.0.1:37020"\n[boards.b1]\nport = "/dev/ttyACM0"\n'
    config = parse_config(text, need_bays=False)
    assert config.bays == []
    assert config.network.sadp_target == ("127.0.0.1", 37020)
    assert config.boards["b1"].port == "/dev/ttyACM0"
    path = tmp_path / "rig.toml"
    path.write_text(text)
    assert load_config(path, need_bays=False).bays == []
    with pytest.raises(ConfigError, match=r"rig.toml: bays: no \[\[bays\]\] defined"):
        load_config(path)
    # Everything else is still checked.
    with pytest.raises(ConfigError, match=r"rig.toml: netwrk: unknown key"):
        parse_config("[netwrk]\n", need_bays=False)
    assert parse_config("", need_bays=False).bays == []


def test_each_backend_reads_its_own_settings() -> None:
    config = parse_config(
        '[boards.b1]\nport = "/dev/ttyACM0"\n'
        + BAY
        + 'power = { board = "b1", channel = 3 }\npresser = { gpio = 27, pwm = false }\n'
        + BAY.replace('"A"', '"B"')
        + "power = { gpio = 22, active_high = true }\n"
    )
    a, b = config.bays
    assert a.power == BoardChannel(board="b1", channel=3)
    assert a.presser == GpioPresser(gpio=27, pwm=False)
    assert (b.power, b.presser) == (GpioPower(gpio=22, active_high=True), MANUAL)
    assert [describe(x) for x in (a.power, a.presser, b.power, b.presser)] == [
        "b1 ch3",
        "GPIO27",
        "GPIO22",
        "manual",
    ]


# -- a backend is one module and one registry entry ----------------------------------------------


@dataclass(frozen=True)
class RelayBox:
    """A stand-in for a new power-only backend: `power = { relaybox = "rb1", outlet = 2 }`."""

    box: str
    outlet: int

    def build_power(self, ctx: BuildContext) -> PowerSwitch:
        raise NotImplementedError

    def describe(self) -> str:
        return f"{self.box} outlet {self.outlet}"

    def claims(self, role: Role) -> tuple[Hashable, ...]:
        return (("relaybox", self.box, self.outlet),)


def read_relaybox(t: Table, resources: Resources) -> RelayBox:
    return RelayBox(box=t.text("relaybox"), outlet=t.integer("outlet", lo=1, hi=8))


def test_a_new_backend_needs_only_its_registry_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = Backend("relaybox", "{ relaybox, outlet }", power=read_relaybox)
    monkeypatch.setattr(backends, "BACKENDS", (*backends.BACKENDS, entry))
    box = 'power = { relaybox = "rb1", outlet = 2 }\n'
    config = parse_config(BAY + box)
    assert config.bays[0].power == RelayBox("rb1", 2)
    assert describe(config.bays[0].power) == "rb1 outlet 2"
    assert error_of(BAY + 'power = { relaybox = "rb1", outlet = 2, volts = 5 }').startswith(
        "rig.toml: bays[0].power.volts: unknown key"
    )
    assert error_of(BAY + box + BAY.replace('"A"', '"B"') + box).startswith(
        "rig.toml: bays[1].power: already used by bay A power"
    )
    # It cannot press: the presser's message lists the backends that can.
    assert error_of(BAY + 'presser = { relaybox = "rb1", outlet = 2 }') == (
        'rig.toml: bays[0].presser: must be "manual", { gpio = N } or { board, channel };'
        " got {'relaybox': 'rb1', 'outlet': 2}"
    )
    assert error_of(BAY + "power = 5").startswith(
        'rig.toml: bays[0].power: must be "manual", { gpio = N }, { board, channel }, '
        "{ switch, port } or { relaybox, outlet }; got 5"
    )
