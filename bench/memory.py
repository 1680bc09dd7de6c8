# SPDX-License-Identifier: MIT
"""Memory check: `search_stream` over many inputs from an async generator.

Runs the benchmark server in a subprocess (127.0.0.1), streams N searches
(distinct URLs from an async generator) through one `AsyncHiobuy`, and reads
this process's resident set size (VmRSS in /proc/self/status) every 10,000
outcomes. The target (issue #5): growth <= 2 MiB from 10k to 100k, i.e.
memory independent of the number of inputs.

    python -m bench.memory [--inputs 100000] [--concurrency 64] [--transport default|httpx|aiohttp]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio

from bench.client import UUID, image_url
from bench.run import RESULTS, _cpus, running_server


def rss_kib() -> int:
    """This process's VmRSS in KiB (Linux), or the peak RSS elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


async def stream_searches(
    port: int, inputs: int, concurrency: int, transport: str
) -> list[tuple[int, int]]:
    from hiobuy_async import AsyncHiobuy, Ok  # noqa: PLC0415 - after the server started

    async def images() -> AsyncIterator[str]:
        for i in range(inputs):
            yield image_url(i)

    samples: list[tuple[int, int]] = [(0, rss_kib())]
    client = AsyncHiobuy(
        UUID,
        base_url=f"http://127.0.0.1:{port}/i20/l0",
        max_connections=concurrency,
        transport=None if transport == "default" else transport,  # type: ignore[arg-type]
    )
    stream_cm = client.search_stream(images(), platform="taobao", concurrency=concurrency)
    checkpoints = {1_000, 5_000} | set(range(10_000, inputs + 1, 10_000))
    async with client, stream_cm as stream:
        done = 0
        async for outcome in stream:
            if not isinstance(outcome, Ok):
                raise RuntimeError(f"search failed: {outcome}")
            done += 1
            if done in checkpoints:
                gc.collect()
                samples.append((done, rss_kib()))
                print(f"{done:>7} outcomes  VmRSS {samples[-1][1] / 1024:7.1f} MiB", flush=True)
    return samples


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--transport", choices=("default", "httpx", "aiohttp"), default="default")
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--quick", action="store_true", help="accepted for nox; same run")
    args = parser.parse_args(argv)
    server_cpus, client_cpus = _cpus()
    if client_cpus is not None:
        os.sched_setaffinity(0, client_cpus)
    started = time.monotonic()
    with running_server(server_cpus) as port:
        samples = anyio.run(
            stream_searches,
            port,
            args.inputs,
            args.concurrency,
            args.transport,
            backend=args.backend,
        )
    elapsed = time.monotonic() - started
    start = samples[0]
    first = next(s for s in samples if s[0] >= 10_000)
    last = samples[-1]
    growth = (last[1] - first[1]) / 1024
    verdict = "met" if growth <= 2.0 else "MISSED"
    print(
        f"search_stream, {args.inputs:,} inputs from an async generator, concurrency "
        f"{args.concurrency}, transport {args.transport}, {args.backend}: "
        f"VmRSS {first[1] / 1024:.1f} MiB at {first[0]:,} -> {last[1] / 1024:.1f} MiB at "
        f"{last[0]:,}: growth {growth:+.2f} MiB (target <= 2 MiB: {verdict}); "
        f"{(first[1] - start[1]) / 1024:+.1f} MiB from before the first request to 10,000; "
        f"{elapsed:.0f} s, {args.inputs / elapsed:,.0f} searches/s"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"memory-{args.backend}-{args.transport}.json").write_text(
        json.dumps(
            {
                "inputs": args.inputs,
                "concurrency": args.concurrency,
                "transport": args.transport,
                "backend": args.backend,
                "samples_kib": samples,
                "growth_mib": growth,
                "elapsed_s": elapsed,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
