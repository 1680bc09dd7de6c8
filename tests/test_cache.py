"""The response caches on their own: keys, records, MemoryCache and SQLiteCache (real files)."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from helpers import MakeCache

from hiobuy_async import InputError
from hiobuy_async.cache import Cache, CacheEntry, MemoryCache, SQLiteCache
from hiobuy_async.cache._key import cache_key, merchant_namespace
from hiobuy_async.cache._record import SCHEMA_VERSION, pack, unpack

ROOT = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).resolve().with_name("cache_worker.py")

CANARY_UUID = "5f0c2d1e-canary-4b7a-9d3e-7c1a2b3c4d5e"
BASE_URL = "https://open.hiobuy.com"


class Clock:
    """A settable clock: seconds since the epoch."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def key_for(uuid: str = CANARY_UUID, *, language: str = "en_US", image: str = "a") -> str:
    return cache_key(
        namespace=merchant_namespace(uuid, BASE_URL),
        endpoint="image_search",
        method="POST",
        path="/api/search/image",
        json_body={"img_url": f"https://img.example/{image}.jpg", "platform": "1688"},
        language=language,
    )


# --- keys and records ------------------------------------------------------------------------


def test_cache_keys_separate_merchants_locales_currencies_and_requests() -> None:
    keys = {
        key_for("uuid-one", language="en_US"),
        key_for("uuid-one", language="zh_CN"),
        key_for("uuid-two", language="en_US"),
        key_for("uuid-two", language="zh_CN"),
        key_for("uuid-one", language="en_US", image="b"),
    }
    assert len(keys) == 5
    namespace = merchant_namespace("uuid-one", BASE_URL)
    common: dict[str, Any] = {
        "namespace": namespace,
        "endpoint": "preview_order",
        "method": "POST",
        "path": "/p",
    }
    assert cache_key(**common, currency="USD") != cache_key(**common, currency="EUR")
    # Filters in the order sent: another order is another request.
    assert cache_key(**common, params={"a": "1", "b": "2"}) != cache_key(
        **common, params={"b": "2", "a": "1"}
    )
    # The same server behind another base URL is another namespace.
    assert merchant_namespace("uuid-one", "https://sandbox.example") != namespace
    assert key_for() == key_for()
    assert key_for().startswith(f"v{SCHEMA_VERSION}:")


def test_cache_keys_never_hold_the_uuid() -> None:
    key = key_for(CANARY_UUID)
    for part in [CANARY_UUID, *(p for p in CANARY_UUID.split("-") if len(p) >= 6)]:
        assert part not in key


def test_a_record_that_is_truncated_flipped_or_of_another_schema_reads_as_nothing() -> None:
    entry = CacheEntry(data=b'{"items": []}', cached_at=1.0, expires_at=2.0)
    record = pack(entry)
    assert unpack(record) == entry
    flipped = bytearray(record)
    flipped[-3] ^= 0x01
    other_schema = record[:4] + (SCHEMA_VERSION + 1).to_bytes(2, "big") + record[6:]
    for damaged in [record[:-1], record[:10], b"", bytes(flipped), other_schema, "text", 42, None]:
        assert unpack(damaged) is None


def test_caches_refuse_bad_arguments(tmp_path: Path) -> None:
    for bad in [0, -1, float("nan"), float("inf"), "1h", True, timedelta(0)]:
        with pytest.raises(InputError):
            MemoryCache(ttl=bad)  # type: ignore[arg-type]
        with pytest.raises(InputError):
            SQLiteCache(tmp_path / "c.db", ttl=bad)  # type: ignore[arg-type]
    for bad_bound in [0, -5, 1.5, True]:
        with pytest.raises(InputError):
            MemoryCache(max_entries=bad_bound)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        MemoryCache(clock=3.0)  # type: ignore[arg-type]
    assert MemoryCache(ttl=timedelta(hours=2)).ttl == 7200.0
    assert MemoryCache().ttl == 24 * 3600.0


# --- the contract, on memory and SQLite ------------------------------------------------------


