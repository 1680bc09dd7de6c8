# SPDX-License-Identifier: MIT
"""`Digits`: deterministic numbers and text drawn from a SHAKE-256 stream.

The fake derives every value from one of these, seeded by what identifies
the thing (an image URL and a rank, a product id and a marketplace), so its
answers never change between runs, processes or machines.
"""

from __future__ import annotations

import hashlib

__all__ = ["Digits"]


class Digits:
    """Successive integers drawn from one SHAKE-256 stream (one hash per 32 draws).

    Args:
        *parts: What the stream is seeded by; equal parts give equal streams.
    """

    _SIZE = 256

    def __init__(self, *parts: str) -> None:
        self._stream = hashlib.shake_256("\x1f".join(parts).encode()).digest(self._SIZE)
        self._offset = 0

    def _take(self, size: int) -> bytes:
        if self._offset + size > self._SIZE:
            self._stream = hashlib.shake_256(self._stream).digest(self._SIZE)
            self._offset = 0
        chunk = self._stream[self._offset : self._offset + size]
        self._offset += size
        return chunk

    def next(self, modulo: int) -> int:
        """Return the next integer in `[0, modulo)`.

        Args:
            modulo: The bound (positive).

        Returns:
            The integer.
        """
        return int.from_bytes(self._take(8), "big") % modulo

    def text(self, alphabet: str, length: int) -> str:
        """Return the next `length` characters drawn from `alphabet`.

        Args:
            alphabet: The characters to draw from.
            length: How many (at most 256).

        Returns:
            The text.
        """
        return "".join(alphabet[byte % len(alphabet)] for byte in self._take(length))
