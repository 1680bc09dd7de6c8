# SPDX-License-Identifier: MIT
"""The quota benchmark (issue #17): goodput against a server that enforces R requests/s.

A `FakeHiobuy` in its own process answers image searches and enforces
`--rate` R requests per second per merchant (a token bucket with a burst of
R / 10, at least 2); beyond it, it answers `429` with `Retry-After: 1`. Every
search it accepts gets the same real answer (20 products, built once), so the
server's own CPU does not stall it on a loaded machine (a stalled server reads
the queued requests in a cluster and refuses them for its own lateness). Over
`--inputs` image URLs, in the same run, every client parsing each answer and
dropping it:

- `sdk-1`: the SDK, one process, `AsyncHiobuy(rate_limit=R)` and `search_stream()`
  (a long crawl as docs/performance.md advises);
- `sdk-4-redis`: the SDK in 4 processes sharing one `RedisQuota(rate=R,
  expected_processes=4)` (a `redis-server` started for the run), a quarter of
  the inputs each;
- `hand-1`: what a user writes by hand: aiohttp and `aiolimiter.AsyncLimiter(R, 1)`,
  sleeping `Retry-After` on a `429` and trying again (up to 5 times);
- `hand-4`: the same in 4 processes, each at R / 4 (nothing shared).

Reported per setup, from the server's own log: goodput (answered requests
per second over the run, as a fraction of R), the share of requests answered
`429`, requests per input, the same two after the first 2 s (steady state),
and the machine's 1-minute load average (the higher of before and after).

    python -m bench.quota                      # R=100, 5,000 inputs (about 4 minutes)
    python -m bench.quota --rate 50 --inputs 1000

Needs aiohttp, aiolimiter, coredis (the `redis` extra) and `redis-server` on PATH.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONCURRENCY = 32
STEADY_AFTER = 2.0


def image(i: int) -> str:
    return f"https://cdn.test/bench/{i}.jpg"


# --- the server -----------------------------------------------------------------------


async def serve(rate: float, port_file: str) -> None:
    import anyio  # noqa: PLC0415

    from hiobuy_async.testing import FakeHiobuy  # noqa: PLC0415
    from hiobuy_async.testing._wire import FakeRequest, FakeResponse  # noqa: PLC0415

    burst = max(2.0, rate / 10)

    class Limited(FakeHiobuy):
        def __init__(self) -> None:
            super().__init__()
            self.tokens: dict[str, tuple[float, float]] = {}
            self.log: list[tuple[float, int]] = []
            self.canned: FakeResponse | None = None

        async def handle(self, request: FakeRequest) -> FakeResponse:
            if request.target == "/__bench/stats":
                body = json.dumps(self.log).encode()
                self.log = []
                self.tokens.clear()
                self._requests.clear()
                return FakeResponse(200, (("content-type", "application/json"),), body)
            merchant = next((v for k, v in request.headers if k.lower() == "x-uuid"), "")
            now = time.monotonic()
            tokens, then = self.tokens.get(merchant, (burst, now))
            tokens = min(burst, tokens + (now - then) * rate)
            if tokens < 1.0:
                self.tokens[merchant] = (tokens, now)
                self.log.append((now, 429))
                return FakeResponse(
                    429,
                    (("content-type", "application/json"), ("retry-after", "1")),
                    b'{"ret":0,"msg":"too many requests"}',
                )
            self.tokens[merchant] = (tokens - 1.0, now)
            self.log.append((now, 200))
            if self.canned is None:
                self.canned = await super().handle(request)
                self._requests.clear()
            # One real answer (about 11 kB, 20 products), served to every
            # search: building one costs the fake about 2 ms of CPU, which on
            # a loaded machine stalls this process; the requests queued
            # meanwhile are then read in a cluster, and the bucket above
            # refuses them for the server's own lateness, not the client's.
            return self.canned

    fake = Limited()
    async with fake.serve() as base_url:
        await anyio.Path(port_file).write_text(base_url)
        await anyio.sleep_forever()


# --- the clients ----------------------------------------------------------------------


async def sdk_client(base_url: str, images: list[str], rate: float, redis_url: str | None) -> None:
    from hiobuy_async import AsyncHiobuy, Ok  # noqa: PLC0415
    from hiobuy_async.quota import RedisQuota  # noqa: PLC0415
    from hiobuy_async.testing import FakeHiobuy  # noqa: PLC0415

    options: dict[str, Any] = {"base_url": base_url, "max_connections": CONCURRENCY}
    ok = failed = 0

    async def crawl(client: AsyncHiobuy) -> None:
        # A long crawl as docs/performance.md advises: search_stream, each
        # result dropped once counted (search_many would hold 5,000 parsed
        # results, and the garbage collector's pauses over them stall pacing).
        nonlocal ok, failed
        async with client.search_stream(images, platform="1688", concurrency=CONCURRENCY) as stream:
            async for outcome in stream:
                if isinstance(outcome, Ok):
                    ok += 1
                else:
                    failed += 1

    started = time.monotonic()
    if redis_url is None:
        async with AsyncHiobuy(FakeHiobuy.DEFAULT_UUID, rate_limit=rate, **options) as client:
            await crawl(client)
    else:
        async with (
            RedisQuota(redis_url, key="bench:quota", rate=rate, expected_processes=4) as quota,
            AsyncHiobuy(FakeHiobuy.DEFAULT_UUID, quota=quota, **options) as client,
        ):
            await crawl(client)
    print(json.dumps({"ok": ok, "failed": failed, "elapsed": time.monotonic() - started}))


async def hand_client(base_url: str, images: list[str], rate: float) -> None:
    import aiohttp  # noqa: PLC0415
    from aiolimiter import AsyncLimiter  # noqa: PLC0415

    from hiobuy_async.testing import FakeHiobuy  # noqa: PLC0415

    limiter = AsyncLimiter(rate, 1)
    queue = list(reversed(images))
    ok = failed = 0
    url = base_url + "/api/client/third-purchase/image/query"
    headers = {"X-Uuid": FakeHiobuy.DEFAULT_UUID}

    async def one(session: aiohttp.ClientSession, img: str) -> bool:
        for _ in range(5):
            async with (
                limiter,
                session.post(
                    url, json={"img": img, "platform": "1688"}, headers=headers
                ) as response,
            ):
                if response.status != 429:
                    if response.status != 200:
                        return False
                    body = await response.json()  # parsed, then dropped, like the SDK's
                    return bool(body.get("ret") == 1)
                await response.read()
                wait = float(response.headers.get("Retry-After", "1"))
            await asyncio.sleep(wait)
        return False

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal ok, failed
        while queue:
            if await one(session, queue.pop()):
                ok += 1
            else:
                failed += 1

    started = time.monotonic()
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(CONCURRENCY)))
    print(json.dumps({"ok": ok, "failed": failed, "elapsed": time.monotonic() - started}))


# --- the runner -----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def _stats(base_url: str) -> list[tuple[float, int]]:
    with urllib.request.urlopen(base_url + "/__bench/stats", timeout=30) as response:
        return [(float(t), int(s)) for t, s in json.loads(response.read())]


def _summary(log: list[tuple[float, int]], rate: float, inputs: int) -> dict[str, float]:
    first = min(t for t, _ in log)
    last = max(t for t, _ in log)
    ok = sum(1 for _, s in log if s == 200)
    limited = sum(1 for _, s in log if s == 429)
    steady = [(t, s) for t, s in log if t >= first + STEADY_AFTER]
    steady_ok = sum(1 for _, s in steady if s == 200)
    steady_span = max(t for t, _ in steady) - (first + STEADY_AFTER) if steady else math.nan
    return {
        "goodput": ok / (last - first) / rate,
        "share_429": limited / len(log),
        "requests_per_input": len(log) / inputs,
        "steady_goodput": steady_ok / steady_span / rate if steady else math.nan,
        "steady_share_429": (len(steady) - steady_ok) / len(steady) if steady else math.nan,
        "seconds": last - first,
        "answered": ok,
    }


def _run_clients(commands: list[list[str]]) -> list[dict[str, Any]]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.quota", *args],
            env=_env(),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for args in commands
    ]
    results = []
    for proc in procs:
        out, _ = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"client failed: {proc.args!r}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def run(rate: float, inputs: int, only: list[str] | None) -> dict[str, Any]:
    setups = only or ["sdk-1", "sdk-4-redis", "hand-1", "hand-4"]
    with tempfile.TemporaryDirectory() as tmp:
        port_file = str(Path(tmp) / "port")
        server = subprocess.Popen(
            [sys.executable, "-m", "bench.quota", "serve", str(rate), port_file],
            env=_env(),
            cwd=ROOT,
        )
        redis = None
        try:
            for _ in range(200):
                if Path(port_file).exists() and Path(port_file).read_text():
                    break
                time.sleep(0.05)
            base_url = Path(port_file).read_text()
            redis_port = _free_port()
            redis_url = f"redis://127.0.0.1:{redis_port}/0"
            if any(s.endswith("redis") for s in setups):
                binary = shutil.which("redis-server") or "redis-server"
                redis = subprocess.Popen(
                    [binary, "--port", str(redis_port), "--save", "", "--appendonly", "no"],
                    stdout=subprocess.DEVNULL,
                )
                time.sleep(0.5)
            results: dict[str, Any] = {}
            for setup in setups:
                quarter = inputs // 4
                if setup == "sdk-1":
                    commands = [["sdk", base_url, "0", str(inputs), str(rate)]]
                elif setup == "sdk-4-redis":
                    commands = [
                        ["sdk", base_url, str(k * quarter), str(quarter), str(rate), redis_url]
                        for k in range(4)
                    ]
                elif setup == "hand-1":
                    commands = [["hand", base_url, "0", str(inputs), str(rate)]]
                else:
                    commands = [
                        ["hand", base_url, str(k * quarter), str(quarter), str(rate / 4)]
                        for k in range(4)
                    ]
                _stats(base_url)  # reset
                load_before = os.getloadavg()[0]
                clients = _run_clients(commands)
                summary = _summary(_stats(base_url), rate, inputs)
                summary["failed_inputs"] = sum(c["failed"] for c in clients)
                summary["load"] = max(load_before, os.getloadavg()[0])
                results[setup] = summary
                print(setup, json.dumps(summary), flush=True)
            return results
        finally:
            server.terminate()
            server.wait()
            if redis is not None:
                redis.terminate()
                redis.wait()


def _table(results: dict[str, Any], rate: float, inputs: int) -> str:
    lines = [
        f"R = {rate:g} requests/s, {inputs} inputs, concurrency {CONCURRENCY}",
        "",
        "| setup | goodput / R | 429 share | requests / input | steady goodput / R "
        "| steady 429 share | failed inputs | load |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['goodput']:.3f} | {r['share_429']:.2%} | "
            f"{r['requests_per_input']:.3f} | {r['steady_goodput']:.3f} | "
            f"{r['steady_share_429']:.2%} | {r['failed_inputs']} | {r['load']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        asyncio.run(serve(float(sys.argv[2]), sys.argv[3]))
        return
    if len(sys.argv) > 1 and sys.argv[1] in ("sdk", "hand"):
        kind, base_url, start, count, rate, *rest = sys.argv[1:]
        images = [image(i) for i in range(int(start), int(start) + int(count))]
        if kind == "sdk":
            asyncio.run(sdk_client(base_url, images, float(rate), rest[0] if rest else None))
        else:
            asyncio.run(hand_client(base_url, images, float(rate)))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--inputs", type=int, default=5000)
    parser.add_argument("--only", default="", help="comma-separated setups")
    options = parser.parse_args()
    only = [s for s in options.only.split(",") if s] or None
    results = run(options.rate, options.inputs, only)
    print()
    print(_table(results, options.rate, options.inputs))


if __name__ == "__main__":
    main()
