"""`KeywordPager` against the fake's catalog (issue #9, "Tests", the pager's numbers).

Requests are counted in `fake.requests`: the pager must never waste one, must
stop on an API that ignores `page`, must resume exactly, and a `break` must
leave nothing running. In process (`fake.client()`), plus the headline case
over loopback sockets on both transports.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from helpers import ENGINES

from hiobuy_async import AsyncHiobuy, InputError, PagePosition, PlatformName, Product, Sort
from hiobuy_async.testing import FakeHiobuy

pytestmark = pytest.mark.anyio

KEYWORD = FakeHiobuy.keyword_with_results(1234, "lamp")


@asynccontextmanager
async def in_process(**fake_options: Any) -> AsyncIterator[tuple[FakeHiobuy, AsyncHiobuy]]:
    fake = FakeHiobuy(**fake_options)
    async with fake.client() as client:
        yield fake, client


async def all_ids(client: AsyncHiobuy, **kwargs: Any) -> list[int]:
    pager = client.keyword_search_pages(KEYWORD, platform="1688", page_size=40, **kwargs)
    return [product.num_iid async for product in pager.items()]


async def test_1234_results_at_40_per_page_cost_exactly_31_requests(anyio_backend: str) -> None:
    async with in_process() as (fake, client):
        pager = client.keyword_search_pages(KEYWORD, platform="1688", page_size=40)
        pages = [page async for page in pager]
    assert len(fake.requests) == 31
    assert [r.json["page"] for r in fake.requests] == [str(n) for n in range(1, 32)]
    assert {r.json["page_size"] for r in fake.requests} == {"40"}
    assert [len(p.items) for p in pages] == [40] * 30 + [34]
    ids = [p.num_iid for page in pages for p in page.items]
    assert len(ids) == len(set(ids)) == 1234
    assert pages[-1].is_last
    assert (pager.stop_reason, pager.pages_fetched) == ("last_page", 31)
    assert pager.resume_from == PagePosition(32)


@pytest.mark.parametrize("transport", ENGINES)
async def test_1234_results_over_the_wire_cost_31_requests(
    transport: str, anyio_backend: str
) -> None:
    fake = FakeHiobuy()
    async with (
        fake.serve() as base_url,
        AsyncHiobuy(FakeHiobuy.DEFAULT_UUID, base_url=base_url, transport=transport) as client,  # type: ignore[arg-type]
    ):
        ids = await all_ids(client)
    assert len(ids) == len(set(ids)) == 1234
    assert len(fake.requests) == 31
    assert fake.stats.connections == 1  # one kept-alive connection for the whole run


@pytest.mark.parametrize("page_size", [40, 50, 7])
async def test_the_last_page_is_never_followed_by_a_wasted_request(
    page_size: int, anyio_backend: str
) -> None:
    # A full last page too (1200 = 30 x 40): stopped by total_results.
    keyword = FakeHiobuy.keyword_with_results(1200, "desk")
    async with in_process() as (fake, client):
        pager = client.keyword_search_pages(keyword, platform="taobao", page_size=page_size)
        count = len([p async for p in pager.items()])
    assert count == 1200
    assert len(fake.requests) == -(-1200 // page_size)


@pytest.mark.parametrize("empty", [0, 3], ids=["no-results", "short-first-page"])
async def test_one_request_when_the_first_page_ends_it(empty: int, anyio_backend: str) -> None:
    keyword = FakeHiobuy.keyword_with_results(empty, "rare")
    async with in_process() as (fake, client):
        pager = client.keyword_search_pages(keyword, platform="1688")
        found = [p async for p in pager.items()]
    assert len(found) == empty
    assert len(fake.requests) == 1
    assert pager.stop_reason == "last_page"


async def test_max_items_then_resume_continues_at_item_101(anyio_backend: str) -> None:
    async with in_process() as (fake, client):
        everything = await all_ids(client)
        fake.clear()
        first = client.keyword_search_pages(KEYWORD, platform="1688", page_size=40, max_items=100)
        head = [p.num_iid async for p in first.items()]
        assert len(fake.requests) == 3  # 40 + 40 + 20 of the third page
        assert (first.stop_reason, first.resume_from) == ("max_items", PagePosition(3, 20))
        fake.clear()
        rest = client.keyword_search_pages(
            KEYWORD, platform="1688", page_size=40, start=first.resume_from
        )
        tail = [p.num_iid async for p in rest.items()]
    assert head == everything[:100]
    assert tail[0] == everything[100]
    assert head + tail == everything  # no duplicate, no gap
    assert [r.json["page"] for r in fake.requests] == [str(n) for n in range(3, 32)]


async def test_resuming_in_many_slices_hands_out_everything_once(anyio_backend: str) -> None:
    async with in_process() as (fake, client):
        everything = await all_ids(client)
        fake.clear()
        got: list[int] = []
        start: int | PagePosition = 1
        for slice_size in [1, 39, 40, 41, 100, 7, 1000, 1000]:
            pager = client.keyword_search_pages(
                KEYWORD, platform="1688", page_size=40, start=start, max_items=slice_size
            )
            got += [p.num_iid async for p in pager.items()]
            start = pager.resume_from
            if pager.stop_reason == "last_page":
                break
    assert got == everything
    assert pager.stop_reason == "last_page"


@pytest.mark.parametrize(
    ("max_items", "reason"),
    [(1228, "max_items"), (1233, "max_items"), (1234, "last_page"), (5000, "last_page")],
)
@pytest.mark.parametrize("by", ["items", "pages"])
async def test_a_last_page_cut_by_max_items_stops_on_max_items(
    max_items: int, reason: str, by: str, anyio_backend: str
) -> None:
    async with in_process() as (fake, client):
        pager = client.keyword_search_pages(
            KEYWORD, platform="1688", page_size=40, max_items=max_items
        )
        if by == "items":
            head = [p.num_iid async for p in pager.items()]
        else:
            head = [p.num_iid async for page in pager for p in page.items]
        assert len(fake.requests) == 31
        assert pager.stop_reason == reason
        rest = await all_ids(client, start=pager.resume_from)
    assert len(head) == min(max_items, 1234)
    assert len(rest) == 1234 - len(head)
    assert len(set(head + rest)) == 1234


async def test_resume_after_a_break_by_pages(anyio_backend: str) -> None:
    async with in_process() as (_, client):
        everything = await all_ids(client)
        pager = client.keyword_search_pages(KEYWORD, platform="1688", page_size=40)
        head: list[int] = []
        async for page in pager:
            head += [p.num_iid for p in page.items]
            if page.page == 5:
                break
        assert pager.resume_from == PagePosition(6)
        tail = await all_ids(client, start=pager.resume_from)
    assert head + tail == everything


async def test_an_api_that_ignores_page_stops_with_repeated_page(anyio_backend: str) -> None:
    async with in_process(keyword_ignores_page=True) as (fake, client):
        pager = client.keyword_search_pages(KEYWORD, platform="1688", page_size=40)
        with anyio.fail_after(10):
            found = [p.num_iid async for p in pager.items()]
    assert pager.stop_reason == "repeated_page"
    assert len(fake.requests) == 2
    assert [r.json["page"] for r in fake.requests] == ["1", "2"]
    assert len(found) == len(set(found)) == 40


async def test_a_break_leaves_no_request_in_flight(anyio_backend: str) -> None:
    async with in_process() as (fake, client):
        pager = client.keyword_search_pages(KEYWORD, platform="1688", page_size=40)
        seen = 0
        async for _ in pager.items():
            seen += 1
            if seen == 45:  # on the second page
                break
        assert fake.in_flight == 0
        assert len(fake.requests) == 2
        # Nothing runs behind the caller's back: however long the event loop
        # gets to run, no request for a third page arrives.
        with anyio.fail_after(5):
            for _ in range(200):
                await anyio.lowlevel.checkpoint()
        assert len(fake.requests) == 2
        assert fake.in_flight == 0
        assert pager.pages_fetched == 2
        assert pager.resume_from == PagePosition(2, 5)


async def test_cancelling_a_page_fetch_leaves_nothing_in_flight(anyio_backend: str) -> None:
    async with in_process() as (fake, client):
        pager = client.keyword_search_pages(KEYWORD, platform="1688", page_size=40)
        items = pager.items()
        first = await items.__anext__()
        for _ in range(39):
            await items.__anext__()
        fake.hold()
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(items.__anext__)
                await fake.wait_for_in_flight(1)
                tg.cancel_scope.cancel()
        fake.release()
        assert fake.in_flight == 0
        assert len(fake.requests) == 2
        # The cancelled fetch handed nothing out: the position is unchanged.
        assert pager.resume_from == PagePosition(2)
    assert isinstance(first, Product)


def prices(products: list[Product]) -> list[Decimal]:
    assert all(p.price is not None for p in products)
    return [p.price for p in products if p.price is not None]


@pytest.mark.parametrize("platform", ["1688", "taobao"])
async def test_sort_and_price_range_end_to_end(platform: PlatformName, anyio_backend: str) -> None:
    low, high = Decimal("20"), Decimal("60.50")
    async with in_process() as (fake, client):
        pager = client.keyword_search_pages(
            KEYWORD,
            platform=platform,
            page_size=50,
            sort=Sort.PRICE_ASC,
            price_min=low,
            price_max="60.50",
        )
        ascending = [p async for p in pager.items()]
        total = await client.keyword_search(
            KEYWORD, platform=platform, price_min=low, price_max=high
        )
        descending = [
            p
            async for p in client.keyword_search_pages(
                KEYWORD, platform=platform, page_size=50, sort="bid2", price_min=low, price_max=high
            ).items()
        ]
        by_sales = [
            p
            async for p in client.keyword_search_pages(
                KEYWORD, platform=platform, page_size=50, sort=Sort.SALES_DESC, max_pages=3
            ).items()
        ]
    assert 0 < len(ascending) < 1234
    assert len(ascending) == total.total_results
    assert all(low <= price <= high for price in prices(ascending))
    assert prices(ascending) == sorted(prices(ascending))
    assert prices(descending) == sorted(prices(descending), reverse=True)
    assert {p.num_iid for p in descending} == {p.num_iid for p in ascending}
    sales = [p.sales for p in by_sales]
    assert len(sales) == 150
    assert sales == sorted(sales, reverse=True)  # type: ignore[type-var]
    bodies = [r.json for r in fake.requests if r.json.get("sort") == "bid"]
    assert {(b["priceStart"], b["priceEnd"]) for b in bodies} == {("20", "60.50")}


@pytest.mark.parametrize(
    "start", [10**12, PagePosition(page=10**12), PagePosition(2, 40), PagePosition(2, 10**6)]
)
async def test_a_start_past_the_pages_or_the_page_is_refused_before_any_request(
    start: int | PagePosition, anyio_backend: str
) -> None:
    async with in_process() as (fake, client):
        with pytest.raises(InputError, match="start"):
            client.keyword_search_pages(KEYWORD, platform="1688", page_size=40, start=start)
        with pytest.raises(InputError, match="page"):
            await client.keyword_search(KEYWORD, platform="1688", page=10**12)
    assert fake.requests == []


async def test_awaiting_or_for_looping_a_pager_says_to_use_async_for() -> None:
    hint = r"use `async for product in pager.items\(\)`"
    async with in_process() as (fake, client):
        pager = client.keyword_search_pages(KEYWORD, platform="1688")
        with pytest.raises(TypeError, match=rf"not awaited: {hint}"):
            await pager  # type: ignore[misc]
        with pytest.raises(TypeError, match=rf"not `for`: {hint}"):
            list(pager)  # type: ignore[call-overload]
        with pytest.raises(TypeError, match=rf"pager.items\(\) .* not `for`: {hint}"):
            list(pager.items())  # type: ignore[call-overload]
    assert fake.requests == []
