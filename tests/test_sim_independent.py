"""The simulated camera must not import the rig it tests.

rig/sim/camera/ is the oracle the rig's network checks are judged against: if it borrowed the
rig's parsers, constants or version rules, a bug in those would be agreed with, not caught. So
no module of the package may import `rig` (or reach it by a relative import that climbs out of
the package, or by importlib). Imports within the package are fine.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "rig" / "sim" / "camera"
PACKAGE_NAME = "rig.sim.camera"


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _package_of(path: Path) -> list[str]:
    """The dotted package a module lives in, as a list: rig/sim/camera/x.py -> rig.sim.camera."""
    relative = path.relative_to(PACKAGE).parent.parts
    return [*PACKAGE_NAME.split("."), *relative]


def _is_rig(name: str) -> bool:
    return name == "rig" or name.startswith("rig.")


def _inside(name: str) -> bool:
    return name == PACKAGE_NAME or name.startswith(PACKAGE_NAME + ".")


def rig_imports(source: str, package: list[str]) -> list[str]:
    """What a module's source imports from `rig` outside the camera package (empty: nothing)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if _is_rig(alias.name)]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                if node.module is not None and _is_rig(node.module):
                    found.append(node.module)
                continue
            if node.level > len(package):
                found.append("." * node.level + (node.module or ""))
                continue
            base = package[: len(package) - node.level + 1]
            target = ".".join([*base, node.module] if node.module else base)
            if not _inside(target):
                found.append(f"{'.' * node.level}{node.module or ''} (= {target})")
        elif isinstance(node, ast.Call) and node.args:
            # importlib.import_module("rig...") / __import__("rig...") with a literal name
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if (
                name in ("import_module", "__import__")
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
                and _is_rig(first.value)
            ):
                found.append(first.value)
    return found


def test_the_package_is_there() -> None:
    names = {path.name for path in _modules()}
    assert "__init__.py" in names and len(names) > 1, names


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_rig_imports(path: Path) -> None:
    found = rig_imports(path.read_text(encoding="utf-8"), _package_of(path))
    assert found == [], f"{path.relative_to(PACKAGE.parent)} imports the rig: {found}"


@pytest.mark.parametrize(
    ("source", "bad"),
    [
        ("import rig", True),
        ("import rig.network.sadp as s", True),
        ("import os, rig.config", True),
        ("from rig import errors", True),
        ("from rig.network.version import parse_firmware", True),
        ("from rig.sim.camera.spec import CameraSpec", True),  # absolute, even within
        ("from .. import network", True),  # rig.sim
        ("from ..board import SimBoard", True),
        ("from ... import config", True),
        ("from .... import x", True),  # above the top
        ("import importlib\nimportlib.import_module('rig.config')", True),
        ("__import__('rig')", True),
        ("def f():\n    import rig.errors", True),  # nested imports count too
        ("from . import spec", False),
        ("from .spec import CameraSpec", False),
        ("from .auth import parse_digest", False),
        ("import rigging", False),
        ("from xml.sax.saxutils import escape", False),
        ("log = 'rig.sim'", False),
    ],
)
def test_the_check_itself(source: str, bad: bool) -> None:
    assert bool(rig_imports(source, PACKAGE_NAME.split("."))) is bad
