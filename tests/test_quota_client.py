"""One quota per client: every request paced, a 429 pauses all, an exhausted quota fails at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from hiobuy_async import AsyncHiobuy, InputError, Ok, QuotaExhaustedError, RateLimitError
from hiobuy_async.quota import LocalQuota
from hiobuy_async.testing import FakeHiobuy, Fault

pytestmark = pytest.mark.anyio

IMAGES = [f"https://cbu01.alicdn.com/img/ibank/quota-{n}.jpg" for n in range(40)]


@pytest.fixture
async def served() -> AsyncIterator[tuple[FakeHiobuy, str]]:
    fake = FakeHiobuy()
    async with fake.serve() as base_url:
        yield fake, base_url


def client_for(base_url: str, **kwargs: Any) -> AsyncHiobuy:
    return AsyncHiobuy(FakeHiobuy.DEFAULT_UUID, base_url=base_url, **kwargs)


def most_in_any_window(times: list[float], window: float = 1.0) -> int:
    times = sorted(times)
    best = 0
    start = 0
    for end, moment in enumerate(times):
        while moment - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def test_rate_limit_paces_everything_the_client_sends(
    served: tuple[FakeHiobuy, str],
) -> None:
    fake, base_url = served
    async with client_for(base_url, rate_limit=20, max_connections=16) as client:

        async def batch(images: list[str]) -> None:
            outcomes = await client.search_many(images, platform="1688", concurrency=8)
            assert all(isinstance(o, Ok) for o in outcomes)

        async def singles() -> None:
            for n in range(4):
                await client.keyword_search(f"lamp {n}", platform="taobao")
                await client.product_details(700_000_000_000 + n, platform="1688")

        async with anyio.create_task_group() as group:
            group.start_soon(batch, IMAGES[:14])
            group.start_soon(batch, IMAGES[14:28])
            group.start_soon(singles)

    arrivals = [r.time for r in fake.requests]
    assert len(arrivals) == 36
    # The limit, plus one at the window's edge: never the 2 x 8 workers' burst.
    assert most_in_any_window(arrivals) <= 21
    assert {r.endpoint for r in fake.requests} == {
        "image_search",
        "keyword_search",
        "product_details",
    }


async def test_a_429_retry_after_pauses_every_call_of_the_client(
    served: tuple[FakeHiobuy, str],
) -> None:
    fake, base_url = served
    fake.fail_next(1, Fault.rate_limit(retry_after=0.5))
    async with client_for(base_url, max_retries=0) as client:
        with pytest.raises(RateLimitError) as raised:
            await client.image_search(IMAGES[0], platform="1688")
        assert not isinstance(raised.value, QuotaExhaustedError)
        # Another endpoint, another call: it waits for the pause the 429 asked for.
        await client.keyword_search("lamp", platform="taobao")
    first, second = fake.requests
    assert second.time - first.time >= 0.45


async def test_a_batch_waits_for_a_pause_caused_by_a_single_call(
    served: tuple[FakeHiobuy, str],
) -> None:
    fake, base_url = served
    fake.fail_next(1, Fault.rate_limit(retry_after=0.5))
    async with client_for(base_url, max_retries=0) as client:
        with pytest.raises(RateLimitError):
            await client.keyword_search("lamp", platform="taobao")
        outcomes = await client.search_many(IMAGES[:4], platform="1688", concurrency=4)
    assert all(isinstance(o, Ok) for o in outcomes)
    paused_at = fake.requests[0].time
    assert min(r.time for r in fake.requests[1:]) - paused_at >= 0.45


async def test_an_exhausted_quota_fails_later_calls_without_a_request(
    served: tuple[FakeHiobuy, str],
) -> None:
    fake, base_url = served
    fake.fail_next(1, Fault.rate_limit(retry_after=3600))
    async with client_for(base_url, max_retry_after=60) as client:
        with pytest.raises(QuotaExhaustedError) as first:
            await client.image_search(IMAGES[0], platform="1688")
        assert first.value.retry_after == 3600
        assert first.value.endpoint == "image_search"
        with pytest.raises(QuotaExhaustedError) as later:
            await client.product_details(700_000_000_000, platform="1688")
        assert later.value.retry_after is not None
        assert 3500 < later.value.retry_after <= 3600
        assert later.value.endpoint == "product_details"
    assert len(fake.requests) == 1


async def test_a_batch_stops_on_an_exhausted_quota(served: tuple[FakeHiobuy, str]) -> None:
    fake, base_url = served
    fake.fail_next(1, Fault.rate_limit(retry_after=3600))
    async with client_for(base_url) as client:
        with pytest.raises(QuotaExhaustedError):
            await client.search_many(IMAGES[:20], platform="1688", concurrency=1)
    assert len(fake.requests) == 1


async def test_a_given_quota_is_shared_by_two_clients_and_not_closed(
    served: tuple[FakeHiobuy, str],
) -> None:
    fake, base_url = served
    quota = LocalQuota(rate=10)
    fake.fail_next(1, Fault.rate_limit(retry_after=3600))
    async with client_for(base_url, quota=quota) as one, client_for(base_url, quota=quota) as two:
        assert one.quota is quota
        with pytest.raises(QuotaExhaustedError):
            await one.image_search(IMAGES[0], platform="1688")
        with pytest.raises(QuotaExhaustedError):
            await two.image_search(IMAGES[1], platform="1688")
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rate_limit": 5, "quota": LocalQuota(rate=5)}, "not both"),
        ({"quota": object()}, "Quota"),
        ({"rate_limit": 0}, "rate_limit"),
        ({"rate_limit": True}, "rate_limit"),
        ({"rate_limit": float("inf")}, "rate_limit"),
    ],
)
def test_bad_quota_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        AsyncHiobuy(FakeHiobuy.DEFAULT_UUID, **kwargs)
