"""The harness drawings in wiring/ use the pins the software drives and are wired safely.

Each YAML is built by WireViz's own parser up to the Harness object, which needs no Graphviz
binary. The checks then read the nets off that Harness: which pins end up joined by wires,
soldered leads (pin mates) and bridges on a terminal (loops). The naming conventions they rely
on are written at the top of each YAML.
"""

from __future__ import annotations

import re
import runpy
import struct
import tomllib
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from wireviz.DataClasses import Connector, MatePin
from wireviz.Harness import Harness
from wireviz.wireviz import parse
from wireviz.wv_bom import bom_list
from wireviz.wv_helper import tuplelist2tsv

from rig.config import EXAMPLE_CONFIG

ROOT = Path(__file__).resolve().parents[1]
WIRING = ROOT / "wiring"
DIRECT = WIRING / "direct-gpio-bay.yml"
BOARD = WIRING / "board-bay.yml"
SWITCH = WIRING / "switch-bay.yml"  # no relay: the camera's PoE comes from a switch port
PINMAP = ROOT / "firmware" / "pinmap.py"
DRAWINGS = sorted(WIRING.glob("*.yml"))
RELAY_DRAWINGS = [path for path in DRAWINGS if path != SWITCH]

Node = tuple[str, Any]  # (connector, pin) or (cable, wire number)

CONTROLLER_GPIO = re.compile(r"^(?:GPIO|GP)(\d+)$")  # Pi header "GPIO17", Pico "GP2"


def build(source: Path | str) -> Harness:
    """WireViz's parse() with a return type and no output format stops before rendering.

    source is a YAML file, or the YAML text itself."""
    image_paths = [source.parent] if isinstance(source, Path) else []
    return parse(source, return_types="harness", image_paths=image_paths)


@cache
def drawing(path: Path) -> Harness:
    return build(path)


class Nets:
    """Which pins a harness joins: through cable wires, pin mates and connector loops."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self._parent: dict[Node, Node] = {}
        for cable in harness.cables.values():
            for link in cable.connections:
                wire = (cable.name, link.via_port)
                if link.from_name is not None:
                    self._join((link.from_name, link.from_pin), wire)
                if link.to_name is not None:
                    self._join((link.to_name, link.to_pin), wire)
        for mate in harness.mates:
            if isinstance(mate, MatePin):
                self._join((mate.from_name, mate.from_pin), (mate.to_name, mate.to_pin))
        for connector in harness.connectors.values():
            for a, b in connector.loops:
                self._join((connector.name, a), (connector.name, b))

    def _root(self, node: Node) -> Node:
        self._parent.setdefault(node, node)
        while self._parent[node] != node:
            node = self._parent[node]
        return node

    def _join(self, a: Node, b: Node) -> None:
        self._parent[self._root(a)] = self._root(b)

    def connected(self, designator: str, pin: Any) -> bool:
        """True when anything at all is wired, soldered or bridged to this pin."""
        node = (designator, pin)
        root = self._root(node)
        return any(self._root(n) == root for n in list(self._parent) if n != node)

    def net(self, designator: str, pin: Any) -> frozenset[Node]:
        """The connector pins joined to this one (itself included)."""
        root = self._root((designator, pin))
        return frozenset(
            (name, p)
            for name, connector in self.harness.connectors.items()
            for p in connector.pins
            if self._root((name, p)) == root
        )

    def label(self, node: Node) -> str:
        return dict(labelled_pins(self.harness.connectors[node[0]]))[node[1]]

    def labels(self, net: Iterable[Node]) -> list[str]:
        return [self.label(node) for node in net]

    def gpios(self, net: Iterable[Node]) -> set[int]:
        found = (CONTROLLER_GPIO.match(label) for label in self.labels(net))
        return {int(m[1]) for m in found if m}

    def is_ground(self, net: Iterable[Node]) -> bool:
        """A net holding one of the controller's GND pins (the Pi's or the Pico's)."""
        return any(self.label(node) == "GND" and node[0] in {"X1", "U1"} for node in net)

    def through(self, designator: str, pin: Any) -> Iterator[frozenset[Node]]:
        """The nets one series element (resistor or driver channel) away from this pin's net."""
        net = self.net(designator, pin)
        for a, b in series_elements(self.harness, drivers=True):
            if a in net:
                yield self.net(*b)
            elif b in net:
                yield self.net(*a)

    def driving_gpios(self, designator: str, pin: Any) -> set[int]:
        """Controller GPIOs on this pin's net or one series element away from it."""
        found = self.gpios(self.net(designator, pin))
        for other in self.through(designator, pin):
            found |= self.gpios(other)
        return found


