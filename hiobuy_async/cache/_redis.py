# SPDX-License-Identifier: MIT
"""`RedisCache`: a response cache in Redis, shared by every process and machine that uses it.

The same client library as the shared quota (`coredis` 6, the `redis` extra):
built on anyio, so one client works under asyncio and trio. coredis ties its
connections to a task group, so a `RedisCache` is opened with `async with`.

An entry is one Redis string, `{prefix}:{key}`, holding a record (header,
then the data) and expiring with the entry (`PX`); the cache's `clock` is
checked too, so an entry is never served past its TTL whatever the servers'
clocks say. A value that is not an intact record (another type, truncated,
another schema version) is a miss and is deleted. When Redis does not answer
within `timeout`, calls go on uncached, one warning is logged, and Redis is
tried again every `retry_interval` seconds.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

from .._coredis import import_coredis, round_trip
from .._exceptions import InputError
from ._protocol import CacheEntry, CacheStats
from ._record import (
    DEFAULT_MAX_ENTRY_BYTES,
    DEFAULT_TTL,
    Clock,
    Outage,
    check_clock,
    check_max,
    lifetime,
    new_entry,
    pack,
    ttl_seconds,
    unpack_live,
)

if TYPE_CHECKING:
    import coredis

__all__ = ["RedisCache"]

T = TypeVar("T")


class RedisCache:
    """A response cache in Redis, shared by every process that uses the same `prefix`.

    Open it with `async with` (it connects lazily and never fails because
    Redis does not answer). Requires the extra `hiobuy-async[redis]`. Keys
    hold no uuid (they are keyed hashes); values hold the answers' `data`.

    Args:
        url: The Redis URL, e.g. `"redis://127.0.0.1:6379/0"` (never logged:
            it may hold a password).
        ttl: How long an entry is served, in seconds or a `timedelta` (24 h
            by default).
        clock: Returns the time in seconds since the epoch (`time.time` by
            default); tests pass their own to expire entries without sleeping.
        prefix: The start of every key, `{prefix}:{key}`.
        max_entry_bytes: The largest entry stored (256 KiB by default, the
            client's default `max_response_bytes`).
        timeout: The longest wait for one Redis round trip, in seconds.
        retry_interval: Seconds Redis is left alone after it failed.

    Raises:
        InputError: If an argument is invalid.
        ImportError: If `coredis` (the `redis` extra) is not installed.

    Example:
        ```python
        async with RedisCache("redis://127.0.0.1:6379/0", ttl=timedelta(hours=6)) as cache:
            async with AsyncHiobuy(cache=cache) as client:
                ...
        ```
    """

    def __init__(
        self,
        url: str,
        *,
        ttl: float | timedelta = DEFAULT_TTL,
        clock: Clock | None = None,
        prefix: str = "hiobuy:cache",
        max_entry_bytes: int = DEFAULT_MAX_ENTRY_BYTES,
        timeout: float = 0.25,
        retry_interval: float = 1.0,
    ) -> None:
        if not isinstance(url, str) or not url:
            raise InputError("url must be a Redis URL")
        if not isinstance(prefix, str) or not prefix:
            raise InputError(f"prefix must be a non-empty string, got {prefix!r}")
        self.ttl = ttl_seconds("ttl", ttl)
        self.max_entry_bytes = check_max("max_entry_bytes", max_entry_bytes)
        self.prefix = prefix
        self._timeout = ttl_seconds("timeout", timeout)
        self._clock = check_clock(clock)
        self._outage = Outage(
            f"Redis cache {prefix!r}", ttl_seconds("retry_interval", retry_interval)
        )
        self._coredis = import_coredis("RedisCache")
        self._url = url
        self._client: coredis.Redis[bytes] | None = None
        self._stack: AsyncExitStack | None = None
        self._closed = False

    @property
    def available(self) -> bool:
        """False from a failure of the store until it works again (calls meanwhile go uncached)."""
        return not self._outage.down

    def __repr__(self) -> str:
        return f"RedisCache(prefix={self.prefix!r}, ttl={self.ttl!r})"

    async def __aenter__(self) -> RedisCache:
        if self._stack is not None or self._closed:
            raise RuntimeError("a RedisCache can be opened only once")
        client = self._coredis.Redis.from_url(self._url, decode_responses=False)
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(client)
            self._client = client
            self._stack = stack.pop_all()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.__aexit__(exc_type, exc, tb)

    async def aclose(self) -> None:
        """Close the Redis connections (idempotent); later calls raise `RuntimeError`.

        Leaving the `async with` block calls it.
        """
        if self._closed:
            return
        self._closed = True
        if self._client is not None:
            self._client.connection_pool.disconnect()

    def _redis(self) -> coredis.Redis[bytes]:
        if self._closed:
            raise RuntimeError("this RedisCache is closed")
        if self._client is None:
            raise RuntimeError("open the RedisCache first: `async with RedisCache(...) as cache:`")
        return self._client

    async def _call(self, request: Callable[[], Awaitable[T]]) -> T | None:
        """One Redis exchange bounded by `timeout`; `None` when Redis did not answer."""
        if self._outage.skip():
            return None
        answered, result, failure = await round_trip(request, self._timeout)
        if answered:
            self._outage.succeeded()
            return result
        self._outage.failed(failure)
        return None

    async def get(self, key: str) -> CacheEntry | None:
        """Return the live entry under `key`, or `None`; a damaged or expired one is deleted.

        Args:
            key: The entry's key.

        Returns:
            The entry, or `None` (also when Redis does not answer).
        """
        redis = self._redis()
        name = f"{self.prefix}:{key}"
        now = self._clock()
        import coredis.exceptions  # noqa: PLC0415 - loaded by import_coredis already

        async def read() -> CacheEntry | None:
            try:
                record = await redis.get(name)
            except coredis.exceptions.WrongTypeError:
                record = b""  # another type under our key: damaged
            if record is None:
                return None
            entry = unpack_live(record, now)
            if entry is None:
                await redis.delete([name])
                return None
            return entry

        return await self._call(read)

    async def set(self, key: str, data: bytes, *, ttl: float | None = None) -> None:
        """Store `data` under `key` (not stored over `max_entry_bytes`).

        Args:
            key: The entry's key.
            data: The JSON bytes to store.
            ttl: Seconds the entry is served, or `None` for the cache's `ttl`.
        """
        redis = self._redis()
        if len(data) > self.max_entry_bytes:
            return
        now = self._clock()
        seconds = lifetime(self.ttl, ttl)
        record = pack(new_entry(data, now, seconds))
        milliseconds = max(1, math.ceil(seconds * 1000))
        await self._call(lambda: redis.set(f"{self.prefix}:{key}", record, px=milliseconds))

    async def delete(self, key: str) -> None:
        """Drop the entry under `key`, if any.

        Args:
            key: The entry's key.
        """
        redis = self._redis()
        await self._call(lambda: redis.delete([f"{self.prefix}:{key}"]))

    async def _names(self) -> list[bytes]:
        redis = self._redis()
        return [name async for name in redis.scan_iter(match=f"{self.prefix}:*", count=1000)]

    async def clear(self) -> None:
        """Drop every entry under this cache's `prefix` (for every process using it)."""
        redis = self._redis()

        async def clear() -> None:
            names = await self._names()
            for start in range(0, len(names), 1000):
                await redis.delete(names[start : start + 1000])

        await self._call(clear)

    async def stats(self) -> CacheStats:
        """Count the entries under this cache's `prefix`.

        Returns:
            The entries and their size as stored; zeros when Redis does not answer.
        """
        redis = self._redis()

        async def count() -> CacheStats:
            names = await self._names()
            size = 0
            for name in names:
                size += int(await redis.strlen(name))
            return CacheStats(entries=len(names), data_bytes=size)

        return await self._call(count) or CacheStats(entries=0, data_bytes=0)
