"""A worker process for the SQLite cache tests: one event loop, one `SQLiteCache` on a shared file.

python tests/cache_worker.py BACKEND PATH write PREFIX COUNT
    stores COUNT entries `PREFIX-i` (values derived from the key), 8 at a time;
python tests/cache_worker.py BACKEND PATH read KEYS_JSON
    reads the keys; prints one JSON line: how many were hits with the right value.
"""

from __future__ import annotations

import json
import sys

import anyio

from hiobuy_async.cache import SQLiteCache


def value_for(key: str) -> bytes:
    return json.dumps({"key": key, "items": [key] * 20}).encode()


async def write(path: str, prefix: str, count: int) -> dict[str, object]:
    async with SQLiteCache(path, timeout=30) as cache:

        async def one(start: int) -> None:
            for index in range(start, count, 8):
                key = f"{prefix}-{index}"
                await cache.set(key, value_for(key))

        async with anyio.create_task_group() as tg:
            for start in range(8):
                tg.start_soon(one, start)
        return {"written": count, "stored": (await cache.stats()).entries}


async def read(path: str, keys: list[str]) -> dict[str, object]:
    async with SQLiteCache(path, timeout=30) as cache:
        right = 0
        for key in keys:
            entry = await cache.get(key)
            right += entry is not None and entry.data == value_for(key)
        return {"right": right}


def main(argv: list[str]) -> None:
    backend, path, mode, *args = argv
    if mode == "write":
        result = anyio.run(write, path, args[0], int(args[1]), backend=backend)
    else:
        result = anyio.run(read, path, json.loads(args[0]), backend=backend)
    print(json.dumps({"backend": backend, **result}))


if __name__ == "__main__":
    main(sys.argv[1:])