def series_elements(harness: Harness, *, drivers: bool = False) -> list[tuple[Node, Node]]:
    """The two ends of every resistor (and, with drivers, every Darlington channel) drawn."""
    ends: list[tuple[Node, Node]] = []
    for name, connector in harness.connectors.items():
        by_label = {label: pin for pin, label in labelled_pins(connector)}
        if re.fullmatch(r"R\d+", name) and connector.pins == [1, 2]:
            ends.append(((name, 1), (name, 2)))
        for label, pin in by_label.items():
            isolated = re.fullmatch(r"(R\d+)\.1", label)  # RN1: Rk.1 / Rk.2
            if isolated and f"{isolated[1]}.2" in by_label:
                ends.append(((name, pin), (name, by_label[f"{isolated[1]}.2"])))
            if re.fullmatch(r"R\d+", label) and "COM" in by_label:  # RN2: COM / Rk
                ends.append(((name, by_label["COM"]), (name, pin)))
            driver_in = re.fullmatch(r"(\d)B", label)  # ULN2003A: nB drives nC
            if drivers and driver_in and f"{driver_in[1]}C" in by_label:
                ends.append(((name, pin), (name, by_label[f"{driver_in[1]}C"])))
    return ends


def labelled_pins(connector: Connector) -> list[tuple[Any, str]]:
    """(pin, label) for every pin; a part drawn without pinlabels has "" for each."""
    labels = [str(label) for label in connector.pinlabels]
    return [(pin, labels[i] if i < len(labels) else "") for i, pin in enumerate(connector.pins)]


def parts(harness: Harness, prefix: str) -> list[Connector]:
    return [c for name, c in harness.connectors.items() if re.fullmatch(rf"{prefix}\d+", name)]


def pin_labelled(connector: Connector, label: str) -> Any:
    (pin,) = [p for p, text in labelled_pins(connector) if text == label]
    return pin


def relays(harness: Harness) -> list[Connector]:
    return [c for c in parts(harness, "K") if {"COM", "NC", "NO"} <= set(c.pins)]


# -- the checks, as functions so that the last tests can show they catch a wrong drawing --


def check_direct_bay_matches_example_config(harness: Harness, example_config: str) -> None:
    bay = tomllib.loads(example_config)["bays"][0]
    nets = Nets(harness)
    (relay,) = relays(harness)
    (mosfet,) = parts(harness, "Q")
    assert nets.driving_gpios(relay.name, "IN") == {bay["power"]["gpio"]}
    assert nets.driving_gpios(mosfet.name, pin_labelled(mosfet, "G")) == {bay["presser"]["gpio"]}
    # The module drawn is an active-low one, as the config says.
    assert bay["power"]["active_high"] is False
    assert "active-low" in relay.type


def check_board_matches_pinmap(harness: Harness, pinmap: dict[str, Any]) -> None:
    nets = Nets(harness)
    channels: dict[int, tuple[int, int]] = pinmap["CHANNELS"]
    assert {c.name for c in relays(harness)} == {f"K{n}" for n in channels}
    assert {c.name for c in parts(harness, "Q")} == {f"Q{n}" for n in channels}
    # RELAY_ACTIVE_HIGH: each coil hangs from +5 V and a driver output sinks it, so a high GPIO
    # energises it; the driver's COM pin on that +5 V is what clamps the coil.
    assert pinmap["RELAY_ACTIVE_HIGH"] is True
    for n, (relay_gpio, solenoid_gpio) in channels.items():
        mosfet = harness.connectors[f"Q{n}"]
        assert nets.driving_gpios(f"K{n}", "COIL-") == {relay_gpio}, f"channel {n} relay"
        assert nets.driving_gpios(mosfet.name, pin_labelled(mosfet, "G")) == {solenoid_gpio}, (
            f"channel {n} solenoid"
        )
        coil_plus = nets.labels(nets.net(f"K{n}", "COIL+"))
        assert "VBUS" in coil_plus and "COM" in coil_plus, f"channel {n} coil supply / clamp"
        assert any(re.fullmatch(r"\dC", label) for label in nets.labels(nets.net(f"K{n}", "COIL-")))


