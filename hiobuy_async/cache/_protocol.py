# SPDX-License-Identifier: MIT
"""The `Cache` protocol and `CacheEntry`: what a client needs of a response cache."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import attrs

__all__ = ["Cache", "CacheEntry", "CacheStats"]


@attrs.frozen
class CacheEntry:
    """One stored answer: the validated `data` of a successful response, as JSON bytes.

    Attributes:
        data: The envelope's `data`, encoded as JSON (UTF-8).
        cached_at: When it was stored, in seconds since the epoch (the cache's clock).
        expires_at: When it stops being served, in seconds since the epoch.
    """

    data: bytes = attrs.field(repr=lambda data: f"<{len(data)} bytes>")
    cached_at: float
    expires_at: float


@attrs.frozen
class CacheStats:
    """What a cache holds.

    Attributes:
        entries: The entries stored (expired ones not dropped yet included).
        data_bytes: Their size in bytes, as stored.
    """

    entries: int
    data_bytes: int


@runtime_checkable
class Cache(Protocol):
    """A response cache a client consults before it sends a read.

    [`MemoryCache`][hiobuy_async.cache.MemoryCache],
    [`SQLiteCache`][hiobuy_async.cache.SQLiteCache] and
    [`RedisCache`][hiobuy_async.cache.RedisCache] implement it. Keys are built
    by the client (they hold no secret); values are opaque bytes. No method
    raises because the store is down, slow or damaged: a read that cannot be
    served is a miss, a write that cannot be made is skipped, and the cache
    logs one warning per outage on the `hiobuy_async` logger.

    Attributes:
        ttl: Seconds an entry is served when `set()` is given no `ttl`.
        max_entry_bytes: The largest `data` stored; a larger one is not stored.
    """

    ttl: float
    max_entry_bytes: int

    async def get(self, key: str) -> CacheEntry | None:
        """Return the live entry under `key`, or `None` (absent, expired, damaged or unreachable).

        A damaged or expired entry is dropped.

        Args:
            key: The entry's key.
        """
        ...

    async def set(self, key: str, data: bytes, *, ttl: float | None = None) -> None:
        """Store `data` under `key` for `ttl` seconds (the cache's `ttl` when `None`).

        `data` over `max_entry_bytes` is not stored.

        Args:
            key: The entry's key.
            data: The JSON bytes to store.
            ttl: Seconds the entry is served (> 0), or `None` for the cache's `ttl`.
        """
        ...

    async def delete(self, key: str) -> None:
        """Drop the entry under `key`, if any.

        Args:
            key: The entry's key.
        """
        ...

    async def clear(self) -> None:
        """Drop every entry of this cache."""
        ...

    async def aclose(self) -> None:
        """Release connections and files, if any (idempotent).

        A client never closes a cache it was given.
        """
        ...
