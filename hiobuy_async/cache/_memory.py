# SPDX-License-Identifier: MIT
"""`MemoryCache`: a bounded LRU cache in the process."""

from __future__ import annotations

from collections import OrderedDict
from datetime import timedelta

from ._protocol import CacheEntry, CacheStats
from ._record import (
    DEFAULT_MAX_ENTRY_BYTES,
    DEFAULT_TTL,
    Clock,
    check_clock,
    check_max,
    lifetime,
    new_entry,
    ttl_seconds,
)

__all__ = ["MemoryCache"]


class MemoryCache:
    """A response cache in this process: at most `max_entries`, least recently used dropped first.

    Nothing is shared with other processes or kept after the process ends.
    Works on asyncio and trio; every method returns without waiting.

    Args:
        max_entries: The most entries held (an int >= 1); storing one more
            drops the least recently used.
        ttl: How long an entry is served, in seconds or a `timedelta` (24 h
            by default).
        clock: Returns the time in seconds since the epoch (`time.time` by
            default); tests pass their own to expire entries without sleeping.
        max_entry_bytes: The largest entry stored (256 KiB by default, the
            client's default `max_response_bytes`).

    Raises:
        InputError: If an argument is invalid.

    Example:
        ```python
        client = AsyncHiobuy(cache=MemoryCache(max_entries=10_000, ttl=timedelta(hours=1)))
        ```
    """

    def __init__(
        self,
        *,
        max_entries: int = 1024,
        ttl: float | timedelta = DEFAULT_TTL,
        clock: Clock | None = None,
        max_entry_bytes: int = DEFAULT_MAX_ENTRY_BYTES,
    ) -> None:
        self.max_entries = check_max("max_entries", max_entries)
        self.ttl = ttl_seconds("ttl", ttl)
        self.max_entry_bytes = check_max("max_entry_bytes", max_entry_bytes)
        self._clock = check_clock(clock)
        self._entries: OrderedDict[str, CacheEntry] = OrderedDict()

    def __repr__(self) -> str:
        return f"MemoryCache(entries={len(self._entries)}, max_entries={self.max_entries})"

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> CacheEntry | None:
        """Return the live entry under `key`, or `None`; an expired one is dropped.

        Args:
            key: The entry's key.

        Returns:
            The entry, or `None`.
        """
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires_at <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry

    async def set(self, key: str, data: bytes, *, ttl: float | None = None) -> None:
        """Store `data` under `key` (not stored over `max_entry_bytes`).

        Args:
            key: The entry's key.
            data: The JSON bytes to store.
            ttl: Seconds the entry is served, or `None` for the cache's `ttl`.
        """
        if len(data) > self.max_entry_bytes:
            return
        now = self._clock()
        self._entries[key] = new_entry(data, now, lifetime(self.ttl, ttl))
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def delete(self, key: str) -> None:
        """Drop the entry under `key`, if any.

        Args:
            key: The entry's key.
        """
        self._entries.pop(key, None)

    async def clear(self) -> None:
        """Drop every entry."""
        self._entries.clear()

    async def stats(self) -> CacheStats:
        """Count what the cache holds.

        Returns:
            The entries (expired ones not dropped yet included) and their size.
        """
        size = sum(len(entry.data) for entry in self._entries.values())
        return CacheStats(entries=len(self._entries), data_bytes=size)

    async def aclose(self) -> None:
        """Do nothing: there is nothing to release (the entries stay)."""
