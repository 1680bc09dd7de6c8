"""Every endpoint over real loopback sockets against `FakeHiobuy.serve()` (issue #9, "Tests").

Both transports, asyncio and trio: each endpoint's happy path, and the
endpoints agreeing on one product the way the real API does (an id found by
image or keyword search has details whose titles agree and whose price range
holds the search price; the details' shop id resolves in shop nick).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs
import pytest
from helpers import ENGINES

from hiobuy_async import (
    APIError,
    AsyncHiobuy,
    ImageSearchResult,
    KeywordSearchPage,
    PlatformName,
    Product,
    ProductDetails,
    ShopNick,
)
from hiobuy_async.testing import FakeHiobuy, Fault

pytestmark = pytest.mark.anyio

every_engine = pytest.mark.parametrize("transport", ENGINES)


@asynccontextmanager
async def served(transport: str, **options: Any) -> AsyncIterator[tuple[FakeHiobuy, AsyncHiobuy]]:
    fake = FakeHiobuy()
    options.setdefault("timeout", 10.0)
    async with (
        fake.serve() as base_url,
        AsyncHiobuy(
            FakeHiobuy.DEFAULT_UUID,
            base_url=base_url,
            transport=transport,  # type: ignore[arg-type]
            **options,
        ) as client,
    ):
        client._pipeline.retry_policy = attrs.evolve(
            client._pipeline.retry_policy, initial_backoff=0.001
        )
        yield fake, client


@every_engine
async def test_every_endpoint_answers_over_the_wire(transport: str, anyio_backend: str) -> None:
    async with served(transport, language="en_US") as (fake, client):
        image = await client.image_search(fake.sample_images()[0], platform="1688")
        keyword = await client.keyword_search("desk lamp results:55", platform="1688", page=2)
        details = await client.product_details(image.items[0], platform="1688")
        nick = await client.shop_nick(details.shop_id or "")
    assert isinstance(image, ImageSearchResult)
    assert len(image.items) == 20
    assert isinstance(keyword, KeywordSearchPage)
    assert (keyword.page, keyword.page_size, keyword.total_results) == (2, 20, 55)
    assert len(keyword.items) == 20
    assert not keyword.is_last
    assert isinstance(details, ProductDetails)
    assert details.num_iid == image.items[0].num_iid
    assert 4 <= len(details.skus) <= 8
    assert isinstance(nick, ShopNick)
    assert nick.wangwang_nick
    assert [r.endpoint for r in fake.requests] == [
        "image_search",
        "keyword_search",
        "product_details",
        "shop_nick",
    ]
    assert [r.method for r in fake.requests] == ["POST", "POST", "POST", "GET"]
    ids = [image.request_id, keyword.request_id, details.request_id, nick.request_id]
    assert ids == [r.request_id for r in fake.requests]


def assert_agree(hit: Product, details: ProductDetails) -> None:
    assert details.num_iid == hit.num_iid
    assert (details.title, details.title_cn) == (hit.title, hit.title_cn)
    assert hit.price is not None
    assert details.price is not None
    assert details.max_price is not None
    assert details.price <= hit.price <= details.max_price
    for sku in details.skus:
        assert sku.price is not None
        assert details.price <= sku.price <= details.max_price


@every_engine
@pytest.mark.parametrize(("platform", "language"), [("1688", "en_US"), ("taobao", "vi_VN")])
async def test_search_hits_have_details_that_agree(
    transport: str, platform: PlatformName, language: str, anyio_backend: str
) -> None:
    async with served(transport, language=language) as (fake, client):
        image = await client.image_search(fake.sample_images()[3], platform=platform)
        keyword = await client.keyword_search("teapot results:15", platform=platform, sort="bid2")
        hits = image.items[:5] + keyword.items[:5]
        found = [(hit, await client.product_details(hit, platform=platform)) for hit in hits]
        # Without a platform: a hit's detail_url names its marketplace.
        inferred = await client.product_details(hits[0])
    assert len(found) == 10
    for hit, details in found:
        assert_agree(hit, details)
        assert details.title != details.title_cn  # localised
    assert attrs.evolve(inferred, request_id=None) == attrs.evolve(found[0][1], request_id=None)
    assert fake.requests[-1].json["platform"] == platform


@every_engine
async def test_a_details_shop_id_resolves_in_shop_nick(transport: str, anyio_backend: str) -> None:
    async with served(transport) as (_, client):
        page = await client.keyword_search("kettle results:8", platform="1688")
        nicks = []
        for hit in page.items:
            details = await client.product_details(hit.num_iid, platform="1688")
            assert details.shop_id is not None
            nicks.append(await client.shop_nick(details.shop_id))
        with pytest.raises(APIError) as info:
            await client.shop_nick(FakeHiobuy.unknown_shop_id())
    assert all(n.wangwang_nick for n in nicks)
    assert info.value.endpoint == "shop_nick"


@every_engine
async def test_an_unknown_product_is_an_api_error(transport: str, anyio_backend: str) -> None:
    async with served(transport, max_retries=3) as (fake, client):
        with pytest.raises(APIError) as info:
            await client.product_details(FakeHiobuy.unknown_product_id(), platform="taobao")
    assert info.value.endpoint == "product_details"
    assert info.value.ret != 1
    assert len(fake.requests) == 1


@every_engine
@pytest.mark.parametrize("shop_id", ["a%b&c=d/e", "x?y#z+1;k=v", "%2F%25"])
async def test_a_shop_id_reaches_the_server_exactly(
    transport: str, shop_id: str, anyio_backend: str
) -> None:
    async with served(transport) as (fake, client):
        with pytest.raises(APIError):  # not a shop the fake knows
            await client.shop_nick(shop_id)
    (recorded,) = fake.requests
    query = urlsplit(recorded.path).query
    assert parse_qs(query, strict_parsing=True) == {"shop_id": [shop_id]}


@every_engine
async def test_a_fault_on_one_product_is_retried_and_others_are_untouched(
    transport: str, anyio_backend: str
) -> None:
    async with served(transport, max_retries=2) as (fake, client):
        page = await client.keyword_search("vase results:3", platform="taobao")
        first, second = page.items[0].num_iid, page.items[1].num_iid
        fake.fail_matching(
            endpoint="product_details", subject=str(first), fault=Fault.status(503), times=2
        )
        one = await client.product_details(first, platform="taobao")
        two = await client.product_details(second, platform="taobao")
    assert (one.num_iid, two.num_iid) == (first, second)
    faults = [(r.json["keyword"], r.fault is not None) for r in fake.requests[1:]]
    assert faults == [
        (str(first), True),
        (str(first), True),
        (str(first), False),
        (str(second), False),
    ]


@every_engine
async def test_prices_stay_exact_over_the_wire(transport: str, anyio_backend: str) -> None:
    async with served(transport) as (fake, client):
        page = await client.keyword_search(
            "mug results:200", platform="1688", price_min="10.50", price_max=Decimal("30")
        )
    assert page.items
    assert all(isinstance(p.price, Decimal) for p in page.items)
    assert all(Decimal("10.50") <= (p.price or 0) <= 30 for p in page.items)
    assert fake.requests[0].json["priceStart"] == "10.50"
    assert fake.requests[0].json["priceEnd"] == "30"
