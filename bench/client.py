# SPDX-License-Identifier: MIT
"""One benchmark client run, in its own process: N requests at concurrency C.

Prints one JSON line: requests, wall seconds, requests/s, client CPU-µs per
request (`time.process_time`, this process only) and the new connections the
server accepted during the run. A short warm-up on a separate client object
comes first (imports, lazily built code paths), outside the measurement.

    python -m bench.client --config sdk_search_many --backend asyncio --port P \
        --concurrency 64 --latency-ms 20 --items 20 --requests 2000
"""

# Imports are lazy on purpose: each run imports only its own client library.
# ruff: noqa: PLC0415

from __future__ import annotations

import argparse
import gc
import json
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

UUID = "bench-uuid"
PATH = "/api/client/third-purchase/image/query"

# Configs: name -> (backends it runs on, description).
CONFIGS: dict[str, tuple[tuple[str, ...], str]] = {
    "floor": (("asyncio",), "raw asyncio protocol + json.loads (practical floor)"),
    "aiohttp": (("asyncio",), "aiohttp ClientSession + json.loads"),
    "httpx_aiohttp": (
        ("asyncio",),
        "httpx.AsyncClient on httpx-aiohttp + json.loads (reference: the old aiohttp path)",
    ),
    "httpx_default": (("asyncio", "trio"), "httpx, default Limits + json.loads"),
    "httpx": (("asyncio", "trio"), "httpx, one pool, Limits(C, keepalive C) + json.loads"),
    "httpx_sharded": (
        ("asyncio", "trio"),
        "httpx, clients of <=16 connections, least busy first (the SDK's pool) + json.loads",
    ),
    "httpx2": (("asyncio", "trio"), "httpx2, one pool, Limits(C, keepalive C) + json.loads"),
    "httpx2_sharded": (
        ("asyncio", "trio"),
        "httpx2, clients of <=16 connections, least busy first + json.loads",
    ),
    "sdk_image_search": (("asyncio", "trio"), "SDK transport='httpx', image_search, C workers"),
    "sdk_search_many": (("asyncio", "trio"), "SDK transport='httpx', search_many"),
    "sdk_aiohttp_image_search": (
        ("asyncio",),
        "SDK transport='aiohttp', image_search, C workers",
    ),
    "sdk_aiohttp_search_many": (("asyncio",), "SDK transport='aiohttp', search_many"),
    "sdk_aiohttp_fast_search_many": (
        ("asyncio",),
        "SDK transport='aiohttp', search_many, with the fast extra (orjson: the advised install)",
    ),
    "sdk_httpx2_image_search": (
        ("asyncio", "trio"),
        "SDK transport='httpx2', image_search, C workers",
    ),
    "sdk_httpx2_search_many": (("asyncio", "trio"), "SDK transport='httpx2', search_many"),
}
SHARD_SIZE = 16


