"""`client.with_options(...)`: a light view with its own options, sharing the client's pool."""

from __future__ import annotations

import functools
from typing import Any

import helpers
import pytest

from hiobuy_async import (
    APITimeoutError,
    AsyncHiobuy,
    ClientClosedError,
    Failed,
    InputError,
    Ok,
    ServerError,
)
from hiobuy_async.testing import FakeHiobuy, Fault

TRANSPORTS = helpers.ENGINES
IMAGES = FakeHiobuy.sample_images()

pytestmark = pytest.mark.anyio


make_client = functools.partial(
    helpers.make_client, uuid=FakeHiobuy.DEFAULT_UUID, initial_backoff=0.001
)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_views_timeout_applies_only_to_its_calls(
    transport: str, anyio_backend: str
) -> None:
    fake = FakeHiobuy()
    async with fake.serve() as base_url, make_client(base_url, transport, timeout=10) as client:
        fake.fail_next(2, Fault.stall(0.3))
        hasty = client.with_options(timeout=0.05, max_retries=0)
        with pytest.raises(APITimeoutError):
            await hasty.image_search(IMAGES[0], platform="1688")
        result = await client.image_search(IMAGES[0], platform="1688")  # waits out the stall
    assert result.items


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_views_deadline_applies_only_to_its_calls(
    transport: str, anyio_backend: str
) -> None:
    fake = FakeHiobuy()
    async with fake.serve() as base_url, make_client(base_url, transport) as client:
        fake.fail_next(2, Fault.stall(0.3))
        with pytest.raises(APITimeoutError, match="deadline"):
            await client.with_options(deadline=0.05).image_search(IMAGES[0], platform="1688")
        result = await client.image_search(IMAGES[0], platform="1688")
    assert result.items


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_views_retries_apply_only_to_its_calls(transport: str, anyio_backend: str) -> None:
    fake = FakeHiobuy()
    async with fake.serve() as base_url, make_client(base_url, transport, max_retries=2) as client:
        fake.fail_next(1, Fault.status(503))
        with pytest.raises(ServerError):
            await client.with_options(max_retries=0).image_search(IMAGES[0], platform="1688")
        fake.fail_next(1, Fault.status(503))
        result = await client.image_search(IMAGES[0], platform="1688")
    assert result.meta is not None
    assert result.meta.attempts == 2


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_views_share_the_clients_connections(transport: str, anyio_backend: str) -> None:
    fake = FakeHiobuy()
    async with fake.serve() as base_url, make_client(base_url, transport) as client:
        await client.image_search(IMAGES[0], platform="1688")
        for n in range(5):
            view = client.with_options(deadline=5, language="en_US")
            async with view:
                await view.image_search(IMAGES[n], platform="1688")
        assert not client.is_closed
        await client.image_search(IMAGES[1], platform="1688")
    assert fake.stats.connections == 1  # one keep-alive connection, reused by every view
    assert fake.stats.requests == 7


async def test_closing_a_view_leaves_the_client_usable() -> None:
    fake = FakeHiobuy()
    async with fake.client() as client:
        view = client.with_options(max_retries=0)
        async with view as opened:
            assert opened is view
            await view.image_search(IMAGES[0], platform="1688")
        await view.aclose()
        assert not client.is_closed
        assert not view.is_closed
        assert (await client.image_search(IMAGES[0], platform="1688")).items
        assert (await view.image_search(IMAGES[0], platform="1688")).items


async def test_closing_the_client_closes_its_views() -> None:
    fake = FakeHiobuy()
    client = fake.client()
    async with client:
        view = client.with_options(deadline=3).with_options(max_retries=1)
        await view.image_search(IMAGES[0], platform="1688")
    assert view.is_closed
    with pytest.raises(ClientClosedError):
        await view.image_search(IMAGES[0], platform="1688")
    with pytest.raises(ClientClosedError):
        client.with_options(deadline=1)


async def test_a_views_language_and_currency_are_its_own() -> None:
    fake = FakeHiobuy()
    async with fake.client(language="ru_RU") as client:
        await client.with_options(language="en_US").image_search(IMAGES[0], platform="1688")
        await client.image_search(IMAGES[0], platform="1688")
        await client.with_options(language=None).image_search(IMAGES[0], platform="1688")
    sent = [r.headers.get("Language") for r in fake.requests]
    assert sent == ["en_US", "ru_RU", "zh_CN"]  # None: the API's default
    view = fake.client(currency="USD").with_options(currency="EUR")
    assert view._currency == "EUR"
    assert fake.client(currency="USD").with_options(currency=None)._currency is None


async def test_a_view_pages_and_batches_with_its_options() -> None:
    fake = FakeHiobuy()
    async with fake.client(max_retries=3) as client:
        view = client.with_options(max_retries=0, language="en_US")
        fake.fail_matching(IMAGES[1], Fault.status(503), times=1)
        outcomes = await view.search_many(IMAGES[:3], platform="1688")
        assert [type(o) for o in outcomes] == [Ok, Failed, Ok]
        pages = [page async for page in view.keyword_search_pages("lamp", platform="1688")]
        assert pages
        async with view.search_stream(IMAGES[:2], platform="1688") as stream:
            streamed = [o async for o in stream]
        assert all(isinstance(o, Ok) for o in streamed)
    languages = {r.headers.get("Language") for r in fake.requests}
    assert languages == {"en_US"}


@pytest.mark.parametrize(
    "options",
    [
        {"timeout": -1},
        {"timeout": "fast"},
        {"max_retries": -1},
        {"deadline": 0},
        {"max_retry_after": 0},
        {"language": "klingon"},
        {"currency": "dollars"},
    ],
    ids=repr,
)
def test_with_options_checks_its_arguments_like_the_constructor(options: dict[str, Any]) -> None:
    client = FakeHiobuy().client()
    with pytest.raises(InputError):
        client.with_options(**options)


def test_a_view_keeps_what_it_was_not_given() -> None:
    client = FakeHiobuy().client(max_retries=5, deadline=7, language="en_US")
    view = client.with_options(timeout=3)
    assert view._pipeline.retry_policy.max_retries == 5
    assert view._pipeline.deadline == 7
    assert view._language == "en_US"
    assert view._pipeline.quota is client._pipeline.quota
    assert view._transport is client._transport
    assert view._orders is client._orders
    assert client._pipeline.timeout is None
    assert "view" in repr(view)
    assert isinstance(view, AsyncHiobuy)
