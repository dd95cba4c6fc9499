"""Splitting a serial byte stream into lines, each capped, resyncing at the next ``\\n`` after an overlong one."""

from __future__ import annotations

LINE_CAP = 1100  # a frame is at most 1024 bytes; anything longer is kept (cut) as a console line


class LineSplitter:
    """Feed bytes, get complete lines (without their ``\\n``; a ``\\r`` before it stays).

    A line longer than ``cap`` is returned cut to ``cap`` bytes (the frame parser refuses it as too long) and
    the rest of it, up to the next ``\\n``, is dropped.
    """

    def __init__(self, cap: int = LINE_CAP):
        self.cap = cap
        self._partial = b""
        self._dropping = False

    def reset(self) -> None:
        """Forget a partial line (the port was closed: what follows is a new stream)."""
        self._partial = b""
        self._dropping = False

    def feed(self, data: bytes) -> list[bytes]:
        pieces = data.split(b"\n")
        tail = pieces.pop()  # after the last newline: an unfinished line (maybe empty)
        lines: list[bytes] = []
        for piece in pieces:
            if self._dropping:  # the rest of an overlong line: resync here
                self._dropping = False
                continue
            if self._partial:
                piece, self._partial = self._partial + piece, b""
            lines.append(piece[: self.cap])
        if self._dropping:
            return lines
        if self._partial:
            tail, self._partial = self._partial + tail, b""
        if len(tail) > self.cap:
            lines.append(tail[: self.cap])
            self._dropping = True
        else:
            self._partial = tail
        return lines
