"""Issue #18, points 4 and 7 end to end: answers shaped as upstreams really send them.

1688-native pages (`use_platform="1"`) and pages holding one odd item, served by
the fake over loopback sockets on every engine, read through the client and the
pager: nothing read as an empty success, no good product lost.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from helpers import ENGINES

from hiobuy_async import AsyncHiobuy, Product
from hiobuy_async.testing import FakeHiobuy, Fault

pytestmark = pytest.mark.anyio

KEYWORD = FakeHiobuy.keyword_with_results(95, "lamp")


def answer(data: object) -> str:
    return json.dumps({"ret": 1, "msg": "success", "data": data})


async def native_items(fake: FakeHiobuy, page: int) -> list[dict[str, Any]]:
    """The fake's own 1688-native items of one page, as it sends them in `items.item`."""
    async with fake.client() as client:
        found = await client.keyword_search(
            KEYWORD, platform="1688", use_platform=True, page=page, page_size=20
        )
    items: list[dict[str, Any]] = found.raw["items"]["item"]
    return items


@pytest.mark.parametrize("transport", ENGINES)
async def test_use_platform_pages_in_1688s_own_shape_are_read_not_empty(
    transport: str, anyio_backend: str
) -> None:
    fake = FakeHiobuy()
    pages = [await native_items(fake, page) for page in range(1, 6)]
    for natives in pages:  # 1688's page object, as the envelope's data
        fake.fail_next(1, Fault.status(200, answer({"totalRecords": 95, "data": natives})))
    async with (
        fake.serve() as base_url,
        AsyncHiobuy(FakeHiobuy.DEFAULT_UUID, base_url=base_url, transport=transport) as client,  # type: ignore[arg-type]
    ):
        pager = client.keyword_search_pages(
            KEYWORD, platform="1688", use_platform=True, page_size=20
        )
        products = [product async for product in pager.items()]
        details = await client.product_details(products[0])  # the platform from detail_url

    assert len(products) == 95
    assert pager.stop_reason == "last_page"
    first, native = products[0], pages[0][0]
    assert first.num_iid == native["offerId"]
    assert (first.title_cn, first.title) == (native["subject"], native["subjectTrans"])
    assert first.pic_url == native["imageUrl"]
    assert first.price == Decimal(native["priceInfo"]["price"])
    assert first.sales == native["monthSold"]
    assert first.detail_url == f"https://detail.1688.com/offer/{native['offerId']}.html"
    assert first.extra == native
    assert details.num_iid == first.num_iid


@pytest.mark.parametrize("transport", ENGINES)
async def test_one_odd_item_does_not_cost_the_page(transport: str, anyio_backend: str) -> None:
    fake = FakeHiobuy()
    async with fake.client() as client:
        found = await client.keyword_search(KEYWORD, platform="taobao", page=1, page_size=20)
    items: list[dict[str, Any]] = [dict(item) for item in found.raw["items"]["item"]]
    items[3]["price"] = "21.80-25.00"
    items[7]["sales"] = "1,000"
    del items[11]["num_iid"]  # no id: dropped, and counted
    fake.fail_next(1, Fault.status(200, answer({"items": {"item": items, "total_results": -1}})))
    async with (
        fake.serve() as base_url,
        AsyncHiobuy(FakeHiobuy.DEFAULT_UUID, base_url=base_url, transport=transport) as client,  # type: ignore[arg-type]
    ):
        page = await client.keyword_search(KEYWORD, platform="taobao", page=1, page_size=20)

    assert len(page.items) == 19
    assert page.dropped_items == 1
    assert page.total_results is None
    assert not page.is_last  # 20 served: a full page, the count unknown
    ranged = page.items[3]
    assert (ranged.price, ranged.price_range) == (None, (Decimal("21.80"), Decimal("25.00")))
    assert ranged.extra == {"price": "21.80-25.00"}
    assert page.items[7].sales is None
    assert page.items[7].extra == {"sales": "1,000"}
    assert all(isinstance(p, Product) and p.price is not None for p in page.items[:3])