def check_relays_switch_poe_dc_plus_through_com_and_nc(harness: Harness) -> None:
    nets = Nets(harness)
    assert relays(harness), "no relay drawn"
    for relay in relays(harness):
        assert nets.connected(relay.name, "COM"), f"{relay.name}: COM not wired"
        assert nets.connected(relay.name, "NC"), f"{relay.name}: NC not wired"
        assert not nets.connected(relay.name, "NO"), f"{relay.name}: NO must stay unused"
        com, nc = nets.net(relay.name, "COM"), nets.net(relay.name, "NC")
        assert com != nc
        for contact in (com, nc):
            others = [node for node in contact if node[0] != relay.name]
            labels = nets.labels(others)
            assert any(label.startswith("PoE DC+") for label in labels), (relay.name, labels)
            assert not any(label.startswith("PoE DC-") for label in labels), (relay.name, labels)
            assert not any("RJ45" in label for label in labels), (relay.name, labels)
            assert not nets.gpios(others) and not nets.is_ground(others)
    # The - line runs straight through: every PoE DC- net joins an adapter side to an injector side.
    for name, connector in harness.connectors.items():
        for pin, label in labelled_pins(connector):
            if label.startswith("PoE DC-"):
                minus = nets.labels(nets.net(name, pin))
                assert sum(text.startswith("PoE DC-") for text in minus) >= 2, (name, pin)


def check_solenoids_clamped_by_schottky(harness: Harness) -> None:
    nets = Nets(harness)
    diodes = parts(harness, "D")
    loads = [(s.name, 1, 2) for s in parts(harness, "SOL")]
    assert loads, "no solenoid drawn"
    # Every MOSFET drain is a solenoid's switched side, drawn or plugged into a socket.
    loads += [(q.name, None, pin_labelled(q, "D")) for q in parts(harness, "Q")]
    for name, plus, switched in loads:
        clamps = [
            d
            for d in diodes
            if nets.net(d.name, "A") == nets.net(name, switched)
            and (plus is None or nets.net(d.name, "K") == nets.net(name, plus))
        ]
        assert clamps, f"{name}: no diode across the solenoid"
        for diode in clamps:
            assert "Schottky" in diode.type, f"{diode.name}: the PWM hold wants a Schottky"
            assert any(
                label.startswith("+12 V") for label in nets.labels(nets.net(diode.name, "K"))
            ), f"{diode.name}: cathode must sit on +12 V"


def check_gates_pulled_down_and_grounds_common(harness: Harness) -> None:
    nets = Nets(harness)
    resistors = series_elements(harness)
    for mosfet in parts(harness, "Q"):
        gate = nets.net(mosfet.name, pin_labelled(mosfet, "G"))
        source = nets.net(mosfet.name, pin_labelled(mosfet, "S"))
        pull_downs = [
            (a, b)
            for a, b in resistors
            if (a in gate and b in source) or (b in gate and a in source)
        ]
        assert pull_downs, f"{mosfet.name}: no gate pull-down"
        # The 12 V return and the controller's ground meet: one common ground.
        assert nets.is_ground(source), f"{mosfet.name}: source not on the controller's GND"
        assert any(label.startswith("0 V") for label in nets.labels(source)), mosfet.name


