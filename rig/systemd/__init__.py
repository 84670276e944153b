"""`rig run` as a service: the systemd unit and the boards' udev rule (package data, beside
this file), and what `rig install-service` does with them.

The unit (`rig.service`) runs `rig run --no-stdin` as a dedicated user, `Type=notify` with a
watchdog (rig.notify); the rule (`99-rig-boards.rules`) keeps ModemManager off the Picos and
names each board (`/dev/rig-board-b1`). `install()` writes the unit with this machine's user
and `rig` command, the rule and (if there is none) `rig.toml` from the example config, under
`/etc` or a staging root, and returns what a technician runs next.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shlex
import sys
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

from rig.config import EXAMPLE_CONFIG
from rig.errors import UsageError

UNIT_NAME = "rig.service"
RULES_NAME = "99-rig-boards.rules"
#: The unit's SupplementaryGroups: the pins (lgpio), the board's tty, the barcode scanner.
GROUPS = ("gpio", "dialout", "input")
DEFAULT_USER = "rig"
DEFAULT_PREFIX = Path("/etc")

_USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}")


def packaged(name: str) -> str:
    """The text of one of the packaged files (`rig.service`, `99-rig-boards.rules`)."""
    return files(__name__).joinpath(name).read_text(encoding="utf-8")


def rig_command() -> str:
    """How systemd starts this rig: the `rig` script beside this interpreter (a venv's
    bin/), else this interpreter with `-m rig`."""
    script = Path(sys.executable).with_name("rig")
    if script.is_file() and os.access(script, os.X_OK):
        return shlex.quote(str(script))
    return f"{shlex.quote(sys.executable)} -m rig"


def render_unit(*, user: str, command: str, config: Path) -> str:
    """The packaged unit with this machine's `User=` and `ExecStart=`."""
    out = []
    for line in packaged(UNIT_NAME).splitlines():
        if line.startswith("User="):
            line = f"User={user}"
        elif line.startswith("ExecStart="):
            line = (
                f"ExecStart={command} run --no-stdin --config {shlex.quote(str(config))}"
                " --data-dir ${STATE_DIRECTORY}"
            )
        out.append(line)
    return "\n".join(out) + "\n"


@dataclass
class Installed:
    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)  # already there: left as they were
    lines: list[str] = field(default_factory=list)  # what to tell the technician, in order


def install(
    *,
    user: str = DEFAULT_USER,
    prefix: Path = DEFAULT_PREFIX,
    root: Path | None = None,
    command: str | None = None,
) -> Installed:
    """Write the unit (always: it is ours; local changes belong in a drop-in), the udev rule
    and `rig.toml` (each only if missing: they hold the technician's edits) under `prefix`
    (`/etc`), inside `root` when staging. Refuses (UsageError) unless root or staging."""
    if not _USER.fullmatch(user):
        raise UsageError(f"--user: {user!r} is not a user name")
    if not prefix.is_absolute():
        raise UsageError(f"--prefix: {prefix} is not an absolute path")
    if root is None and os.geteuid() != 0:
        raise UsageError(
            f"install-service writes to {prefix}: run it as root "
            f"(sudo {rig_command()} install-service), or stage it with --root DIR"
        )
    base = Path("/") if root is None else root
    config = prefix / "rig" / "rig.toml"  # as the installed system sees it

    def staged(path: Path) -> Path:
        return base / path.relative_to("/")

    done = Installed()
    files_ = [
        (
            staged(prefix / "systemd" / "system" / UNIT_NAME),
            render_unit(user=user, command=command or rig_command(), config=config),
            True,
        ),
        (staged(prefix / "udev" / "rules.d" / RULES_NAME), packaged(RULES_NAME), False),
        (staged(config), EXAMPLE_CONFIG, False),
    ]
    for path, text, replace in files_:
        if path.exists() and not replace:
            done.kept.append(path)
            done.lines.append(f"kept {path} (already there)")
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        path.chmod(0o644)
        done.written.append(path)
        done.lines.append(f"wrote {path}")
    done.lines += _next_steps(user, config)
    return done


def _next_steps(user: str, config: Path) -> list[str]:
    lines = ["", "next:"]
    try:
        pwd.getpwnam(user)
    except KeyError:
        lines.append(
            f"  sudo useradd --system --no-create-home --home-dir /var/lib/rig "
            f"--shell /usr/sbin/nologin {user}"
        )
    for group in GROUPS:
        try:
            grp.getgrnam(group)
        except KeyError:
            lines.append(
                f"  (no group {group!r} on this machine: remove it from SupplementaryGroups with "
                "`sudo systemctl edit rig`, or the service will not start)"
            )
    lines += [
        f'  edit {config}: the bays, [boards.NAME] port = "/dev/rig-board-b1", and '
        '[station] scanner = "/dev/input/by-id/...-event-kbd"',
        "  edit the udev rule: each board's serial (ls -l /dev/serial/by-id/), then",
        "  sudo udevadm control --reload && sudo udevadm trigger",
        "  sudo systemctl daemon-reload && sudo systemctl enable --now rig",
        "  journalctl -u rig -f",
    ]
    return lines


__all__ = ["GROUPS", "RULES_NAME", "UNIT_NAME", "Installed", "install", "packaged", "render_unit"]
