"""Each endpoint end to end through the client, on `httpx.MockTransport` (issue #9, "Tests").

What goes out (method, path, body, query, headers), what is refused before
any I/O, how realistic answers are structured, and how every failing answer
is mapped: through `AsyncHiobuy`, not the endpoint modules' pure functions.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import helpers
import httpx
import pytest
from helpers import Recorder

from hiobuy_async import (
    APIError,
    AsyncHiobuy,
    AuthenticationError,
    HiobuyError,
    InputError,
    PlatformName,
    Product,
    ResponseValidationError,
    ServerError,
    Sku,
    Sort,
)

pytestmark = pytest.mark.anyio

BASE = "https://api.hiobuy.test"
UUID = "test-uuid-requests-0001"
ID = 612345678901
BIG = 2**63 - 1

Handler = Callable[[httpx.Request], httpx.Response]


def envelope(data: Any, *, ret: Any = 1, msg: str = "success") -> httpx.Response:
    return httpx.Response(
        200, json={"ret": ret, "msg": msg, "data": data}, headers={"x-request-id": "rid-1"}
    )


SEARCH_DATA = {"items": {"item": [{"num_iid": ID, "price": "1.00"}], "total_results": 1}}
OK_DATA: dict[str, Any] = {
    "image_search": SEARCH_DATA,
    "keyword_search": SEARCH_DATA,
    "product_details": {"num_iid": ID},
    "shop_nick": {"wangwangNick": "nick"},
}


def success(request: httpx.Request) -> httpx.Response:
    """The success answer of the request's endpoint (the recorders' `otherwise` here)."""
    name = {
        "/api/client/third-purchase/image/query": "image_search",
        "/api/client/third-purchase/search": "keyword_search",
        "/api/client/third-purchase/info": "product_details",
        "/api/client/open-purchase/shop-nick": "shop_nick",
    }[request.url.path]
    return envelope(OK_DATA[name])


mock_client = functools.partial(helpers.mock_client, uuid=UUID, base_url=BASE, max_retries=0)


def never_called(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no request may be sent: {request.method} {request.url}")


# --- keyword search -------------------------------------------------------------------


async def test_keyword_search_sends_every_field_as_documented(anyio_backend: str) -> None:
    rec = Recorder(otherwise=success)
    async with mock_client(rec) as client:
        await client.keyword_search(
            "  desk lamp ",
            platform="1688",
            page=3,
            page_size=40,
            sort=Sort.PRICE_ASC,
            price_min=Decimal("9.90"),
            price_max="100",
            use_platform=True,
            filters=["certifiedFactory"],
        )
    request = rec.only
    assert request.method == "POST"
    assert str(request.url) == BASE + "/api/client/third-purchase/search"
    assert request.headers["Content-Type"] == "application/json"
    assert rec.body() == {
        "keyword": "desk lamp",
        "platform": "1688",
        "page": "3",
        "page_size": "40",
        "sort": "bid",
        "priceStart": "9.90",
        "priceEnd": "100",
        "use_platform": "1",
        "filter": ["certifiedFactory"],
    }


async def test_keyword_search_on_taobao_sends_no_1688_fields(anyio_backend: str) -> None:
    rec = Recorder(otherwise=success)
    async with mock_client(rec) as client:
        await client.keyword_search("lamp", platform="taobao")
        await client.keyword_search(
            "lamp", platform="taobao", sort="sale2", price_min=0, price_max=Decimal("1E+1")
        )
    assert rec.body(0) == {"keyword": "lamp", "platform": "taobao", "page": "1", "page_size": "20"}
    assert rec.body(1) == {
        "keyword": "lamp",
        "platform": "taobao",
        "page": "1",
        "page_size": "20",
        "sort": "sale2",
        "priceStart": "0",
        "priceEnd": "10",
    }


async def test_keyword_search_1688_without_use_platform_sends_zero(anyio_backend: str) -> None:
    rec = Recorder(otherwise=success)
    async with mock_client(rec) as client:
        await client.keyword_search("lamp", platform="1688", price_max=5)
    assert rec.body() == {
        "keyword": "lamp",
        "platform": "1688",
        "page": "1",
        "page_size": "20",
        "priceEnd": "5",
        "use_platform": "0",
    }


async def test_a_negative_zero_price_is_sent_as_zero(anyio_backend: str) -> None:
    rec = Recorder(otherwise=success)
    async with mock_client(rec) as client:
        await client.keyword_search(
            "lamp", platform="taobao", price_min=Decimal("-0"), price_max=Decimal("-0.00")
        )
    assert (rec.body()["priceStart"], rec.body()["priceEnd"]) == ("0", "0.00")


async def test_the_pager_sends_the_same_body_with_each_page(anyio_backend: str) -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        page = int(json.loads(request.content)["page"])
        items = [{"num_iid": page * 10 + n} for n in range(2)]
        return envelope({"items": {"item": items, "total_results": 9}})

    rec = Recorder(otherwise=success)
    rec.requests = requests
    async with mock_client(handler) as client:
        pager = client.keyword_search_pages(
            "lamp", platform="taobao", page_size=2, sort="bid2", start=2, max_pages=2
        )
        pages = [page.page async for page in pager]
    assert pages == [2, 3]
    assert [rec.body(i)["page"] for i in range(2)] == ["2", "3"]
    assert {rec.body(i)["sort"] for i in range(2)} == {"bid2"}
    assert {rec.body(i)["page_size"] for i in range(2)} == {"2"}


# --- product details ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("product", "platform", "body"),
    [
        (ID, "1688", {"keyword": str(ID), "platform": "1688", "use_platform": "0"}),
        (str(ID), "taobao", {"keyword": str(ID), "platform": "taobao"}),
        (
            f"https://detail.1688.com/offer/{ID}.html?spm=a",
            None,
            {"keyword": str(ID), "platform": "1688", "use_platform": "0"},
        ),
        (
            f"https://item.taobao.com/item.htm?spm=x&id={ID}",
            None,
            {"keyword": str(ID), "platform": "taobao"},
        ),
        (
            "https://shop.example.com/p/12?ref=1&x=%20",
            "taobao",
            {"keyword": "https://shop.example.com/p/12?ref=1&x=%20", "platform": "taobao"},
        ),
        (
            Product(num_iid=BIG, detail_url=f"https://detail.tmall.com/item.htm?id={BIG}"),
            None,
            {"keyword": str(BIG), "platform": "taobao"},
        ),
    ],
    ids=["int", "digits", "1688-url", "taobao-url", "other-url", "product"],
)
async def test_product_details_request(
    product: Any, platform: PlatformName | None, body: dict[str, str], anyio_backend: str
) -> None:
    rec = Recorder(otherwise=success)
    async with mock_client(rec) as client:
        await client.product_details(product, platform=platform)
    request = rec.only
    assert request.method == "POST"
    assert str(request.url) == BASE + "/api/client/third-purchase/info"
    assert request.headers["Content-Type"] == "application/json"
    assert rec.body() == body


async def test_product_details_use_platform_on_1688(anyio_backend: str) -> None:
    rec = Recorder(otherwise=success)
    async with mock_client(rec) as client:
        await client.product_details(ID, platform="1688", use_platform=True)
    assert rec.body() == {"keyword": str(ID), "platform": "1688", "use_platform": "1"}


# --- shop nick ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shop_id", "query"),
    [
        ("b2b-2213045", b"shop_id=b2b-2213045"),
        ("a%b&c=d/e", b"shop_id=a%25b%26c%3Dd%2Fe"),
        ("x?y#z+1", b"shop_id=x%3Fy%23z%2B1"),
        ("~._-", b"shop_id=~._-"),
    ],
)
async def test_shop_nick_is_a_get_with_the_id_encoded_in_the_query(
    shop_id: str, query: bytes, anyio_backend: str
) -> None:
    rec = Recorder(otherwise=success)
    async with mock_client(rec, language="en_US") as client:
        nick = await client.shop_nick(shop_id)
    request = rec.only
    assert request.method == "GET"
    assert request.url.path == "/api/client/open-purchase/shop-nick"
    assert request.url.query == query
    assert parse_qs(request.url.query.decode(), strict_parsing=True) == {"shop_id": [shop_id]}
    assert request.content == b""
    assert "Content-Type" not in request.headers
    assert "Content-Length" not in request.headers
    # Shop nick takes no locale: the client's default is not sent.
    assert "Language" not in request.headers
    assert request.headers["X-Uuid"] == UUID
    assert nick.shop_id == shop_id


# --- headers shared by the POST endpoints ---------------------------------------------

POST_CALLS: dict[str, Callable[[AsyncHiobuy, str | None], Awaitable[object]]] = {
    "image_search": lambda c, lang: c.image_search(
        "https://example.com/a.jpg", platform="taobao", language=lang
    ),
    "keyword_search": lambda c, lang: c.keyword_search("lamp", platform="taobao", language=lang),
    "product_details": lambda c, lang: c.product_details(ID, platform="taobao", language=lang),
}


@pytest.mark.parametrize("endpoint", list(POST_CALLS))
async def test_language_header_rules(endpoint: str, anyio_backend: str) -> None:
    call = POST_CALLS[endpoint]
    rec = Recorder(otherwise=success)
    async with mock_client(rec) as client:
        await call(client, None)
        await call(client, "vi_VN")
    async with mock_client(rec, language="en_US") as client:
        await call(client, None)
        await call(client, "zh_CN")
    assert [r.headers["Language"] for r in rec.requests] == ["zh_CN", "vi_VN", "en_US", "zh_CN"]
    assert {r.headers["X-Uuid"] for r in rec.requests} == {UUID}
    assert all(UUID.encode() not in r.content for r in rec.requests)
    # A locale the marketplace does not serve is refused before I/O.
    async with mock_client(never_called) as client:
        with pytest.raises(InputError):
            await call(client, "xx_XX")


# --- validation before any I/O --------------------------------------------------------

Call = Callable[[AsyncHiobuy], Awaitable[object]]
BAD_CALLS: list[tuple[str, Call, str]] = [
    ("image_search", lambda c: c.image_search("ftp://x/a.jpg", platform="1688"), "img"),
    ("image_search", lambda c: c.image_search("https://x/a.jpg", platform="ebay"), "platform"),  # type: ignore[arg-type]
    ("keyword_search", lambda c: c.keyword_search("  ", platform="1688"), "keyword"),
    ("keyword_search", lambda c: c.keyword_search("x" * 201, platform="1688"), "200"),
    ("keyword_search", lambda c: c.keyword_search("a\nb", platform="1688"), "keyword"),
    ("keyword_search", lambda c: c.keyword_search(3, platform="1688"), "keyword"),  # type: ignore[arg-type]
    ("keyword_search", lambda c: c.keyword_search("a", platform="1688", page=0), "page"),
    ("keyword_search", lambda c: c.keyword_search("a", platform="1688", page=True), "page"),
    ("keyword_search", lambda c: c.keyword_search("a", platform="1688", page_size=51), "page_size"),
    ("keyword_search", lambda c: c.keyword_search("a", platform="1688", page_size=0), "page_size"),
    ("keyword_search", lambda c: c.keyword_search("a", platform="1688", sort="price"), "sort"),  # type: ignore[arg-type]
    ("keyword_search", lambda c: c.keyword_search("a", platform="1688", price_min=-1), "price"),
    ("keyword_search", lambda c: c.keyword_search("a", platform="1688", price_min=1.5), "price"),  # type: ignore[arg-type]
    (
        "keyword_search",
        lambda c: c.keyword_search("a", platform="1688", price_max="NaN"),
        "price",
    ),
    (
        "keyword_search",
        lambda c: c.keyword_search("a", platform="1688", price_min=5, price_max=4),
        "price_min",
    ),
    (
        "keyword_search",
        lambda c: c.keyword_search("a", platform="taobao", use_platform=True),
        "use_platform",
    ),
    (
        "keyword_search",
        lambda c: c.keyword_search("a", platform="taobao", filters=["certifiedFactory"]),
        "filter",
    ),
    ("product_details", lambda c: c.product_details(0, platform="1688"), "product"),
    ("product_details", lambda c: c.product_details(-5, platform="1688"), "product"),
    ("product_details", lambda c: c.product_details(True, platform="1688"), "product"),
    ("product_details", lambda c: c.product_details("12a", platform="1688"), "product"),
    ("product_details", lambda c: c.product_details(ID), "platform"),
    ("product_details", lambda c: c.product_details("https://example.com/p/1"), "platform"),
    (
        "product_details",
        lambda c: c.product_details(f"https://detail.1688.com/offer/{ID}.html", platform="taobao"),
        "contradicts",
    ),
    (
        "product_details",
        lambda c: c.product_details("https://detail.1688.com/offer/x.html"),
        "no product id",
    ),
    (
        "product_details",
        lambda c: c.product_details(ID, platform="taobao", use_platform=True),
        "use_platform",
    ),
    ("shop_nick", lambda c: c.shop_nick(""), "shop_id"),
    ("shop_nick", lambda c: c.shop_nick("a b"), "shop_id"),
    ("shop_nick", lambda c: c.shop_nick("a\tb"), "shop_id"),
    ("shop_nick", lambda c: c.shop_nick("店铺"), "shop_id"),
    ("shop_nick", lambda c: c.shop_nick("x" * 129), "shop_id"),
    ("shop_nick", lambda c: c.shop_nick(123), "shop_id"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(
    ("endpoint", "call", "fragment"),
    BAD_CALLS,
    ids=[f"{name}-{index}" for index, (name, _, _) in enumerate(BAD_CALLS)],
)
async def test_bad_arguments_are_refused_before_any_request(
    endpoint: str, call: Call, fragment: str, anyio_backend: str
) -> None:
    async with mock_client(never_called) as client:
        with pytest.raises(InputError, match=fragment) as info:
            await call(client)
    assert info.value.endpoint is None


async def test_a_pager_checks_its_arguments_before_any_request(anyio_backend: str) -> None:
    async with mock_client(never_called) as client:
        for kwargs in ({"start": 0}, {"max_pages": 0}, {"max_items": -1}, {"page_size": 99}):
            with pytest.raises(InputError):
                client.keyword_search_pages("lamp", platform="1688", **kwargs)  # type: ignore[arg-type]


# --- structuring realistic answers ----------------------------------------------------


async def test_a_keyword_page_with_missing_null_and_unknown_fields(anyio_backend: str) -> None:
    data = {
        "items": {
            "item": [
                {
                    "num_iid": BIG,
                    "title": "Lamp",
                    "price": "21.80",
                    "sales": None,
                    "tags": None,
                    "promotion_price": "19.90",
                },
                {"num_iid": "612345678902"},
                {"num_iid": 612345678903, "title": None, "price": None, "detail_url": None},
            ],
            "total_results": "1234",
        },
        "page_info": {"next": 2},
    }
    async with mock_client(Recorder(otherwise=envelope(data))) as client:
        page = await client.keyword_search("lamp", platform="taobao", page=2, page_size=3)
    assert [p.num_iid for p in page.items] == [BIG, 612345678902, 612345678903]
    first = page.items[0]
    assert first.price == Decimal("21.80")
    assert first.sales is None
    assert first.tags == ()
    assert first.extra == {"promotion_price": "19.90"}
    assert page.items[2].title is None
    assert (page.page, page.page_size, page.total_results) == (2, 3, 1234)
    assert not page.is_last
    assert page.request_id == "rid-1"
    assert page.raw["page_info"] == {"next": 2}


@pytest.mark.parametrize(
    "data",
    [{}, {"items": None}, {"items": []}, {"items": {"item": None}}, {"items": {"item": []}}],
    ids=["no-items", "null", "bare-list", "null-item", "empty"],
)
async def test_an_empty_keyword_page_is_the_last(data: dict[str, Any], anyio_backend: str) -> None:
    async with mock_client(Recorder(otherwise=envelope(data))) as client:
        page = await client.keyword_search("lamp", platform="1688")
    assert page.items == ()
    assert page.is_last


async def test_details_with_the_misspelt_key_odd_skus_and_big_ids(anyio_backend: str) -> None:
    data = {
        "num_iid": str(BIG),
        "title": "Lamp",
        "title_cn": "台灯",
        "price": "21.80",
        "max_price": "35",
        "orginal_price": "49.90",
        "skus": {
            "sku": [
                {
                    "sku_id": BIG,
                    "price": "21.80",
                    "quantity": 3,
                    "properties": "Color:White;Size:S",
                },
                {"sku_id": "5123456789012", "properties": "颜色：白色；尺码：S", "spec_id": "a1"},
                {"sku_id": 2, "properties": "Color:White;;Size:S;", "quantity": None},
                {"sku_id": 3, "properties": "Spec:Type-C:2m", "sku_flag": "new"},
                {"sku_id": 4, "properties": None},
                {"sku_id": 5},
            ]
        },
        "shop_id": "b2b-22130458a1",
        "desc": "<p>A <b>lamp</b></p>",
        "props_imgs": {"prop_img": []},
    }
    async with mock_client(Recorder(otherwise=envelope(data))) as client:
        details = await client.product_details(ID, platform="1688")
    assert details.num_iid == BIG
    assert (details.price, details.max_price) == (Decimal("21.80"), Decimal("35"))
    assert details.original_price == Decimal("49.90")
    assert details.shop_id == "b2b-22130458a1"
    assert details.desc == "<p>A <b>lamp</b></p>"
    assert details.extra == {"props_imgs": {"prop_img": []}}
    assert details.request_id == "rid-1"
    skus = details.skus
    assert skus[0] == Sku(
        sku_id=BIG,
        price=Decimal("21.80"),
        quantity=3,
        properties=(("Color", "White"), ("Size", "S")),
        properties_text="Color:White;Size:S",
    )
    assert skus[1].sku_id == 5123456789012
    assert skus[1].properties == (("颜色", "白色"), ("尺码", "S"))
    assert skus[1].properties_text == "颜色：白色；尺码：S"
    assert skus[2].properties == (("Color", "White"), ("Size", "S"))
    assert skus[2].quantity is None
    assert skus[3].properties == (("Spec", "Type-C:2m"),)
    assert skus[3].extra == {"sku_flag": "new"}
    assert (skus[4].properties, skus[4].properties_text) == ((), "")
    assert skus[5].price is None


async def test_details_with_only_an_id(anyio_backend: str) -> None:
    data = {"num_iid": ID, "skus": None, "orginal_price": None, "title": None}
    async with mock_client(Recorder(otherwise=envelope(data))) as client:
        details = await client.product_details(ID, platform="taobao")
    assert details.num_iid == ID
    assert details.skus == ()
    assert details.original_price is None
    assert (details.title, details.shop_id, details.desc) == (None, None, None)
    assert details.extra == {}


async def test_details_read_the_fixed_spelling_too(anyio_backend: str) -> None:
    data = {"num_iid": ID, "original_price": "12.00"}
    async with mock_client(Recorder(otherwise=envelope(data))) as client:
        details = await client.product_details(ID, platform="taobao")
    assert details.original_price == Decimal("12.00")
    assert details.extra == {}


@pytest.mark.parametrize(
    ("data", "nick"),
    [
        ({"wangwangNick": "lamp-shop", "shopName": "x"}, "lamp-shop"),
        ({"wangwangNick": None}, None),
        ({}, None),
    ],
)
async def test_shop_nick_answers(
    data: dict[str, Any], nick: str | None, anyio_backend: str
) -> None:
    async with mock_client(Recorder(otherwise=envelope(data))) as client:
        found = await client.shop_nick("b2b-1")
    assert found.wangwang_nick == nick
    assert found.shop_id == "b2b-1"
    assert found.raw == data
    assert found.request_id == "rid-1"


# --- every error path -----------------------------------------------------------------

CALLS: dict[str, Call] = {
    "image_search": lambda c: c.image_search("https://example.com/a.jpg", platform="1688"),
    "keyword_search": lambda c: c.keyword_search("lamp", platform="1688"),
    "product_details": lambda c: c.product_details(ID, platform="1688"),
    "shop_nick": lambda c: c.shop_nick("b2b-1"),
}
BAD_SHAPE: dict[str, Any] = {
    "image_search": {"items": {"item": [{"title": "no id"}]}},
    "keyword_search": {"items": "lamp"},
    "product_details": {"num_iid": "not a number"},
    "shop_nick": {"wangwangNick": {"nick": "x"}},
}
HTML_502 = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


def error_answers(endpoint: str) -> dict[str, tuple[httpx.Response, type[HiobuyError], str]]:
    rid = {"x-request-id": "rid-err"}
    return {
        "401": (httpx.Response(401, text="bad uuid", headers=rid), AuthenticationError, "401"),
        "403": (httpx.Response(403, text="forbidden", headers=rid), AuthenticationError, "403"),
        "ret-0": (envelope(None, ret=0, msg="product not found"), APIError, "product not found"),
        "ret-500": (envelope({}, ret=500, msg="busy"), APIError, "busy"),
        "html-502": (
            httpx.Response(502, content=HTML_502, headers={"content-type": "text/html", **rid}),
            ServerError,
            "502",
        ),
        "truncated-json": (
            httpx.Response(200, content=b'{"ret": 1, "msg": "success", "data": {"ite', headers=rid),
            ResponseValidationError,
            "JSON",
        ),
        "html-200": (
            httpx.Response(200, content=HTML_502, headers=rid),
            ResponseValidationError,
            "JSON",
        ),
        "not-an-envelope": (
            httpx.Response(200, json=[1, 2], headers=rid),
            ResponseValidationError,
            "",
        ),
        "bad-shape": (envelope(BAD_SHAPE[endpoint]), ResponseValidationError, ""),
    }


ERROR_KINDS = list(error_answers("shop_nick"))


@pytest.mark.parametrize("endpoint", list(CALLS))
@pytest.mark.parametrize("kind", ERROR_KINDS)
async def test_error_paths(endpoint: str, kind: str, anyio_backend: str) -> None:
    answer, expected, fragment = error_answers(endpoint)[kind]
    rec = Recorder(otherwise=answer)
    async with mock_client(rec, max_retries=0) as client:
        with pytest.raises(HiobuyError) as info:
            await CALLS[endpoint](client)
    error = info.value
    assert type(error) is expected, repr(error)
    assert fragment in str(error)
    assert error.endpoint == endpoint
    assert error.request_id in {"rid-err", "rid-1"}
    assert len(rec.requests) == 1
    if kind == "ret-0":
        assert isinstance(error, APIError)
        assert (error.ret, error.msg) == (0, "product not found")
    if kind == "html-502":
        assert "Bad Gateway" in (error.body_excerpt or "")