def check_switch_bay_has_no_relay_and_one_cord(harness: Harness, example_config: str) -> None:
    """A switch bay: no relay, no injector, no PoE DC wiring; the camera's one cord runs to
    the switch port that powers it; the solenoid driver is the direct bay's, on its GPIO."""
    nets = Nets(harness)
    assert not relays(harness), "a switch bay has no relay"
    assert not parts(harness, "K") and "INJ" not in harness.connectors
    for connector in harness.connectors.values():
        assert not any(label.startswith("PoE DC") for _, label in labelled_pins(connector))
    (switch,) = parts(harness, "SW")
    camera = nets.net("CAM", "LAN")
    ports = [node for node in camera if node[0] == switch.name]
    assert len(ports) == 1, "the camera's cord goes to one switch port"
    assert "PoE" in nets.label(ports[0]) and nets.label(ports[0]).startswith("RJ45")
    (mosfet,) = parts(harness, "Q")
    bay = tomllib.loads(example_config)["bays"][0]
    assert nets.driving_gpios(mosfet.name, pin_labelled(mosfet, "G")) == {bay["presser"]["gpio"]}


# -- the tests --


def test_every_drawing_is_checked() -> None:
    assert {DIRECT, BOARD, SWITCH} <= set(DRAWINGS)


def test_switch_bay_has_no_relay_and_feeds_the_camera_from_its_port() -> None:
    check_switch_bay_has_no_relay_and_one_cord(drawing(SWITCH), EXAMPLE_CONFIG)


def test_a_switch_bay_with_its_cord_or_gate_moved_is_caught() -> None:
    harness = edited(SWITCH, "    - CAM: [LAN]\n", "    - ETH: [LAN]\n")  # cord to the Pi
    with pytest.raises(AssertionError):
        check_switch_bay_has_no_relay_and_one_cord(harness, EXAMPLE_CONFIG)
    moved = edited(SWITCH, "- X1: [13, 14]", "- X1: [15, 14]")  # gate on GPIO22
    with pytest.raises(AssertionError):
        check_switch_bay_has_no_relay_and_one_cord(moved, EXAMPLE_CONFIG)


