"""Testing your code: pytest tests against the fake HioBuy, on asyncio and trio."""

from decimal import Decimal

import anyio
import pytest

from hiobuy_async import AsyncHiobuy, AuthenticationError, Ok, Product, ServerError
from hiobuy_async.testing import FakeHiobuy, Fault, no_backoff

# Usually in your top-level conftest.py:
pytest_plugins = ["hiobuy_async.testing.pytest_plugin"]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run every async test on asyncio and on trio (drop trio if you don't use it)."""
    return str(request.param)


# The code under test (normally imported from your package).
async def cheapest(client: AsyncHiobuy, img: str) -> Product:
    result = await client.image_search(img, platform="1688", language="en_US")
    return min(result.items, key=lambda product: product.price or Decimal("Infinity"))


async def crawl(client: AsyncHiobuy, urls: list[str]) -> int:
    outcomes = await client.search_many(urls, platform="1688", concurrency=4)
    return sum(isinstance(outcome, Ok) for outcome in outcomes)


@pytest.mark.anyio
async def test_cheapest(hiobuy_client: AsyncHiobuy, fake_hiobuy: FakeHiobuy) -> None:
    img = fake_hiobuy.sample_images()[0]
    product = await cheapest(hiobuy_client, img)

    assert product.price is not None
    [request] = fake_hiobuy.requests  # exactly one request was sent ...
    assert request.json == {"img": img, "platform": "1688", "use_platform": "0"}
    assert request.headers["Language"] == "en_US"
    assert request.headers["X-Uuid"] == "***"  # ... and the log never holds the uuid


@pytest.mark.anyio
async def test_cheapest_survives_one_outage(
    hiobuy_client: AsyncHiobuy, fake_hiobuy: FakeHiobuy
) -> None:
    fake_hiobuy.fail_next(1, Fault.status(503))  # hiobuy_client has backoff turned off

    await cheapest(hiobuy_client, fake_hiobuy.sample_images()[0])

    assert len(fake_hiobuy.requests) == 2  # the 503, then the retry


@pytest.mark.anyio
async def test_cheapest_reports_a_long_outage(
    hiobuy_client: AsyncHiobuy, fake_hiobuy: FakeHiobuy
) -> None:
    fake_hiobuy.fail_matching("alicdn", Fault.status(502))  # every matching image, every time

    with pytest.raises(ServerError) as caught:
        await cheapest(hiobuy_client, fake_hiobuy.sample_images()[0])

    assert caught.value.status_code == 502


@pytest.mark.anyio
async def test_over_real_sockets() -> None:
    # serve(): a real HTTP/1.1 server on 127.0.0.1, for code that builds its own client.
    fake = FakeHiobuy(uuids=["my-test-uuid"])
    with no_backoff():
        async with fake.serve() as base_url:
            async with AsyncHiobuy("my-test-uuid", base_url=base_url) as client:
                product = await cheapest(client, fake.sample_images()[1])
            async with AsyncHiobuy("wrong-uuid", base_url=base_url) as client:
                with pytest.raises(AuthenticationError):
                    await cheapest(client, fake.sample_images()[1])
    assert product.detail_url is not None
    assert fake.stats.connections >= 1


@pytest.mark.anyio
async def test_crawl_keeps_four_requests_in_flight(
    hiobuy_client: AsyncHiobuy, fake_hiobuy: FakeHiobuy
) -> None:
    fake_hiobuy.hold()  # answers wait until release(): no sleeping, no timing
    async with anyio.create_task_group() as group:
        group.start_soon(crawl, hiobuy_client, fake_hiobuy.sample_images())
        with anyio.fail_after(5):  # a bug fails the test instead of hanging it
            await fake_hiobuy.wait_for_in_flight(4)
        assert fake_hiobuy.in_flight == 4
        fake_hiobuy.release()

    assert fake_hiobuy.max_in_flight == 4
    assert len(fake_hiobuy.requests) == len(fake_hiobuy.sample_images())
