"""The backends a bay's `power` and `presser` may name, and the one reader that picks among them.

A bay's value names its backend by a word (`"manual"`) or by a key of its inline table
(`{ board = "b1", channel = 1 }`); a table that names none is a GPIO table (`{ gpio = 17 }`,
whose `gpio` key is then required). Each backend is one module: its devices, its settings
(rig.hardware.settings says what they know) and a reader per role it can play. Adding one is
that module and one entry in BACKENDS; config, factory and cli stay as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from rig.hardware import board, gpio, manual, switch
from rig.hardware.settings import PowerSettings, PresserSettings, Resources, Role
from rig.tomlcheck import Table

S = TypeVar("S")
Reader = Callable[[Table, Resources], S]


@dataclass(frozen=True)
class Backend:
    """One entry of the registry.

    `key` names it: the key of the bay's inline table (`board`), or, for a `word` backend, the
    whole value (`"manual"`; its readers get an empty table). `shape` is how the error for a
    value no backend takes shows it. A reader per role it can play reads its settings from the
    bay's table (`bays[0].power`); the table's unread keys are errors after it.
    """

    key: str
    shape: str
    power: Reader[PowerSettings] | None = None
    presser: Reader[PresserSettings] | None = None
    word: bool = False


BACKENDS: tuple[Backend, ...] = (
    Backend("manual", '"manual"', power=manual.read, presser=manual.read, word=True),
    Backend("gpio", "{ gpio = N }", power=gpio.read_power, presser=gpio.read_presser),
    Backend("board", "{ board, channel }", power=board.read, presser=board.read),
    Backend("switch", "{ switch, port }", power=switch.read),
)
#: What a bay without a `power` or `presser` key gets.
DEFAULT_WORD = "manual"
#: The backend of a table that names no other backend's key.
TABLE_DEFAULT = "gpio"


def read_power(bay: Table, resources: Resources) -> PowerSettings:
    """The bay's `power`, read by the backend it names."""
    return _read(bay, "power", resources, lambda b: b.power)


def read_presser(bay: Table, resources: Resources) -> PresserSettings:
    """The bay's `presser`, read by the backend it names."""
    return _read(bay, "presser", resources, lambda b: b.presser)


def describe(settings: PowerSettings | PresserSettings) -> str:
    """One line for `rig status`: "GPIO17", "b1 ch1", "manual"."""
    return settings.describe()


def _read(
    bay: Table,
    role: Role,
    resources: Resources,
    reader_of: Callable[[Backend], Reader[S] | None],
) -> S:
    value = bay.raw(role, DEFAULT_WORD)
    backend = _named_by(value)
    reader = reader_of(backend) if backend is not None else None
    if reader is None:
        shapes = [b.shape for b in BACKENDS if reader_of(b) is not None]
        listed = f"{', '.join(shapes[:-1])} or {shapes[-1]}" if len(shapes) > 1 else shapes[0]
        raise bay.error(role, f"must be {listed}; got {value!r}")
    spec = bay.sub(role, value if isinstance(value, dict) else {})
    settings = reader(spec, resources)
    spec.finish()
    return settings


def _named_by(value: Any) -> Backend | None:
    if isinstance(value, str):
        return next((b for b in BACKENDS if b.word and b.key == value), None)
    if not isinstance(value, dict):
        return None
    tables = [b for b in BACKENDS if not b.word]
    named = [b for b in tables if b.key != TABLE_DEFAULT and b.key in value]
    return named[0] if named else next(b for b in tables if b.key == TABLE_DEFAULT)