@pytest.mark.parametrize("path", DRAWINGS, ids=lambda p: p.name)
def test_drawing_builds_with_wirevizs_parser_without_graphviz(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` to be found: nothing may render
    harness = build(path)
    assert harness.connectors and harness.cables
    assert harness.graph.source  # the Graphviz source too: only rendering it needs `dot`


def test_direct_bay_uses_the_example_configs_pins() -> None:
    check_direct_bay_matches_example_config(drawing(DIRECT), EXAMPLE_CONFIG)


def test_direct_bay_relay_module_dodges_the_3v3_trap() -> None:
    harness = drawing(DIRECT)
    nets = Nets(harness)
    (relay,) = relays(harness)
    # Opto side from 3V3, so a 3.3 V high puts the opto LED at 0 V; coil side from 5V.
    assert "3V3" in nets.labels(nets.net(relay.name, "VCC"))
    assert "5V" in nets.labels(nets.net(relay.name, "JD-VCC"))
    assert "5V" not in nets.labels(nets.net(relay.name, "VCC"))
    assert nets.net(relay.name, "VCC") != nets.net(relay.name, "JD-VCC")  # jumper removed


def test_board_uses_the_firmware_pinmap() -> None:
    check_board_matches_pinmap(drawing(BOARD), runpy.run_path(str(PINMAP)))


def test_readme_pico_pin_table_matches_pinmap_and_drawing() -> None:
    rows = re.findall(
        r"^\| (\d) \| [A-D] \| GP(\d+) \(pin (\d+)\) \| GP(\d+) \(pin (\d+)\) \|$",
        (WIRING / "README.md").read_text(encoding="utf-8"),
        re.MULTILINE,
    )
    table = {int(ch): (int(relay), int(solenoid)) for ch, relay, _, solenoid, _ in rows}
    assert table == runpy.run_path(str(PINMAP))["CHANNELS"]
    pico = dict(labelled_pins(drawing(BOARD).connectors["U1"]))
    for _, relay, relay_pin, solenoid, solenoid_pin in rows:
        assert pico[int(relay_pin)] == f"GP{relay}"
        assert pico[int(solenoid_pin)] == f"GP{solenoid}"


@pytest.mark.parametrize("path", RELAY_DRAWINGS, ids=lambda p: p.name)
def test_relays_switch_the_poe_dc_feed_through_com_and_nc(path: Path) -> None:
    check_relays_switch_poe_dc_plus_through_com_and_nc(drawing(path))


@pytest.mark.parametrize("path", DRAWINGS, ids=lambda p: p.name)
def test_every_solenoid_has_a_schottky_across_it(path: Path) -> None:
    check_solenoids_clamped_by_schottky(drawing(path))


@pytest.mark.parametrize("path", DRAWINGS, ids=lambda p: p.name)
def test_gates_are_pulled_down_on_a_common_ground(path: Path) -> None:
    check_gates_pulled_down_and_grounds_common(drawing(path))


@pytest.mark.parametrize("path", DRAWINGS, ids=lambda p: p.name)
def test_committed_bom_is_this_yamls(path: Path) -> None:
    bom = path.with_name(path.stem + ".bom.tsv")
    expected = tuplelist2tsv(bom_list(drawing(path).bom()))
    assert bom.read_text(encoding="utf-8") == expected, f"stale {bom.name}: run `make wiring`"


@pytest.mark.parametrize("path", DRAWINGS, ids=lambda p: p.name)
def test_committed_diagrams_are_this_yamls(path: Path) -> None:
    harness = drawing(path)
    gv = path.with_name(path.stem + ".gv").read_text(encoding="utf-8")
    assert gv == harness.graph.source, f"stale {path.stem}.gv: run `make wiring`"
    # The SVG and PNG came from that graph: the same nodes, the same size (PNG at 96 dpi).
    svg = path.with_name(path.stem + ".svg").read_text(encoding="utf-8")
    drawn = set(re.findall(r'<g id="node\d+" class="node">\s*<title>([^<]+)</title>', svg))
    assert drawn == set(harness.connectors) | set(harness.cables)
    size = re.search(r'<svg width="(\d+)pt" height="(\d+)pt"', svg)
    assert size, "SVG without a size"
    png = path.with_name(path.stem + ".png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert abs(width - int(size[1]) * 4 / 3) <= 2 and abs(height - int(size[2]) * 4 / 3) <= 2


# -- the checks bite: a drawing or a pin map that disagrees fails them --


def edited(path: Path, old: str, new: str) -> Harness:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} no longer in {path.name}: update this test"
    return build(text.replace(old, new, 1))


def test_a_moved_direct_bay_pin_is_caught() -> None:
    harness = edited(DIRECT, "- X1: [13, 14]", "- X1: [15, 14]")  # gate on GPIO22
    with pytest.raises(AssertionError):
        check_direct_bay_matches_example_config(harness, EXAMPLE_CONFIG)
    other_config = EXAMPLE_CONFIG.replace("gpio = 17,", "gpio = 22,", 1)
    with pytest.raises(AssertionError):
        check_direct_bay_matches_example_config(drawing(DIRECT), other_config)


def test_a_moved_board_pin_is_caught() -> None:
    pinmap = runpy.run_path(str(PINMAP))
    harness = edited(BOARD, "- U1: [4, 5, 6, 7]", "- U1: [5, 4, 6, 7]")  # ch1/ch2 relays swapped
    with pytest.raises(AssertionError):
        check_board_matches_pinmap(harness, pinmap)
    moved = {**pinmap, "CHANNELS": {**pinmap["CHANNELS"], 4: (6, 22)}}
    with pytest.raises(AssertionError):
        check_board_matches_pinmap(drawing(BOARD), moved)


def test_a_relay_on_its_no_contact_is_caught() -> None:
    harness = edited(DIRECT, "- K1: [NC]", '- K1: ["NO"]')
    with pytest.raises(AssertionError):
        check_relays_switch_poe_dc_plus_through_com_and_nc(harness)


def test_a_missing_flyback_diode_is_caught() -> None:
    harness = edited(BOARD, "  - - D3: [K, A]\n    - -->\n    - XS3: [1, 2]\n", "")
    with pytest.raises(AssertionError):
        check_solenoids_clamped_by_schottky(harness)


def test_a_missing_gate_pull_down_is_caught() -> None:
    harness = edited(DIRECT, "  - - R2: [1, 2]\n    - -->\n    - Q1: [1, 3]\n", "")
    with pytest.raises(AssertionError):
        check_gates_pulled_down_and_grounds_common(harness)
