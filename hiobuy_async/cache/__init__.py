# SPDX-License-Identifier: MIT
"""Opt-in response caches: a client given one serves repeated reads without a request.

[`MemoryCache`][hiobuy_async.cache.MemoryCache] holds entries in the process
(LRU, bounded); [`SQLiteCache`][hiobuy_async.cache.SQLiteCache] in a file
shared by processes; [`RedisCache`][hiobuy_async.cache.RedisCache] (extra
`hiobuy-async[redis]`) in Redis, shared by machines. All three implement
[`Cache`][hiobuy_async.cache.Cache]. Keys hold the merchant only as a keyed
hash, never the uuid; only successful answers are stored; a damaged entry or
a store that is down is a miss, never an error.
"""

from __future__ import annotations

from ._memory import MemoryCache
from ._protocol import Cache, CacheEntry, CacheStats
from ._record import DEFAULT_TTL, SCHEMA_VERSION
from ._redis import RedisCache
from ._sqlite import SQLiteCache

__all__ = [
    "DEFAULT_TTL",
    "SCHEMA_VERSION",
    "Cache",
    "CacheEntry",
    "CacheStats",
    "MemoryCache",
    "RedisCache",
    "SQLiteCache",
]
