# Line framing of the board protocol (PROTOCOL.md, "Framing"): bytes in, complete lines out.
#
# Pure logic, valid under MicroPython and CPython: no `machine`, no clock. main.py and the
# simulated board (rig/sim/board.py) feed it whatever bytes arrived and hand each complete line
# to rigboard.Board.handle().

# Longest line the board accepts, terminator excluded (PROTOCOL.md: longer -> `ERR 0 LONG`).
MAX_LINE = 80

_LF = 10
_CR = 13


class LineBuffer:
    """Collects bytes until `\\n`; `feed()` returns the complete lines, terminator removed.

    A line longer than MAX_LINE comes out as None (the caller answers `ERR 0 LONG`). The buffer
    never holds more than MAX_LINE + 1 bytes: a host (or line noise) sending bytes without a
    newline cannot make the board run out of memory, the excess is dropped up to the next `\\n`.
    """

    def __init__(self, limit=MAX_LINE):
        self.limit = limit
        self._buf = bytearray()
        self._overflow = False

    def feed(self, data):
        lines = []
        for byte in data:
            if byte == _LF:
                if self._overflow:
                    lines.append(None)
                else:
                    line = bytes(self._buf)
                    # The board accepts `\r\n` too: the `\r` is the terminator's, not the line's.
                    if line and line[-1] == _CR:
                        line = line[:-1]
                    lines.append(None if len(line) > self.limit else line)
                # A new bytearray rather than clearing: MicroPython's bytearray has no clear()
                # and no slice deletion.
                self._buf = bytearray()
                self._overflow = False
            elif not self._overflow:
                # Room for `limit` bytes plus the `\r` of a `\r\n`; one more and it is too long.
                if len(self._buf) > self.limit:
                    self._overflow = True
                    self._buf = bytearray()
                else:
                    self._buf.append(byte)
        return lines

    def pending(self):
        """Bytes of an incomplete line waiting for its `\\n` (0 while dropping an overflow)."""
        return len(self._buf)