@pytest.mark.anyio
async def test_cache_entries_expire_on_the_cache_clock(make_cache: MakeCache) -> None:
    clock = Clock()
    cache = make_cache(ttl=60, clock=clock)
    assert isinstance(cache, Cache)
    await cache.set("k", b'{"a": 1}')
    await cache.set("short", b"{}", ttl=5)
    entry = await cache.get("k")
    assert entry == CacheEntry(data=b'{"a": 1}', cached_at=clock.now, expires_at=clock.now + 60)
    clock.now += 5
    assert await cache.get("short") is None
    clock.now += 54.9
    assert await cache.get("k") is not None
    clock.now += 0.1
    assert await cache.get("k") is None
    await cache.aclose()


@pytest.mark.anyio
async def test_cache_entries_over_the_size_cap_are_not_stored(make_cache: MakeCache) -> None:
    cache = make_cache(max_entry_bytes=100)
    await cache.set("big", b"x" * 101)
    await cache.set("fits", b"x" * 100)
    assert await cache.get("big") is None
    assert await cache.get("fits") is not None
    await cache.delete("fits")
    assert await cache.get("fits") is None
    await cache.set("a", b"1")
    await cache.clear()
    assert await cache.get("a") is None
    await cache.aclose()


@pytest.mark.anyio
async def test_cache_never_grows_past_max_entries(tmp_path: Path) -> None:
    clock = Clock()
    memory = MemoryCache(max_entries=3, clock=clock)
    sqlite = SQLiteCache(tmp_path / "bounded.db", max_entries=3, clock=clock)
    for cache in (memory, sqlite):
        for name in "abc":
            clock.now += 1
            await cache.set(name, name.encode())
        assert await cache.get("a") is not None  # a is now the most recently used (memory)
        clock.now += 1
        await cache.set("d", b"d")
        assert (await cache.stats()).entries == 3
    # MemoryCache drops the least recently used, SQLiteCache the oldest written.
    assert [await memory.get(n) is not None for n in "abcd"] == [True, False, True, True]
    assert [await sqlite.get(n) is not None for n in "abcd"] == [False, True, True, True]
    await sqlite.aclose()


# --- SQLite against real files and processes -------------------------------------------------


@pytest.mark.anyio
async def test_sqlite_cache_file_is_in_wal_mode_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    async with SQLiteCache(path) as cache:
        await cache.set("k", b'{"a": 1}')
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    async with SQLiteCache(path) as cache:
        entry = await cache.get("k")
        assert entry is not None
        assert entry.data == b'{"a": 1}'
    with pytest.raises(RuntimeError, match="closed"):
        await cache.get("k")


def worker_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