def server_stats(port: int) -> dict[str, int]:
    """Ask the benchmark server for its counters (blocking, outside the measurement)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /__stats HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    stats: dict[str, int] = json.loads(data.split(b"\r\n\r\n", 1)[1])
    return stats


def image_url(i: int) -> str:
    # Distinct URLs: search_many/search_stream de-duplicate equal inputs.
    return f"https://img.example.com/bench/{i}.jpg"


class _Run:
    """The measured run's time budget, count of finished requests, and results.

    Every client keeps every decoded result until the run ends, as
    `search_many` must (it returns them all): holding N results makes each
    allocation dearer (fresh memory, more for the GC to walk), and a baseline
    that dropped its results would hide that cost from the comparison.
    """

    stop_at = float("inf")  # perf_counter() after which no new request starts
    done = 0
    kept: list[Any] = []  # noqa: RUF012 - reset per run


async def run_workers(n: int, concurrency: int, one: Callable[[int], Awaitable[None]]) -> None:
    """Run `one(i)` for i in range(n), at most `concurrency` at a time, within STOP_AT."""
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            await one(i)
            _Run.done += 1
            if time.perf_counter() > _Run.stop_at:
                break

    async with anyio.create_task_group() as tg:
        for _ in range(min(concurrency, n)):
            tg.start_soon(worker)


def _payload(i: int) -> dict[str, str]:
    return {"img": image_url(i), "platform": "taobao"}


def _headers() -> dict[str, str]:
    return {"X-Uuid": UUID, "Language": "zh_CN"}


async def run_floor(base: str, n: int, c: int) -> None:
    import asyncio
    from urllib.parse import urlsplit

    parts = urlsplit(base)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path + PATH

    async def connection_worker(counter: Any) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for i in counter:
                body = json.dumps(_payload(i)).encode()
                writer.write(
                    f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                    f"Content-Type: application/json\r\nX-Uuid: {UUID}\r\nLanguage: zh_CN\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                head = await reader.readuntil(b"\r\n\r\n")
                lower = head.lower()
                at = lower.index(b"content-length:")
                length = int(lower[at + 15 : lower.index(b"\r\n", at)])
                _Run.kept.append(json.loads(await reader.readexactly(length)))
                _Run.done += 1
                if time.perf_counter() > _Run.stop_at:
                    break
        finally:
            writer.close()

    counter = iter(range(n))
    await asyncio.gather(*(connection_worker(counter) for _ in range(min(c, n))))


async def run_aiohttp(base: str, n: int, c: int) -> None:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=c)
    async with aiohttp.ClientSession(connector=connector) as session:
        url = base + PATH

        async def one(i: int) -> None:
            async with session.post(url, json=_payload(i), headers=_headers()) as response:
                _Run.kept.append(json.loads(await response.read()))

        await run_workers(n, c, one)


def _library(config: str) -> Any:
    import importlib

    return importlib.import_module("httpx2" if config.startswith("httpx2") else "httpx")


def _httpx_client(config: str, c: int) -> Any:
    httpx = _library(config)

    if config == "httpx_default":
        return httpx.AsyncClient(timeout=30.0)
    limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)
    if config == "httpx_aiohttp":
        from httpx_aiohttp import AiohttpTransport

        return httpx.AsyncClient(transport=AiohttpTransport(limits=limits), timeout=30.0)
    return httpx.AsyncClient(limits=limits, timeout=30.0)


async def run_httpx(config: str, base: str, n: int, c: int) -> None:
    async with _httpx_client(config, c) as client:
        url = base + PATH

        async def one(i: int) -> None:
            response = await client.post(url, json=_payload(i), headers=_headers())
            _Run.kept.append(json.loads(response.content))

        await run_workers(n, c, one)


async def run_httpx_sharded(config: str, base: str, n: int, c: int) -> None:
    """Hand-rolled: the pool split over clients of <= 16 connections, least busy first."""
    httpx = _library(config)

    count = -(-c // SHARD_SIZE)
    size = -(-c // count)
    limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
    clients = [httpx.AsyncClient(limits=limits, timeout=30.0) for _ in range(count)]
    busy = [0] * count
    url = base + PATH

    async def one(i: int) -> None:
        k = busy.index(min(busy))
        busy[k] += 1
        try:
            response = await clients[k].post(url, json=_payload(i), headers=_headers())
        finally:
            busy[k] -= 1
        _Run.kept.append(json.loads(response.content))

    try:
        await run_workers(n, c, one)
    finally:
        for client in clients:
            await client.aclose()


async def run_sdk(config: str, base: str, n: int, c: int) -> None:
    from hiobuy_async import AsyncHiobuy, Ok

    transport = next((t for t in ("aiohttp", "httpx2") if f"sdk_{t}_" in config), "httpx")
    if "_fast_" in config:
        import orjson  # noqa: F401 - fails the run if the venv lacks the fast extra
    async with AsyncHiobuy(UUID, base_url=base, max_connections=c, transport=transport) as client:
        if config.endswith("search_many"):
            outcomes = await client.search_many(
                [image_url(i) for i in range(n)], platform="taobao", concurrency=c
            )
            _Run.done += len(outcomes)
            _Run.kept.append(outcomes)
            failed = [o for o in outcomes if not isinstance(o, Ok)]
            if failed:
                raise RuntimeError(f"{len(failed)} searches failed: {failed[0]}")
        else:

            async def one(i: int) -> None:
                _Run.kept.append(await client.image_search(image_url(i), platform="taobao"))

            await run_workers(n, c, one)


async def run_config(config: str, base: str, n: int, c: int) -> None:
    """One measured batch of `n` requests at concurrency `c` on a fresh client."""
    if config == "floor":
        await run_floor(base, n, c)
    elif config == "aiohttp":
        await run_aiohttp(base, n, c)
    elif config.startswith("sdk_"):
        await run_sdk(config, base, n, c)
    elif config.endswith("_sharded"):
        await run_httpx_sharded(config, base, n, c)
    else:
        await run_httpx(config, base, n, c)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="one benchmark client run")
    parser.add_argument("--config", choices=sorted(CONFIGS), required=True)
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=64)
    parser.add_argument(
        "--budget-seconds",
        type=float,
        default=float("inf"),
        help="start no new request after this long (search_many always runs to the end)",
    )
    parser.add_argument("--max-seconds", type=float, default=120.0, help="hard limit")
    args = parser.parse_args(argv)
    if args.backend not in CONFIGS[args.config][0]:
        parser.error(f"{args.config} does not run on {args.backend}")
    base = f"http://127.0.0.1:{args.port}/i{args.items}/l{args.latency_ms}"
    c, n = args.concurrency, args.requests

    async def measured() -> dict[str, float]:
        with anyio.fail_after(args.max_seconds):
            await run_config(args.config, base, min(args.warmup, n), min(c, args.warmup))
        gc.collect()
        before = server_stats(args.port)
        _Run.done = 0
        _Run.kept = []
        cpu0, wall0 = time.process_time(), time.perf_counter()
        _Run.stop_at = wall0 + args.budget_seconds
        with anyio.fail_after(args.max_seconds):
            await run_config(args.config, base, n, c)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        after = server_stats(args.port)
        done = _Run.done
        return {
            "requests": done,
            "wall_s": wall,
            "rps": done / wall,
            "cpu_us": cpu / done * 1e6,
            "new_connections": after["connections"] - before["connections"] - 1,
            "server_requests": after["requests"] - before["requests"] - 1,
        }

    result = anyio.run(measured, backend=args.backend)
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
