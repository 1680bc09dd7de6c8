# SPDX-License-Identifier: MIT
"""What opening and closing an `AsyncHiobuy` costs, per engine and pool size.

Run in each minimal venv (`nox -s bench` does): opens and closes a client
`--rounds` times for each engine installed, at `max_connections` 32, 64 and
1000, for an http and an https base URL (nothing is sent). The first open of
the process also builds the one SSL context the process shares; it is
reported apart (`first_ms`), the rest as a median (`median_ms`).

    python -m bench.open_close [--backend asyncio|trio] [--json PATH]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import time
from typing import Any

import anyio

SIZES = (32, 64, 1000)
BASES = ("http://127.0.0.1:9", "https://api.example.com")


def engines(backend: str) -> list[str]:
    found = ["httpx", "httpx2"]
    if backend == "asyncio" and importlib.util.find_spec("aiohttp") is not None:
        found.append("aiohttp")
    return found


async def measure(rounds: int, backend: str) -> list[dict[str, Any]]:
    from hiobuy_async import AsyncHiobuy  # noqa: PLC0415 - imported outside the timings

    rows: list[dict[str, Any]] = []
    for engine in engines(backend):
        for base_url in BASES:
            for size in SIZES:
                times = []
                for _ in range(rounds):
                    started = time.perf_counter()
                    async with AsyncHiobuy(
                        "bench-uuid",
                        base_url=base_url,
                        transport=engine,  # type: ignore[arg-type]
                        max_connections=size,
                    ):
                        pass
                    times.append((time.perf_counter() - started) * 1000)
                rows.append(
                    {
                        "engine": engine,
                        "backend": backend,
                        "scheme": base_url.split(":")[0],
                        "max_connections": size,
                        "first_ms": times[0],
                        "median_ms": statistics.median(times[1:]),
                    }
                )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args(argv)
    rows = anyio.run(measure, args.rounds, args.backend, backend=args.backend)
    print("| engine | loop | scheme | max_connections | first open ms | median open+close ms |")
    print("|---|---|---|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['engine']} | {row['backend']} | {row['scheme']} | {row['max_connections']} "
            f"| {row['first_ms']:.1f} | {row['median_ms']:.2f} |"
        )
    if args.json:
        with open(args.json, "w") as out:
            json.dump(rows, out, indent=2)


if __name__ == "__main__":
    main()
