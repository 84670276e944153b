"""The bench password the QA pass activates units with.

From `RIG_BENCH_PASSWORD` or one prompt on the terminal; never a flag (shell history, `ps`),
never the config (a file that is copied around). It lives in a `Password` (its repr hides it)
and leaves the process only encrypted in the activation request and inside digest hashes.

Hikvision refuses a weak activation password ("Risk password"): 8 to 16 characters, at least
two kinds of digits, lower case, upper case and symbols. The rig says so before anything moves
rather than after a unit has been reset.
"""

from __future__ import annotations

import getpass
import os
import string
import sys

from rig.errors import UsageError
from rig.software.targets import Password

BENCH_PASSWORD_ENV = "RIG_BENCH_PASSWORD"
_KINDS = (string.digits, string.ascii_lowercase, string.ascii_uppercase)


def weakness(value: str) -> str | None:
    """Why a camera would refuse this activation password, or None."""
    if not 8 <= len(value) <= 16:
        return f"must be 8–16 characters, it has {len(value)}"
    if not value.isascii() or not value.isprintable():
        return "must be printable ASCII"
    kinds = sum(any(c in kind for c in value) for kind in _KINDS)
    kinds += any(not c.isalnum() for c in value)
    if kinds < 2:
        return "needs two kinds of digits, lower case, upper case and symbols"
    return None


def _stdin_is_tty() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def bench_password() -> Password:
    """RIG_BENCH_PASSWORD, else one prompt; a weak or missing one is a usage error."""
    value = os.environ.get(BENCH_PASSWORD_ENV)
    where = BENCH_PASSWORD_ENV
    if not value:
        if not _stdin_is_tty():
            raise UsageError(
                f"the QA pass needs a bench password: set {BENCH_PASSWORD_ENV} or run on a "
                "terminal to be asked (never on the command line)"
            )
        try:
            value = getpass.getpass("bench password to activate units with (not shown): ")
        except EOFError:
            value = ""
        where = "the bench password"
        if not value:
            raise UsageError("no bench password given")
    problem = weakness(value)
    if problem is not None:
        raise UsageError(f"{where}: a camera would refuse it as a risk password: {problem}")
    return Password(value)
