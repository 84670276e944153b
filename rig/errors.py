"""Errors of the rig, each a RigError and the matching built-in, as gpiozero does.

Every message is one line that names what was wrong, so the CLI can print it as it is.
"""

from __future__ import annotations


class RigError(Exception):
    """Base of every error the rig raises on purpose."""


class ConfigError(RigError, ValueError):
    """The config (or a command-line value) is wrong; the message names the file and key."""


class SafetyLimitError(RigError, ValueError):
    """A request would break a safety limit (a press over 60 s, for instance)."""


class CooldownError(RigError):
    """The solenoid must rest longer before it may press again."""

    def __init__(self, message: str, remaining_s: float) -> None:
        super().__init__(message)
        self.remaining_s = remaining_s


class HardwareFault(RigError):
    """An actuator or the board failed; the job ends `hardware_fault`."""


class NetworkError(RigError, OSError):
    """A network exchange failed (timeout, refused, too large)."""


class ParseError(RigError, ValueError):
    """Bytes from the wire could not be read as what they claimed to be."""


class Aborted(RigError):
    """The operator or a signal stopped the job; the job ends `aborted`."""


class UnitNotIdentified(RigError):
    """Nothing proves which unit is in the bay; the job ends `wrong_device` before any move."""


class UsageError(ConfigError):
    """Bad command-line usage, input file or scan (exit 2): one line naming what was wrong."""