async def run_worker(*args: str) -> dict[str, object]:
    done = await anyio.run_process(
        [sys.executable, str(WORKER), *args], env=worker_env(), check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    assert b"unavailable" not in done.stderr, done.stderr.decode()
    result: dict[str, object] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return result


@pytest.mark.anyio
async def test_sqlite_cache_is_shared_by_an_asyncio_and_a_trio_process(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    written: list[dict[str, object]] = []

    async def write(backend: str) -> None:
        written.append(await run_worker(backend, path, "write", backend, "150"))

    with anyio.fail_after(120):
        async with anyio.create_task_group() as tg:
            tg.start_soon(write, "asyncio")
            tg.start_soon(write, "trio")
        keys = [f"{backend}-{index}" for backend in ("asyncio", "trio") for index in range(150)]
        reads = [
            await run_worker(backend, path, "read", json.dumps(keys))
            for backend in ("asyncio", "trio")
        ]
    assert sorted(result["written"] for result in written) == [150, 150]  # type: ignore[type-var]
    assert [result["right"] for result in reads] == [300, 300]


@pytest.mark.anyio
async def test_sqlite_cache_truncated_entry_is_a_miss_and_dropped(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    async with SQLiteCache(path) as cache:
        await cache.set("k", b'{"items": [1, 2, 3]}')
        await cache.set("other", b"{}")
    with sqlite3.connect(path) as connection:
        connection.execute(
            "UPDATE hiobuy_cache SET record = substr(record, 1, length(record) - 4) WHERE key = 'k'"
        )
    async with SQLiteCache(path) as cache:
        assert await cache.get("k") is None
        assert await cache.get("other") is not None
        assert (await cache.stats()).entries == 1  # the damaged one was deleted


@pytest.mark.anyio
async def test_sqlite_cache_entry_of_another_schema_version_is_a_miss(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    async with SQLiteCache(path) as cache:
        await cache.set("k", b"{}")
    with sqlite3.connect(path) as connection:
        (record,) = connection.execute("SELECT record FROM hiobuy_cache").fetchone()
        newer = record[:4] + (SCHEMA_VERSION + 1).to_bytes(2, "big") + record[6:]
        connection.execute("UPDATE hiobuy_cache SET record = ?", (newer,))
    async with SQLiteCache(path) as cache:
        assert await cache.get("k") is None


@pytest.mark.anyio
async def test_sqlite_cache_corrupted_file_reads_as_misses_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hiobuy_async")
    path = tmp_path / "cache.db"
    values = {
        f"key-{index}": json.dumps({"n": index, "pad": "x" * 300}).encode() for index in range(300)
    }
    async with SQLiteCache(path) as cache:
        for key, value in values.items():
            await cache.set(key, value)
    size = path.stat().st_size
    assert size > 8 * 4096
    with path.open("r+b") as file:  # garbage over pages in the middle of the file
        file.seek(size // 3)
        file.write(os.urandom(size // 3))
    async with SQLiteCache(path, retry_interval=1e-9) as cache:
        with anyio.fail_after(30):
            for key, value in values.items():
                entry = await cache.get(key)  # never raises
                assert entry is None or entry.data == value  # never a wrong answer
                await cache.set(key, value)  # never raises
    with path.open("r+b") as file:  # and a file that is no database at all
        file.write(os.urandom(4096))
    async with SQLiteCache(path, retry_interval=1e-9) as cache:
        assert await cache.get("key-1") is None
        await cache.set("key-1", b"{}")
        assert await cache.get("key-1") is None
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings, "a damaged file is reported"
    assert all("unavailable" in r.getMessage() for r in warnings)
    # One warning per outage, not per call.
    assert len(warnings) <= 2 + len(
        [r for r in caplog.records if "available again" in r.getMessage()]
    )


@pytest.mark.anyio
async def test_sqlite_cache_locked_past_its_timeout_goes_on_uncached_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hiobuy_async")
    path = tmp_path / "cache.db"
    async with SQLiteCache(path) as cache:
        await cache.set("k", b"{}")
    locker = sqlite3.connect(path, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")  # another process holding the write lock
        async with SQLiteCache(path, timeout=0.01, retry_interval=1e-9) as cache:
            for _ in range(5):
                await cache.set("new", b"{}")  # skipped, not raised
            warnings = [r for r in caplog.records if "unavailable" in r.getMessage()]
            assert len(warnings) == 1
            assert warnings[0].levelno == logging.WARNING
            locker.execute("ROLLBACK")
            await cache.set("new", b"{}")
            assert await cache.get("new") is not None
            assert len([r for r in caplog.records if "available again" in r.getMessage()]) == 1
    finally:
        locker.close()


def files_bytes(directory: Path, prefix: str) -> bytes:
    """The bytes of every file named `prefix*` (the database, its WAL and shared memory)."""
    return b"".join(p.read_bytes() for p in directory.iterdir() if p.name.startswith(prefix))


@pytest.mark.anyio
async def test_the_uuid_is_nowhere_in_the_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    async with SQLiteCache(path) as cache:
        for language in ("en_US", "zh_CN"):
            await cache.set(key_for(CANARY_UUID, language=language), b'{"items": []}')
        assert (await cache.stats()).entries == 2
    stored = files_bytes(tmp_path, "cache.db")
    for part in [CANARY_UUID, *(p for p in CANARY_UUID.split("-") if len(p) >= 6)]:
        assert part.encode() not in stored
        assert part.encode("utf-16-le") not in stored


@pytest.mark.anyio
async def test_sqlite_cache_clear_and_stats(tmp_path: Path) -> None:
    async with SQLiteCache(tmp_path / "cache.db") as cache:
        for index in range(10):
            await cache.set(f"k{index}", b"0123456789")
        stats = await cache.stats()
        assert stats.entries == 10
        assert stats.data_bytes > 100
        await cache.clear()
        assert (await cache.stats()).entries == 0


def test_one_sqlite_cache_serves_successive_event_loops(tmp_path: Path) -> None:
    cache = SQLiteCache(tmp_path / "cache.db")

    async def round_trip(value: bytes) -> bytes | None:
        await cache.set("k", value)
        entry = await cache.get("k")
        return None if entry is None else entry.data

    for backend, value in [("asyncio", b"1"), ("trio", b"2"), ("asyncio", b"3")]:
        assert anyio.run(round_trip, value, backend=backend) == value
    anyio.run(cache.aclose)
