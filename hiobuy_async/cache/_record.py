# SPDX-License-Identifier: MIT
"""What the caches share: the stored record's format, TTL checks, and the outage warning.

A record is a fixed header then the entry's data:
`magic (4 bytes) | schema version (u16) | cached_at (f64) | expires_at (f64) |
length (u32) | crc32 (u32) | data`. Anything else under a key (truncated,
bit-flipped, another schema version, another type) reads as `None`: a miss.
"""

from __future__ import annotations

import logging
import math
import struct
import time
import zlib
from collections.abc import Callable
from datetime import timedelta

from .._exceptions import InputError
from ._protocol import CacheEntry

__all__ = [
    "DEFAULT_MAX_ENTRY_BYTES",
    "DEFAULT_TTL",
    "SCHEMA_VERSION",
    "Clock",
    "Outage",
    "check_clock",
    "check_max",
    "lifetime",
    "new_entry",
    "pack",
    "ttl_seconds",
    "unpack",
    "unpack_live",
]

logger = logging.getLogger("hiobuy_async")

SCHEMA_VERSION = 1
"""Bumped when what is stored, or how a result is parsed from it, changes: older entries miss."""

DEFAULT_TTL = 24 * 3600.0
"""Seconds an entry is served by default: 24 hours."""

DEFAULT_MAX_ENTRY_BYTES = 256 * 1024
"""The largest entry stored by default: the client's default `max_response_bytes`."""

Clock = Callable[[], float]

_MAGIC = b"HBC\x01"
_HEADER = struct.Struct(">4sHddII")


def ttl_seconds(name: str, value: float | timedelta, *, allow_zero: bool = False) -> float:
    """Check a TTL given as seconds or a `timedelta`.

    Args:
        name: The argument's name, for the error.
        value: Seconds (an int or float) or a `timedelta`.
        allow_zero: Whether `0` (bypass the cache) is allowed.

    Returns:
        The TTL in seconds.

    Raises:
        InputError: If it is not a finite, positive number of seconds (or 0 when allowed).
    """
    seconds: float
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{name} must be seconds or a timedelta, got {value!r}")
    else:
        seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not allow_zero):
        least = ">= 0" if allow_zero else "> 0"
        raise InputError(f"{name} must be finite and {least} seconds, got {value!r}")
    return seconds


def check_max(name: str, value: int) -> int:
    """Check a bound: an int >= 1.

    Args:
        name: The argument's name, for the error.
        value: The bound.

    Returns:
        `value`.

    Raises:
        InputError: If it is not an int >= 1.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name} must be an int >= 1, got {value!r}")
    return value


def check_clock(clock: Clock | None) -> Clock:
    """The clock a cache reads: `clock`, or `time.time` (seconds since the epoch).

    Args:
        clock: A callable returning seconds since the epoch, or `None`.

    Returns:
        The clock.

    Raises:
        InputError: If `clock` is not callable.
    """
    if clock is None:
        return time.time
    if not callable(clock):
        raise InputError(f"clock must be a callable returning seconds, got {clock!r}")
    return clock


def lifetime(cache_ttl: float, ttl: float | None) -> float:
    """Seconds an entry set with `ttl` is served: the cache's `ttl` when `None`, else `ttl` checked.

    Args:
        cache_ttl: The cache's `ttl`.
        ttl: The `ttl` given to `set()`, or `None`.

    Returns:
        The seconds.
    """
    return cache_ttl if ttl is None else ttl_seconds("ttl", ttl)


def new_entry(data: bytes, now: float, lifetime: float) -> CacheEntry:
    """The entry `set()` stores: a copy of `data`, cached at `now`, served for `lifetime` seconds.

    Args:
        data: The JSON bytes.
        now: The cache's clock now.
        lifetime: Seconds it is served.

    Returns:
        The entry.
    """
    return CacheEntry(data=bytes(data), cached_at=now, expires_at=now + lifetime)


def pack(entry: CacheEntry) -> bytes:
    """Encode an entry as a record.

    Args:
        entry: The entry.

    Returns:
        The record's bytes.
    """
    data = entry.data
    header = _HEADER.pack(
        _MAGIC,
        SCHEMA_VERSION,
        entry.cached_at,
        entry.expires_at,
        len(data),
        zlib.crc32(data),
    )
    return header + data


def unpack(record: object) -> CacheEntry | None:
    """Decode a record; `None` for anything that is not an intact record of this schema.

    Args:
        record: What the store returned.

    Returns:
        The entry, or `None`.
    """
    if isinstance(record, (bytearray, memoryview)):
        record = bytes(record)
    if not isinstance(record, bytes) or len(record) < _HEADER.size:
        return None
    magic, schema, cached_at, expires_at, length, crc = _HEADER.unpack_from(record)
    data = record[_HEADER.size :]
    if magic != _MAGIC or schema != SCHEMA_VERSION or len(data) != length:
        return None
    if zlib.crc32(data) != crc or not (math.isfinite(cached_at) and math.isfinite(expires_at)):
        return None
    return CacheEntry(data=data, cached_at=cached_at, expires_at=expires_at)


def unpack_live(record: object, now: float) -> CacheEntry | None:
    """Decode a stored record; `None` when it is damaged or expired at `now` (delete it then).

    Args:
        record: What the store returned (not `None`: a missing key is no record).
        now: The cache's clock now.

    Returns:
        The live entry, or `None`.
    """
    entry = unpack(record)
    if entry is None or entry.expires_at <= now:
        return None
    return entry


class Outage:
    """Whether a store is failing: one warning when it starts, one message when it ends.

    While it is down, `skip()` is True for `retry_interval` seconds after each
    failure, so calls go on uncached without waiting on a dead store each time.

    Args:
        what: How the store is named in the messages (no secret: no URL, no password).
        retry_interval: Seconds between attempts to use the store again.
    """

    def __init__(self, what: str, retry_interval: float) -> None:
        self._what = what
        self._retry_interval = retry_interval
        self._retry_at = -math.inf
        self.down = False

    def skip(self) -> bool:
        """Whether to leave the store alone for now (it failed less than `retry_interval` ago)."""
        return self.down and time.monotonic() < self._retry_at

    def failed(self, error: BaseException | None) -> None:
        """Record a failure; warn if it is the first of an outage.

        Args:
            error: The failure, or `None` for a timeout. Only its class name is
                logged (messages may hold addresses).
        """
        self._retry_at = time.monotonic() + self._retry_interval
        if self.down:
            return
        self.down = True
        reason = type(error).__name__ if error is not None else "no answer in time"
        logger.warning("%s unavailable (%s): calls go on without the cache", self._what, reason)

    def succeeded(self) -> None:
        """Record a success; say so if it ends an outage."""
        if self.down:
            self.down = False
            logger.info("%s available again", self._what)
