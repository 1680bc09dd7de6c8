# SPDX-License-Identifier: MIT
"""What a cache hit costs against a miss, and a large SQLite file's hit latency.

A miss is a real request to the fake over loopback on the fastest engine
installed (aiohttp under asyncio, else httpx2); a hit is the same call
answered by `MemoryCache`, `SQLiteCache` or `RedisCache` (when coredis and a
`redis-server` are installed). CPU per call is `time.process_time()` of the
whole process (the fake runs in it too, so a miss's figure includes the
fake's side: a hit's share is an upper bound). Then a SQLite file of
`--entries` entries (100,000 by default) is filled directly and its hit
latency measured (median and p99 of `get`).

    python -m bench.cache [--calls N] [--entries N] [--json PATH]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

IMG = "https://cbu01.alicdn.com/img/ibank/O1CN01bench.jpg"
TESTS = Path(__file__).resolve().parents[1] / "tests"  # tests/redis_server.py starts Redis


def engine() -> str:
    return "aiohttp" if importlib.util.find_spec("aiohttp") is not None else "httpx2"


async def per_call_cpu(calls: int, make_cache: Any) -> dict[str, float]:
    from hiobuy_async import AsyncHiobuy  # noqa: PLC0415 - imported outside the timings
    from hiobuy_async.testing import FakeHiobuy  # noqa: PLC0415

    fake = FakeHiobuy()
    async with (
        fake.serve() as base_url,
        make_cache() as cache,
        AsyncHiobuy(
            FakeHiobuy.DEFAULT_UUID,
            base_url=base_url,
            transport=engine(),  # type: ignore[arg-type]
            cache=cache,
        ) as client,
    ):
        await client.image_search(IMG, platform="1688")  # fills the cache, warms up
        started = time.process_time()
        for _ in range(calls):
            await client.image_search(IMG, platform="1688", cache_ttl=0)
        miss = (time.process_time() - started) / calls
        started = time.process_time()
        for _ in range(calls):
            await client.image_search(IMG, platform="1688")
        hit = (time.process_time() - started) / calls
    return {"miss_us": miss * 1e6, "hit_us": hit * 1e6, "hit_share": hit / miss}


async def sqlite_latency(entries: int, directory: Path) -> dict[str, float]:
    import sqlite3  # noqa: PLC0415

    from hiobuy_async.cache import CacheEntry, SQLiteCache  # noqa: PLC0415
    from hiobuy_async.cache._record import pack  # noqa: PLC0415

    path = directory / "big.db"
    async with SQLiteCache(path) as cache:
        await cache.set("warm-up", b"{}")
    data = json.dumps({"request_id": None, "data": {"items": [{"num_iid": 1}] * 20}}).encode()
    now = time.time()
    record = pack(CacheEntry(data=data, cached_at=now, expires_at=now + 86400))
    with sqlite3.connect(path) as connection:
        connection.executemany(
            "INSERT OR REPLACE INTO hiobuy_cache (key, cached_at, expires_at, record) "
            "VALUES (?, ?, ?, ?)",
            ((f"key-{n}", now, now + 86400, record) for n in range(entries)),
        )
    times = []
    async with SQLiteCache(path) as cache:
        for n in range(0, entries, max(1, entries // 2000)):
            started = time.perf_counter()
            assert await cache.get(f"key-{n}") is not None
            times.append((time.perf_counter() - started) * 1e6)
    times.sort()
    return {
        "entries": entries,
        "median_us": statistics.median(times),
        "p99_us": times[int(len(times) * 0.99)],
    }


async def main(calls: int, entries: int) -> dict[str, Any]:
    from hiobuy_async.cache import MemoryCache, SQLiteCache  # noqa: PLC0415

    class Quiet:
        """An async context manager around a cache that needs none."""

        def __init__(self, cache: Any) -> None:
            self.cache = cache

        async def __aenter__(self) -> Any:
            return self.cache

        async def __aexit__(self, *exc: object) -> None:
            await self.cache.aclose()

    report: dict[str, Any] = {"engine": engine(), "calls": calls}
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        report["memory"] = await per_call_cpu(calls, lambda: Quiet(MemoryCache()))
        report["sqlite"] = await per_call_cpu(calls, lambda: SQLiteCache(directory / "c.db"))
        redis = shutil.which("redis-server")
        if redis is not None and importlib.util.find_spec("coredis") is not None:
            sys.path.insert(0, str(TESTS))
            from redis_server import RedisServer  # type: ignore[import-not-found]  # noqa: PLC0415

            from hiobuy_async.cache import RedisCache  # noqa: PLC0415

            server = RedisServer(redis, directory)
            server.start()
            try:
                report["redis"] = await per_call_cpu(
                    calls, lambda: RedisCache(server.url, timeout=2.0)
                )
            finally:
                server.stop()
        report["sqlite_large"] = await sqlite_latency(entries, directory)
    return report


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report = anyio.run(main, args.calls, args.entries)
    for name in ("memory", "sqlite", "redis"):
        if name in report:
            row = report[name]
            print(
                f"{name:>7}: miss {row['miss_us']:8.0f} us CPU, hit {row['hit_us']:7.0f} us CPU "
                f"({row['hit_share']:.1%} of a miss) on {report['engine']}"
            )
    large = report["sqlite_large"]
    print(
        f"SQLite, {large['entries']:,} entries: hit median {large['median_us']:.0f} us, "
        f"p99 {large['p99_us']:.0f} us"
    )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    cli()
