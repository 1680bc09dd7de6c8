"""FakeHiobuy's four endpoints over raw httpx: one catalog, honest paging, agreeing ids.

Every test runs in process (`fake.transport()`) and over a real socket
(`fake.serve()`), on asyncio and trio: the SDK has no methods for these
endpoints yet, so the fake is checked on its own terms.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from hiobuy_async.testing import FAKE_BASE_URL, FakeHiobuy, Fault, _catalog, _model

IMAGE = "/api/client/third-purchase/image/query"
KEYWORD = "/api/client/third-purchase/search"
DETAILS = "/api/client/third-purchase/info"
SHOP = "/api/client/open-purchase/shop-nick"
UUID = {"X-Uuid": FakeHiobuy.DEFAULT_UUID}
CARRIERS = ["in_process", "socket"]
IMG = FakeHiobuy.sample_images()[0]


@asynccontextmanager
async def connect(fake: FakeHiobuy, via: str) -> AsyncIterator[httpx.AsyncClient]:
    """A raw httpx client to `fake`, in process or over a loopback socket, sending the uuid."""
    if via == "in_process":
        async with httpx.AsyncClient(
            transport=fake.transport(), base_url=FAKE_BASE_URL, headers=UUID
        ) as client:
            yield client
        return
    async with fake.serve() as base_url, httpx.AsyncClient(base_url=base_url, headers=UUID) as c:
        yield c


async def envelope(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], **headers: str
) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=headers)
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


async def data(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], **headers: str
) -> dict[str, Any]:
    document = await envelope(client, path, body, **headers)
    assert document["ret"] == 1, document
    result: dict[str, Any] = document["data"]
    return result


async def keyword_page(
    client: httpx.AsyncClient, keyword: str, page: int, page_size: int = 20, **extra: str
) -> dict[str, Any]:
    body = {
        "keyword": keyword,
        "platform": "1688",
        "page": str(page),
        "page_size": str(page_size),
        **extra,
    }
    items: dict[str, Any] = (await data(client, KEYWORD, body))["items"]
    return items


async def all_pages(
    client: httpx.AsyncClient, keyword: str, page_size: int, **extra: str
) -> list[list[dict[str, Any]]]:
    """Every page up to and including the first short (or empty) one."""
    pages = []
    for page in range(1, 1000):
        items = await keyword_page(client, keyword, page, page_size, **extra)
        pages.append(items["item"])
        if len(items["item"]) < page_size:
            return pages
    raise AssertionError("no last page")


async def details(
    client: httpx.AsyncClient, keyword: str | int, platform: str = "1688", **headers: str
) -> dict[str, Any]:
    return await data(client, DETAILS, {"keyword": keyword, "platform": platform}, **headers)


async def shop_nick(client: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    response = await client.get(SHOP, params=params)
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


@pytest.mark.anyio
@pytest.mark.parametrize("via", CARRIERS)
async def test_keyword_1234_results_at_40_per_page_are_31_pages_the_last_of_34(via: str) -> None:
    keyword = FakeHiobuy.keyword_with_results(1234, "lamp")
    async with connect(FakeHiobuy(), via) as client:
        pages = await all_pages(client, keyword, 40)
        first = await keyword_page(client, keyword, 1, 40)
        past_end = await keyword_page(client, keyword, 32, 40)
        far_past = await keyword_page(client, keyword, 500, 40)
    assert [len(p) for p in pages] == [40] * 30 + [34]
    ids = [item["num_iid"] for page in pages for item in page]
    assert len(set(ids)) == len(ids) == first["total_results"] == 1234
    assert past_end == far_past == {"item": [], "total_results": 1234}


@pytest.mark.anyio
@pytest.mark.parametrize("via", CARRIERS)
async def test_ordinary_keywords_give_short_last_pages_and_some_give_nothing(via: str) -> None:
    words = [f"word{n}" for n in range(40)]
    async with connect(FakeHiobuy(), via) as client:
        totals = {w: (await keyword_page(client, w, 1))["total_results"] for w in words}
        short = next(w for w, total in totals.items() if total > 20 and total % 20)
        pages = await all_pages(client, short, 20)
    assert 0 in totals.values()
    assert 0 < len(pages[-1]) < 20
    ids = {item["num_iid"] for page in pages for item in page}
    assert len(ids) == totals[short] == sum(len(p) for p in pages)


def _decimal(item: dict[str, Any]) -> Decimal:
    return Decimal(item["price"])


SORT_KEYS = {
    "bid2": lambda item: (-_decimal(item), item["num_iid"]),
    "bid": lambda item: (_decimal(item), item["num_iid"]),
    "sale2": lambda item: (-item["sales"], item["num_iid"]),
    "sale": lambda item: (item["sales"], item["num_iid"]),
}


@pytest.mark.anyio
@pytest.mark.parametrize("via", CARRIERS)
async def test_keyword_sort_orders_really_hold_across_pages(via: str) -> None:
    keyword = FakeHiobuy.keyword_with_results(130, "sorted")
    async with connect(FakeHiobuy(), via) as client:
        plain = [i for p in await all_pages(client, keyword, 50) for i in p]
        by_sort = {
            sort: [i for p in await all_pages(client, keyword, 50, sort=sort) for i in p]
            for sort in SORT_KEYS
        }
    assert len(plain) == 130
    for sort, items in by_sort.items():
        expected = sorted(plain, key=SORT_KEYS[sort])
        assert [i["num_iid"] for i in items] == [i["num_iid"] for i in expected], sort
    assert by_sort["bid2"][0]["num_iid"] != plain[0]["num_iid"]  # relevance is not price


@pytest.mark.anyio
@pytest.mark.parametrize("via", CARRIERS)
async def test_keyword_price_range_is_inclusive_and_total_results_counts_it(via: str) -> None:
    keyword = FakeHiobuy.keyword_with_results(200, "priced")
    async with connect(FakeHiobuy(), via) as client:
        everything = [i for p in await all_pages(client, keyword, 50) for i in p]
        prices = sorted({_decimal(i) for i in everything})
        low, high = prices[40], prices[120]
        ranged = await all_pages(
            client, keyword, 50, priceStart=str(low), priceEnd=str(high), sort="bid"
        )
        total = (await keyword_page(client, keyword, 1, priceStart=str(low), priceEnd=str(high)))[
            "total_results"
        ]
    kept = [i for p in ranged for i in p]
    expected = [i for i in everything if low <= _decimal(i) <= high]
    assert total == len(kept) == len(expected) > 0
    assert {i["num_iid"] for i in kept} == {i["num_iid"] for i in expected}
    assert _decimal(kept[0]) == low
    assert _decimal(kept[-1]) == high


@pytest.mark.anyio
@pytest.mark.parametrize("via", CARRIERS)
@pytest.mark.parametrize(
    "bad",
    [
        {"page_size": "51"},
        {"page_size": "0"},
        {"page": "0"},
        {"page": "two"},
        {"sort": "price"},
        {"priceStart": "cheap"},
        {"priceEnd": "-1"},
        {"keyword": "  "},
        {"keyword": FakeHiobuy.keyword_with_results(10_001)},
        {"platform": "taobao", "use_platform": "1"},
        {"platform": "taobao", "filter": ["new7"]},
    ],
)
async def test_keyword_search_refuses_bad_bodies_with_ret_not_1(
    via: str, bad: dict[str, Any]
) -> None:
    body = {"keyword": "lamp", "platform": "1688", "page": "1", "page_size": "50", **bad}
    async with connect(FakeHiobuy(), via) as client:
        document = await envelope(client, KEYWORD, body)
    assert document["ret"] != 1
    assert document["msg"]


@pytest.mark.anyio
@pytest.mark.parametrize("via", CARRIERS)
async def test_ignore_page_quirk_repeats_page_1(via: str) -> None:
    keyword = FakeHiobuy.keyword_with_results(100)
    fake = FakeHiobuy(keyword_ignores_page=True)
    async with connect(fake, via) as client:
        pages = [await keyword_page(client, keyword, page) for page in (1, 2, 3)]
        fake.keyword_ignores_page = False
        honest = await keyword_page(client, keyword, 2)
    assert pages[0]["item"]
    assert pages[0] == pages[1] == pages[2]
    assert honest["item"] != pages[0]["item"]


def _odd_forms(properties: list[str]) -> set[str]:
    forms = set()
    for text in properties:
        if "\uff1a" in text or "\uff1b" in text:
            forms.add("full-width")
        if ";;" in text:
            forms.add("empty part")
        if any(part.count(":") > 1 for part in text.split(";")):
            forms.add("colon in value")
    return forms


def _assert_details_agree(found: dict[str, Any], got: dict[str, Any]) -> None:
    assert got["num_iid"] == found["num_iid"]
    assert (got["title"], got["title_cn"]) == (found["title"], found["title_cn"])
    low, high = Decimal(got["price"]), Decimal(got["max_price"])
    assert low <= Decimal(found["price"]) <= high <= Decimal(got["orginal_price"])
    assert 4 <= len(got["skus"]["sku"]) <= 8
    for sku in got["skus"]["sku"]:
        assert low <= Decimal(sku["price"]) <= high
        assert isinstance(sku["quantity"], int)
        assert isinstance(sku["sku_id"], int)
        assert isinstance(sku["spec_id"], str)
    assert isinstance(got["shop_id"], str)
    assert got["desc"].startswith("<")


@pytest.mark.anyio
@pytest.mark.parametrize("via", CARRIERS)
@pytest.mark.parametrize(("platform", "language"), [("1688", "en_US"), ("taobao", "vi_VN")])
async def test_details_of_search_hits_agree_with_the_search(
    via: str, platform: str, language: str
) -> None:
    headers = {"Language": language}
    async with connect(FakeHiobuy(), via) as client:
        by_image = await data(client, IMAGE, {"img": IMG, "platform": platform}, **headers)
        by_keyword = await data(
            client,
            KEYWORD,
            {"keyword": "teapot results:15", "platform": platform, "sort": "bid2"},
            **headers,
        )
        hits = by_image["items"]["item"] + by_keyword["items"]["item"]
        found = [
            (hit, await details(client, str(hit["num_iid"]), platform, **headers)) for hit in hits
        ]
    assert len(found) == 35
    properties = []
    for hit, got in found:
        assert got["title"] != got["title_cn"]  # localised
        _assert_details_agree(hit, got)
        properties += [sku["properties"] for sku in got["skus"]["sku"]]
    assert _odd_forms(properties) == {"full-width", "empty part", "colon in value"}
    assert any(p.count(":") == 2 and ";" in p and ";;" not in p for p in properties)  # plain


@pytest.mark.anyio
@pytest.mark.parametrize("via", CARRIERS)
async def test_details_by_url_equal_details_by_id(via: str) -> None:
    async with connect(FakeHiobuy(), via) as client:
        offer = (await data(client, IMAGE, {"img": IMG, "platform": "1688"}))["items"]["item"][0]
        item = (await data(client, IMAGE, {"img": IMG, "platform": "taobao"}))["items"]["item"][0]
        i, t = offer["num_iid"], item["num_iid"]
        by_id_1688 = await details(client, str(i))
        by_number = await details(client, i)
        urls_1688 = [
            offer["detail_url"],
            f"https://detail.1688.com/offer/{i}.html?spm=a2615",
            f"http://m.1688.com/offer/{i}.html",
        ]
        by_url_1688 = [await details(client, url) for url in urls_1688]
        by_id_taobao = await details(client, str(t), "taobao")
        urls_taobao = [
            item["detail_url"],
            f"https://detail.tmall.com/item.htm?spm=x&id={t}",
        ]
        by_url_taobao = [await details(client, url, "taobao") for url in urls_taobao]
        mismatch = await envelope(client, DETAILS, {"keyword": urls_1688[0], "platform": "taobao"})
    assert by_id_1688["num_iid"] == i
    assert by_url_1688 == [by_id_1688] * 3 == [by_number] * 3
    assert by_url_taobao == [by_id_taobao] * 2
    assert by_id_taobao["num_iid"] == t
    assert mismatch["ret"] != 1


@pytest.mark.anyio
@pytest.mark.parametrize("via", CARRIERS)
@pytest.mark.parametrize(
    "keyword",
    [
        str(FakeHiobuy.unknown_product_id()),
        FakeHiobuy.unknown_product_id(7),
        f"https://detail.1688.com/offer/{FakeHiobuy.unknown_product_id()}.html",
        "123",
        "0",
        "not an id",
        "https://shop.example.com/p/808368541552",
    ],
)
async def test_unknown_products_are_ret_0_with_a_msg(via: str, keyword: str | int) -> None:
    async with connect(FakeHiobuy(), via) as client:
        document = await envelope(client, DETAILS, {"keyword": keyword, "platform": "1688"})
    assert document["ret"] != 1
    assert document["msg"] == "product not found"


@pytest.mark.anyio
@pytest.mark.parametrize("via", CARRIERS)
async def test_shop_nick_resolves_a_details_shop_id_and_refuses_the_rest(via: str) -> None:
    async with connect(FakeHiobuy(), via) as client:
        hits = (await data(client, IMAGE, {"img": IMG, "platform": "1688"}))["items"]["item"]
        shop_ids = [(await details(client, h["num_iid"]))["shop_id"] for h in hits[:5]]
        nicks = [await shop_nick(client, shop_id=shop_id) for shop_id in shop_ids]
        again = await shop_nick(client, shop_id=shop_ids[0])
        taobao_hit = (await data(client, IMAGE, {"img": IMG, "platform": "taobao"}))["items"]
        taobao_shop = (await details(client, taobao_hit["item"][0]["num_iid"], "taobao"))["shop_id"]
        refused = [
            await shop_nick(client, shop_id=FakeHiobuy.unknown_shop_id()),
            await shop_nick(client, shop_id=taobao_shop),
            await shop_nick(client, shop_id=shop_ids[0], platform="taobao"),
            await shop_nick(client, shop_id=""),
            await shop_nick(client),
        ]
    for nick in nicks:
        assert nick["ret"] == 1
        assert isinstance(nick["data"]["wangwangNick"], str)
        assert nick["data"]["wangwangNick"]
    assert again == nicks[0]
    assert all(s.isascii() and s.isalnum() for s in shop_ids)
    for document in refused:
        assert document["ret"] != 1
        assert document["msg"]


ROUTES: list[tuple[str, str, dict[str, Any] | None, dict[str, str] | None]] = [
    ("POST", IMAGE, {"img": IMG, "platform": "1688"}, None),
    ("POST", KEYWORD, {"keyword": "lamp", "platform": "1688"}, None),
    ("POST", DETAILS, {"keyword": "700000000000", "platform": "1688"}, None),
    ("GET", SHOP, None, {"shop_id": "placeholder"}),
]


@pytest.mark.anyio
@pytest.mark.parametrize("via", CARRIERS)
@pytest.mark.parametrize(("method", "path", "body", "params"), ROUTES)
async def test_every_route_checks_the_uuid(
    via: str, method: str, path: str, body: dict[str, Any] | None, params: dict[str, str] | None
) -> None:
    fake = FakeHiobuy()
    async with connect(fake, via) as client:
        statuses = [
            (
                await client.request(method, path, json=body, params=params, headers=headers)
            ).status_code
            for headers in ({"X-Uuid": "intruder"}, {"X-Uuid": ""})
        ]
        wrong_method = await client.request("PUT", path, json=body)
    assert statuses == [401, 401]
    assert wrong_method.status_code == 405
    endpoints = {r.endpoint for r in fake.requests}
    assert len(endpoints) == 1
    assert None not in endpoints


LOCALE_CASES = [
    (*route, platform, good, bad)
    for route in ROUTES
    for platform, good, bad in [("1688", "ar", "fr_FR"), ("taobao", "vi_VN", "ko_KR")]
    if not (route[1] == SHOP and platform == "taobao")  # shop-nick is 1688 only
]


@pytest.mark.anyio
@pytest.mark.parametrize("via", CARRIERS)
@pytest.mark.parametrize(
    ("method", "path", "body", "params", "platform", "good", "bad"), LOCALE_CASES
)
async def test_every_route_checks_the_locale_per_marketplace(
    via: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    params: dict[str, str] | None,
    platform: str,
    good: str,
    bad: str,
) -> None:
    fake = FakeHiobuy()
    async with connect(fake, via) as client:
        if path == SHOP:
            hit = await data(client, DETAILS, {"keyword": "700000000000", "platform": "1688"})
            params = {"shop_id": hit["shop_id"]}
        if body is not None:
            body = {**body, "platform": platform}
        answers = [
            (await client.request(method, path, json=body, params=params, headers=headers)).json()
            for headers in ({"Language": good}, {"Language": bad})
        ]
    assert answers[0]["ret"] == 1
    assert answers[1]["ret"] != 1
    assert bad in answers[1]["msg"]


@pytest.mark.anyio
@pytest.mark.parametrize("via", CARRIERS)
async def test_fail_matching_by_endpoint_and_subject_hits_only_those(via: str) -> None:
    fake = FakeHiobuy()
    product = "700000000000"
    fake.fail_matching(endpoint="product_details", subject=product, fault=Fault.status(503))
    fake.fail_matching(endpoint="shop_nick", fault=Fault.api_error(msg="busy"), times=1)
    async with connect(fake, via) as client:
        hit = await client.post(DETAILS, json={"keyword": product, "platform": "1688"})
        as_url = await details(client, f"https://detail.1688.com/offer/{product}.html")
        other = await details(client, "700000000001")
        same_text_elsewhere = await data(client, KEYWORD, {"keyword": product, "platform": "1688"})
        image = await data(client, IMAGE, {"img": IMG, "platform": "1688"})
        again = await client.post(DETAILS, json={"keyword": product, "platform": "1688"})
        busy = await shop_nick(client, shop_id=as_url["shop_id"])
        free = await shop_nick(client, shop_id=as_url["shop_id"])
    assert hit.status_code == again.status_code == 503
    assert as_url["num_iid"] == int(product)  # the subject is the keyword as sent
    assert other["num_iid"] == 700000000001
    assert same_text_elsewhere["items"]
    assert image["items"]
    assert (busy["ret"], busy["msg"], free["ret"]) == (0, "busy", 1)
    assert [r.endpoint for r in fake.requests] == [
        "product_details",
        "product_details",
        "product_details",
        "keyword_search",
        "image_search",
        "product_details",
        "shop_nick",
        "shop_nick",
    ]
    assert [r.fault is not None for r in fake.requests] == [
        True, False, False, False, False, True, True, False,
    ]  # fmt: skip


@pytest.mark.anyio
@pytest.mark.parametrize("via", CARRIERS)
async def test_fail_next_and_substring_rules_reach_every_endpoint(via: str) -> None:
    fake = FakeHiobuy()
    fake.fail_matching("results:", Fault.status(500), times=1)
    fake.fail_next(1, Fault.rate_limit(retry_after=None))
    async with connect(fake, via) as client:
        keyword = await client.post(KEYWORD, json={"keyword": "x results:5", "platform": "1688"})
        shop = await client.get(SHOP, params={"shop_id": "anything"})
        ok = await shop_nick(client, shop_id="anything")
    assert (keyword.status_code, shop.status_code) == (500, 429)
    assert ok["msg"] == "shop not found"


def test_fail_matching_arguments_are_checked() -> None:
    fake = FakeHiobuy()
    with pytest.raises(ValueError, match="unknown endpoint"):
        fake.fail_matching(endpoint="checkout", fault=Fault.reset())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="fault"):
        fake.fail_matching("x")
    with pytest.raises(TypeError, match="substring, a subject or an endpoint"):
        fake.fail_matching(fault=Fault.reset())


@pytest.mark.anyio
@pytest.mark.parametrize("via", CARRIERS)
async def test_hold_counts_requests_to_every_endpoint(via: str) -> None:
    fake = FakeHiobuy()
    answers: list[int] = []
    fake.hold()
    async with connect(fake, via) as client, anyio.create_task_group() as tg:

        async def send(method: str, path: str, body: Any, params: Any) -> None:
            response = await client.request(method, path, json=body, params=params)
            answers.append(response.status_code)

        for route in ROUTES:
            tg.start_soon(send, *route)
        with anyio.fail_after(10):
            await fake.wait_for_in_flight(4)
        assert fake.in_flight == 4
        assert answers == []
        fake.release()
    assert answers == [200] * 4
    assert {r.endpoint for r in fake.requests} == {
        "image_search",
        "keyword_search",
        "product_details",
        "shop_nick",
    }


_OTHER_PROCESS = """
import json
from hiobuy_async.testing import _catalog, _model
ids = _catalog.keyword_matches("lamp results:30", "1688")
item = _catalog.product(ids[0], "taobao")
nick = _catalog.shop(item.shop_id).nick
print(json.dumps([list(ids), _model.details_data(item, locale="ja"), nick]))
"""


def test_the_catalog_is_the_same_in_another_process() -> None:
    ids = _catalog.keyword_matches("lamp results:30", "1688")
    item = _catalog.product(ids[0], "taobao")
    assert item is not None
    shop = _catalog.shop(item.shop_id)
    assert shop is not None
    here = [list(ids), _model.details_data(item, locale="ja"), shop.nick]
    done = subprocess.run(
        [sys.executable, "-c", _OTHER_PROCESS],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    assert json.loads(done.stdout) == json.loads(json.dumps(here))
