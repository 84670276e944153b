"""What a bay's backend is, as the config reads it: its settings, and how they become devices.

A backend (one module: rig.hardware.gpio, .board, .manual) reads its settings from the bay's
`power`/`presser` value into a frozen object that knows three things:

- `build_power(ctx)` / `build_presser(ctx)`: the device, from a small `BuildContext`;
- `describe()`: one line for `rig status` ("GPIO17", "b1 ch1", "manual");
- `claims(role)`: what it takes for itself, so two bays on one GPIO or one board channel are
  a config error.

rig.hardware.backends lists the backends; nothing else in rig names them.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from rig.clock import Clock
from rig.operator import Operator
from rig.tomlcheck import Table

if TYPE_CHECKING:
    from rig.hardware.base import PowerSwitch, Presser
    from rig.hardware.board import BoardPool
    from rig.hardware.switch import SwitchPool

Role = Literal["power", "presser"]


@dataclass(frozen=True)
class Resources:
    """The named tables of the config a backend may refer to, by section, in file order:
    `{"boards": ("b1", "b2")}` for `[boards.b1]` and `[boards.b2]`."""

    names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: The tables themselves by section and name, for a backend that needs more than the
    #: name (a switch bay's default PoE group is its switch's).
    tables: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def refer(self, t: Table, key: str, section: str) -> str:
        """Read `key` as the name of a `[section.NAME]` table; an unknown name is an error."""
        name: str = t.text(key)
        known = self.names.get(section, ())
        if name not in known:
            listed = ", ".join(known) or "none defined"
            raise t.error(key, f"no [{section}.{name}] ({section}: {listed})")
        return name


@dataclass(frozen=True)
class BuildContext:
    """What a backend may need to build a bay's device."""

    bay: str
    clock: Clock
    operator: Operator
    where: str = "rig.toml: bay ?"  # how a build error starts: "rig.toml: bay A"
    pin_factory: Any = None  # gpiozero's; None: gpiozero's default (rig.hardware.gpio)
    boards: BoardPool | None = None  # the run's opened boards
    switches: SwitchPool | None = None  # the run's managed PoE switches


class PowerSettings(Protocol):
    """A bay's `power` as its backend read it."""

    def build_power(self, ctx: BuildContext) -> PowerSwitch: ...

    def describe(self) -> str: ...

    def claims(self, role: Role) -> tuple[Hashable, ...]: ...


class PresserSettings(Protocol):
    """A bay's `presser` as its backend read it."""

    def build_presser(self, ctx: BuildContext) -> Presser: ...

    def describe(self) -> str: ...

    def claims(self, role: Role) -> tuple[Hashable, ...]: ...
