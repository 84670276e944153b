"""The person at the bench: prompts go to stderr, answers come from stdin.

Manual backends and the manual verifier talk to an `Operator`, so tests hand them a scripted
one and the CLI a terminal one.
"""

from __future__ import annotations

import sys
from typing import Protocol, TextIO

from rig.errors import Aborted


class Operator(Protocol):
    def tell(self, message: str) -> None: ...

    def wait_enter(self, message: str) -> None:
        """Show `message` and wait until the operator presses Enter."""

    def confirm(self, question: str) -> bool:
        """Ask a yes/no question."""


class TerminalOperator:
    def __init__(self, stdin: TextIO | None = None, stderr: TextIO | None = None) -> None:
        self._in = stdin or sys.stdin
        self._err = stderr or sys.stderr

    def tell(self, message: str) -> None:
        print(message, file=self._err, flush=True)

    def _readline(self) -> str:
        line = self._in.readline()
        if not line:  # end of input: nobody is there to answer
            raise Aborted("no operator input (stdin closed)")
        return line.strip()

    def wait_enter(self, message: str) -> None:
        print(f"{message} [Enter] ", end="", file=self._err, flush=True)
        self._readline()

    def confirm(self, question: str) -> bool:
        while True:
            print(f"{question} [y/n] ", end="", file=self._err, flush=True)
            answer = self._readline().lower()
            if answer in ("y", "yes"):
                return True
            if answer in ("n", "no"):
                return False
