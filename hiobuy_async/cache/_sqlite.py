# SPDX-License-Identifier: MIT
"""`SQLiteCache`: a response cache in one SQLite file, shared by every process that opens it.

Stdlib `sqlite3` run in anyio worker threads, so it works on asyncio and trio
alike (`aiosqlite` is asyncio-only) and needs no extra. The file is in WAL
mode (readers never wait for a writer) with a busy timeout (writers of other
processes queue for it); one connection per `SQLiteCache`, used by one worker
thread at a time. A statement that is running when its caller is cancelled
finishes first (at most the busy timeout), then the cancellation is honoured.

Every failure of the file (locked past the timeout, damaged on disk, not a
database, unwritable) makes the call a miss, or skips the write, with one
warning per outage; the file is not used again for `retry_interval` seconds
after a failure. A damaged record is a miss and is deleted.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import TypeVar

import anyio
import anyio.lowlevel
import anyio.to_thread

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

__all__ = ["SQLiteCache"]

T = TypeVar("T")

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS hiobuy_cache (key TEXT PRIMARY KEY, cached_at REAL NOT NULL, "
    "expires_at REAL NOT NULL, record BLOB NOT NULL)",
    "CREATE INDEX IF NOT EXISTS hiobuy_cache_expires ON hiobuy_cache (expires_at)",
    "CREATE INDEX IF NOT EXISTS hiobuy_cache_cached ON hiobuy_cache (cached_at)",
)


class SQLiteCache:
    """A response cache in a SQLite file, shared by the processes (asyncio or trio) that open it.

    Entries outlive the process: a crawler that runs again tomorrow with the
    same file sends only what it has not asked within `ttl`. The file holds
    no uuid (keys are keyed hashes) but does hold the answers: keep it where
    the merchant's data may be kept. Past `max_entries`, the oldest entries
    are dropped at the next write.

    Opening is lazy (the first call opens the file); `async with` or
    `aclose()` closes it.

    Args:
        path: The SQLite file (created if missing, with its directory's
            permissions), e.g. `"hiobuy-cache.db"`.
        ttl: How long an entry is served, in seconds or a `timedelta` (24 h
            by default).
        clock: Returns the time in seconds since the epoch (`time.time` by
            default); tests pass their own to expire entries without sleeping.
        max_entries: The most entries kept in the file (an int >= 1).
        max_entry_bytes: The largest entry stored (256 KiB by default, the
            client's default `max_response_bytes`).
        timeout: Seconds a call waits for another process's write lock
            before it goes on without the cache.
        retry_interval: Seconds the file is left alone after it failed.

    Raises:
        InputError: If an argument is invalid.

    Example:
        ```python
        async with SQLiteCache("hiobuy-cache.db", ttl=timedelta(days=1)) as cache:
            async with AsyncHiobuy(cache=cache) as client:
                ...
        ```
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        ttl: float | timedelta = DEFAULT_TTL,
        clock: Clock | None = None,
        max_entries: int = 1_000_000,
        max_entry_bytes: int = DEFAULT_MAX_ENTRY_BYTES,
        timeout: float = 1.0,
        retry_interval: float = 1.0,
    ) -> None:
        self.path = Path(path)
        self.ttl = ttl_seconds("ttl", ttl)
        self.max_entries = check_max("max_entries", max_entries)
        self.max_entry_bytes = check_max("max_entry_bytes", max_entry_bytes)
        self._timeout = ttl_seconds("timeout", timeout)
        self._clock = check_clock(clock)
        self._outage = Outage(
            f"SQLite cache {self.path.name!r}", ttl_seconds("retry_interval", retry_interval)
        )
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        # One worker thread at a time on the connection, per event loop (a
        # limiter belongs to the loop that first used it).
        self._limiter: tuple[object, anyio.CapacityLimiter] | None = None
        self._closed = False

    @property
    def available(self) -> bool:
        """False from a failure of the store until it works again (calls meanwhile go uncached)."""
        return not self._outage.down

    def __repr__(self) -> str:
        return f"SQLiteCache({str(self.path)!r}, ttl={self.ttl!r})"

    async def __aenter__(self) -> SQLiteCache:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False
        )
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            for statement in _SCHEMA:
                connection.execute(statement)
        except BaseException:
            connection.close()
            raise
        return connection

    def _loop_limiter(self) -> anyio.CapacityLimiter:
        token = anyio.lowlevel.current_token()
        if self._limiter is None or self._limiter[0] != token:
            self._limiter = (token, anyio.CapacityLimiter(1))
        return self._limiter[1]

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T | None:
        """Run `work` on the connection in a worker thread; `None` when the file failed."""
        if self._closed:
            raise RuntimeError("this SQLiteCache is closed")
        if self._outage.skip():
            return None

        def locked() -> T:
            with self._lock:
                if self._connection is None:
                    self._connection = self._connect()
                return work(self._connection)

        try:
            result = await anyio.to_thread.run_sync(locked, limiter=self._loop_limiter())
        except (sqlite3.Error, OSError) as error:
            self._outage.failed(error)
            return None
        self._outage.succeeded()
        return result

    async def get(self, key: str) -> CacheEntry | None:
        """Return the live entry under `key`, or `None`; an expired or damaged one is deleted.

        Args:
            key: The entry's key.

        Returns:
            The entry, or `None` (also when the file cannot be read).
        """
        now = self._clock()

        def work(connection: sqlite3.Connection) -> CacheEntry | None:
            row = connection.execute(
                "SELECT record FROM hiobuy_cache WHERE key = ?", (key,)
            ).fetchone()
            if row is None:
                return None
            entry = unpack_live(row[0], now)
            if entry is None:
                connection.execute("DELETE FROM hiobuy_cache WHERE key = ?", (key,))
                return None
            return entry

        return await self._run(work)

    async def set(self, key: str, data: bytes, *, ttl: float | None = None) -> None:
        """Store `data` under `key` (not over `max_entry_bytes`); drop the oldest past the bound.

        Args:
            key: The entry's key.
            data: The JSON bytes to store.
            ttl: Seconds the entry is served, or `None` for the cache's `ttl`.
        """
        if len(data) > self.max_entry_bytes:
            return
        now = self._clock()
        entry = new_entry(data, now, lifetime(self.ttl, ttl))
        record = pack(entry)

        def work(connection: sqlite3.Connection) -> None:
            with connection:  # one transaction: the insert and the pruning
                connection.execute("BEGIN IMMEDIATE")
                connection.execute(
                    "INSERT OR REPLACE INTO hiobuy_cache (key, cached_at, expires_at, record) "
                    "VALUES (?, ?, ?, ?)",
                    (key, entry.cached_at, entry.expires_at, record),
                )
                connection.execute("DELETE FROM hiobuy_cache WHERE expires_at <= ?", (now,))
                (count,) = connection.execute("SELECT count(*) FROM hiobuy_cache").fetchone()
                if count > self.max_entries:
                    connection.execute(
                        "DELETE FROM hiobuy_cache WHERE key IN "
                        "(SELECT key FROM hiobuy_cache ORDER BY cached_at LIMIT ?)",
                        (count - self.max_entries,),
                    )

        await self._run(work)

    async def delete(self, key: str) -> None:
        """Drop the entry under `key`, if any.

        Args:
            key: The entry's key.
        """
        await self._run(lambda c: c.execute("DELETE FROM hiobuy_cache WHERE key = ?", (key,)))

    async def clear(self) -> None:
        """Drop every entry (for every process using the file)."""
        await self._run(lambda c: c.execute("DELETE FROM hiobuy_cache"))

    async def stats(self) -> CacheStats:
        """Count what the file holds.

        Returns:
            The entries (expired ones not yet dropped included) and their size;
            zeros when the file cannot be read.
        """

        def work(connection: sqlite3.Connection) -> CacheStats:
            entries, size = connection.execute(
                "SELECT count(*), coalesce(sum(length(record)), 0) FROM hiobuy_cache"
            ).fetchone()
            return CacheStats(entries=int(entries), data_bytes=int(size))

        return await self._run(work) or CacheStats(entries=0, data_bytes=0)

    async def aclose(self) -> None:
        """Close the file (idempotent); later calls raise `RuntimeError`."""
        if self._closed:
            return
        self._closed = True

        def close() -> None:
            with self._lock:
                connection, self._connection = self._connection, None
                if connection is not None:
                    connection.close()

        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(close, limiter=self._loop_limiter())
