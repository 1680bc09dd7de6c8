# SPDX-License-Identifier: MIT
"""What `client.with_options(...)` costs, against one request's cost.

Makes `--views` views (`with_options(deadline=2, max_retries=0)`, and one
with a timeout too) and times them, then times `--requests` image searches
over loopback to a served `FakeHiobuy` (keep-alive), on the engine the SDK
picks. Prints the medians, in microseconds, and the ratio.

    python -m bench.with_options [--views N] [--requests N] [--backend asyncio|trio]
"""

from __future__ import annotations

import argparse
import statistics
import time

import anyio


async def measure(views: int, requests: int) -> dict[str, float]:
    from hiobuy_async import AsyncHiobuy  # noqa: PLC0415 - imported outside the timings
    from hiobuy_async.testing import FakeHiobuy  # noqa: PLC0415

    fake = FakeHiobuy()
    image = FakeHiobuy.sample_images()[0]
    async with fake.serve() as base_url, AsyncHiobuy("fake-uuid", base_url=base_url) as client:
        view_times, timeout_times, call_times = [], [], []
        for _ in range(views):
            started = time.perf_counter()
            client.with_options(deadline=2, max_retries=0)
            view_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            client.with_options(deadline=2, timeout=1)
            timeout_times.append(time.perf_counter() - started)
        await client.image_search(image, platform="1688")  # the connection, warm
        for _ in range(requests):
            started = time.perf_counter()
            await client.image_search(image, platform="1688")
            call_times.append(time.perf_counter() - started)
        engine = client.transport
    view_us = statistics.median(view_times) * 1e6
    call_us = statistics.median(call_times) * 1e6
    print(f"engine {engine}")
    print(f"with_options(deadline, max_retries): {view_us:.1f} us (median of {views})")
    timeout_us = statistics.median(timeout_times) * 1e6
    print(f"with_options(deadline, timeout):     {timeout_us:.1f} us")
    print(f"one image search over loopback:      {call_us:.1f} us (median of {requests})")
    print(f"a view costs {100 * view_us / call_us:.2f}% of one request")
    return {"view_us": view_us, "timeout_view_us": timeout_us, "call_us": call_us}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--views", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--backend", default="asyncio", choices=["asyncio", "trio"])
    args = parser.parse_args()
    anyio.run(measure, args.views, args.requests, backend=args.backend)


if __name__ == "__main__":
    main()
