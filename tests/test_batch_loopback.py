"""Fan-out over real loopback sockets: chaos, cancellation churn, pool health."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable

import anyio
import pytest

from hiobuy_async import AsyncHiobuy, Failed, HiobuyError, Ok, ResponseValidationError
from hiobuy_async.testing import FakeHiobuy, Fault

pytestmark = pytest.mark.anyio

LoopbackClient = Callable[..., AsyncHiobuy]  # the conftest's loopback_client fixture


def chaos_image(i: int) -> str:
    return f"https://cdn.test/chaos/{i}.jpg"


def script_chaos(fake: FakeHiobuy, n: int) -> set[str]:
    """Fail ~37% of first attempts in every way a server can; return the malformed ones."""
    malformed: set[str] = set()
    for i in range(n):
        url = chaos_image(i)
        if i % 10 == 0:
            fake.fail_matching(url, Fault.status(503), times=1)
        elif i % 10 == 1:
            fake.fail_matching(url, Fault.rate_limit(retry_after=0.002), times=1)
        elif i % 10 == 2:
            fake.fail_matching(url, Fault.reset(), times=1)
        elif i % 100 == 3:
            fake.fail_matching(url, Fault.stall(3.0), times=1)
        elif i % 20 == 13:
            fake.fail_matching(url, Fault.malformed())
            malformed.add(url)
        elif i % 50 == 5:
            fake.fail_matching(url, Fault.status(502))
    return malformed


async def test_two_thousand_images_against_a_failing_server(
    served: tuple[FakeHiobuy, str], loopback_client: LoopbackClient
) -> None:
    fake, base_url = served
    n = 2000
    malformed = script_chaos(fake, n)
    images = [chaos_image(i) for i in range(n)]
    # The timeout leaves room for a loaded 2-core machine; only stalls exceed it.
    async with loopback_client(base_url, timeout=2.0, max_connections=32) as client:
        outcomes = await client.search_many(images, platform="1688", concurrency=32)

        assert len(outcomes) == n
        assert [o.index for o in outcomes] == list(range(n))
        for outcome in outcomes:
            assert isinstance(outcome, Ok | Failed)
            if isinstance(outcome, Failed):
                assert isinstance(outcome.error, HiobuyError)
        sent = Counter(str(r.json["img"]) for r in fake.requests if isinstance(r.json, dict))
        for url in malformed:
            assert sent[url] == 1  # malformed 200s are never retried
            (outcome,) = [o for o in outcomes if o.query.img == url]
            assert isinstance(outcome, Failed)
            assert isinstance(outcome.error, ResponseValidationError)
        assert sum(isinstance(o, Ok) for o in outcomes) > n // 2
        assert fake.max_in_flight <= 32

        fake.clear()
        healthy = await client.search_many(
            [f"https://cdn.test/after/{i}.jpg" for i in range(100)], platform="1688", concurrency=32
        )
        assert all(isinstance(o, Ok) for o in healthy)
        assert len({r.json["img"] for r in fake.requests if isinstance(r.json, dict)}) == 100


async def test_cancellation_churn_leaves_the_pool_healthy(
    served: tuple[FakeHiobuy, str], loopback_client: LoopbackClient
) -> None:
    fake, base_url = served
    fake.latency = 0.005
    rng = random.Random(1234)
    cancelled = 0

    async with loopback_client(base_url, max_connections=4, timeout=2.0) as client:

        async def impatient_caller(i: int) -> None:
            nonlocal cancelled
            with anyio.move_on_after(rng.uniform(0, 0.03)) as scope:
                await client.image_search(f"https://cdn.test/churn/{i}.jpg", platform="1688")
            cancelled += scope.cancelled_caught

        async with anyio.create_task_group() as tg:
            for i in range(200):
                tg.start_soon(impatient_caller, i)
        assert cancelled > 50  # the churn really cancelled requests mid-way

        with anyio.fail_after(10):
            outcomes = await client.search_many(
                [f"https://cdn.test/healthy/{i}.jpg" for i in range(100)],
                platform="1688",
                concurrency=4,
            )
        assert all(isinstance(o, Ok) for o in outcomes)


async def test_batches_cancelled_mid_way_leave_the_pool_healthy(
    served: tuple[FakeHiobuy, str], loopback_client: LoopbackClient
) -> None:
    fake, base_url = served
    fake.latency = 0.005
    async with loopback_client(base_url, max_connections=8) as client:
        for round_ in range(5):
            with anyio.move_on_after(0.02 + 0.01 * round_):
                await client.search_many(
                    [f"https://cdn.test/r{round_}/{i}.jpg" for i in range(500)],
                    platform="taobao",
                    concurrency=8,
                )
        with anyio.fail_after(10):
            outcomes = await client.search_many(
                [f"https://cdn.test/final/{i}.jpg" for i in range(100)],
                platform="taobao",
                concurrency=8,
            )
        assert all(isinstance(o, Ok) for o in outcomes)


async def test_keep_alive_over_a_batch(
    served: tuple[FakeHiobuy, str], loopback_client: LoopbackClient
) -> None:
    fake, base_url = served
    n, concurrency = 400, 32
    async with loopback_client(base_url, max_connections=concurrency) as client:
        await client.search_many(
            [f"https://cdn.test/keep/{i}.jpg" for i in range(n)],
            platform="1688",
            concurrency=concurrency,
        )
    assert fake.stats.connections <= concurrency + n * 0.05
