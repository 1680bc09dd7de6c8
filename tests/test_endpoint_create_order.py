"""Create order: the body as documented, checked before any request; currency; privacy."""

from __future__ import annotations

import copy
import logging
from decimal import Decimal
from typing import Any

import helpers
import httpx
import pytest

from hiobuy_async import (
    Address,
    APIError,
    AsyncHiobuy,
    HiobuyError,
    InputError,
    Order,
    OrderLine,
    OrderSku,
    OrderSkuInfo,
    OrderSubmission,
    PriceRange,
    SkuSpec,
)

pytestmark = pytest.mark.anyio

ADDRESS = helpers.ORDER_ADDRESS
PERSONAL = helpers.ORDER_PERSONAL

INFO = OrderSkuInfo(
    shop_id="b2b-221",
    shop_name="Lamp shop",
    sku_img="https://cbu01.alicdn.com/img/sku.jpg",
    imgs=("https://cbu01.alicdn.com/img/1.jpg",),
    spec_id="c0ffee",
    min_order_quantity=2,
    batch_number=1,
    specs=(SkuSpec("Color", "White"),),
    price_ranges=(PriceRange(2, Decimal("12.50")), PriceRange(100, "11")),
)
ORDER = Order(
    warehouse_id=7,
    user_id="42",
    shop_id="b2b-221",
    shop_name="Lamp shop",
    platform="1688",
    platform_url="https://detail.1688.com/offer/612345678901.html",
    name="Desk lamp",
    skus=(OrderSku(price=Decimal("12.50"), platform_sku=4000000000001, quantity=3, sku_info=INFO),),
    address=ADDRESS,
)
EXPECTED_BODY = {
    "warehouse_id": "7",
    "user_id": "42",
    "shop_id": "b2b-221",
    "shop_name": "Lamp shop",
    "platform": "1688",
    "platform_url": "https://detail.1688.com/offer/612345678901.html",
    "name": "Desk lamp",
    "freight_fee": "0",
    "skus": [
        {
            "price": "12.50",
            "platform_sku": "4000000000001",
            "quantity": "3",
            "sku_info": {
                "shop_id": "b2b-221",
                "shop_name": "Lamp shop",
                "sku_img": "https://cbu01.alicdn.com/img/sku.jpg",
                "imgs": ["https://cbu01.alicdn.com/img/1.jpg"],
                "spec_id": "c0ffee",
                "min_order_quantity": "2",
                "batch_number": "1",
                "specs": [{"label": "Color", "value": "White"}],
                "priceRangeList": [
                    {"startQuantity": "2", "price": "12.50"},
                    {"startQuantity": "100", "price": "11"},
                ],
            },
        }
    ],
    "address": {
        "receiver_name": "Han Meimei",
        "postcode": "200000",
        "province": "Shanghai",
        "city": "Shanghai",
        "district": "Pudong",
        "address": "88 Secret Lane, Room 1702",
        "phone": "13912345678",
    },
}


def mapping_order() -> dict[str, Any]:
    """The same order as a JSON file gives it (what the CLI reads)."""
    return copy.deepcopy(EXPECTED_BODY)


class Recorder(helpers.ReplyRecorder):
    """Answers every request with `reply` (which a test may change)."""

    def __init__(self, reply: bytes = b'{"ret":1,"msg":"Success","data":{"orderSn":"X1"}}') -> None:
        super().__init__(reply, request_id="rid-9")

    def body_sent(self, index: int = -1) -> Any:
        return self.body(index)


async def test_create_order_sends_the_documented_body_as_strings(anyio_backend: str) -> None:
    recorder = Recorder()
    async with recorder.client() as client:
        submission = await client.create_order(ORDER, idempotency_key="order-1")
    (request,) = recorder.requests
    assert request.method == "PUT"
    assert request.url.path == "/api/client/daigou-open/create-order"
    assert "currency" not in request.headers
    assert recorder.body_sent() == EXPECTED_BODY
    assert submission == OrderSubmission(idempotency_key="order-1", request_id="rid-9")
    assert submission.data == {"orderSn": "X1"}  # as it came: no order id is invented


async def test_a_mapping_order_is_sent_like_the_typed_one(anyio_backend: str) -> None:
    recorder = Recorder()
    order = mapping_order()
    order["skus"][0]["quantity"] = 3  # an int in a JSON file: sent as "3"
    async with recorder.client() as client:
        await client.create_order(order)
    assert recorder.body_sent() == EXPECTED_BODY


async def test_fields_the_docs_do_not_list_pass_through_as_given(anyio_backend: str) -> None:
    recorder = Recorder()
    order = mapping_order()
    order["coupon_code"] = {"nested": [1, 2]}
    order["skus"][0]["note"] = 5
    order["skus"][0]["sku_info"]["colour_hex"] = "#fff"
    typed = Order(**{**_fields(ORDER), "extra": {"coupon_code": "C1"}})
    async with recorder.client() as client:
        await client.create_order(order)
        await client.create_order(typed)
    sent = recorder.body_sent(0)
    assert sent["coupon_code"] == {"nested": [1, 2]}
    assert sent["skus"][0]["note"] == 5
    assert sent["skus"][0]["sku_info"]["colour_hex"] == "#fff"
    assert recorder.body_sent(1)["coupon_code"] == "C1"


def _fields(order: Order) -> dict[str, Any]:
    return {name: getattr(order, name) for name in Order.__slots__ if not name.startswith("__")}


async def test_an_address_mapping_is_sent_as_given(anyio_backend: str) -> None:
    recorder = Recorder()
    order = mapping_order()
    order["address"] = {"consignee": "X", "mobile": "1", "country": "CN"}
    async with recorder.client() as client:
        await client.create_order(order)
    assert recorder.body_sent()["address"] == {"consignee": "X", "mobile": "1", "country": "CN"}


async def test_optional_fields_and_the_client_reference_in_remark(anyio_backend: str) -> None:
    recorder = Recorder()
    order = mapping_order()
    order.update(
        title_cn="台灯",
        goods_amount=Decimal("37.50"),
        express_line_id=12,
        freight_fee="6.5",
        remark="gift wrap",
    )
    async with recorder.client() as client:
        submission = await client.create_order(order, client_reference="shop-4711")
        await client.create_order(mapping_order(), client_reference="shop-4712")
    sent = recorder.body_sent(0)
    assert (sent["title_cn"], sent["goods_amount"], sent["express_line_id"]) == (
        "台灯",
        "37.50",
        "12",
    )
    assert sent["freight_fee"] == "6.5"
    assert sent["remark"] == "gift wrap [shop-4711]"
    assert recorder.body_sent(1)["remark"] == "shop-4712"
    assert submission.client_reference == "shop-4711"


async def test_currency_header_from_the_client_and_per_call(anyio_backend: str) -> None:
    recorder = Recorder()
    async with recorder.client(currency="usd") as client:
        await client.create_order(mapping_order())
        await client.create_order(mapping_order(), currency="EUR")
    assert [r.headers.get("currency") for r in recorder.requests] == ["USD", "EUR"]
    with pytest.raises(InputError):
        AsyncHiobuy("u-1", currency="dollars")


def _without(path: str) -> dict[str, Any]:
    order = mapping_order()
    node: Any = order
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    del node[last]
    return order


def _with(path: str, value: object) -> dict[str, Any]:
    order = mapping_order()
    node: Any = order
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[last] = value
    return order


REQUIRED = [
    "warehouse_id",
    "user_id",
    "shop_id",
    "shop_name",
    "platform",
    "platform_url",
    "name",
    "skus",
    "address",
    "skus.0.price",
    "skus.0.platform_sku",
    "skus.0.quantity",
    "skus.0.sku_info",
    "skus.0.sku_info.shop_id",
    "skus.0.sku_info.shop_name",
    "skus.0.sku_info.sku_img",
    "skus.0.sku_info.imgs",
    "skus.0.sku_info.spec_id",  # required for 1688
]
INVALID: dict[str, tuple[str, object]] = {
    "float-price": ("skus.0.price", 12.5),
    "negative-price": ("skus.0.price", "-1"),
    "zero-quantity": ("skus.0.quantity", 0),
    "bool-quantity": ("skus.0.quantity", True),
    "unknown-platform": ("platform", "amazon"),
    "relative-url": ("platform_url", "/offer/1.html"),
    "no-skus": ("skus", []),
    "empty-address": ("address", {}),
    "address-a-string": ("address", "Shanghai"),
    "blank-name": ("name", "   "),
    "float-freight": ("freight_fee", 0.0),
    "not-json-passed-through": ("coupon", Decimal("1.5")),
    "nan-passed-through": ("weight", float("nan")),
}


@pytest.mark.parametrize("path", REQUIRED)
async def test_a_missing_required_field_is_refused_before_any_request(
    path: str, anyio_backend: str
) -> None:
    recorder = Recorder()
    async with recorder.client() as client:
        with pytest.raises(InputError) as info:
            await client.create_order(_without(path))
        # The key was not spent: the same key with a fixed order goes out.
        await client.create_order(mapping_order(), idempotency_key="k")
    assert path.rsplit(".", 1)[-1] in str(info.value)
    assert len(recorder.requests) == 1


@pytest.mark.parametrize("kind", list(INVALID))
async def test_an_invalid_field_is_refused_before_any_request(
    kind: str, anyio_backend: str
) -> None:
    recorder = Recorder()
    async with recorder.client() as client:
        with pytest.raises(InputError):
            await client.create_order(_with(*INVALID[kind]))
    assert recorder.requests == []


async def test_taobao_needs_no_spec_id(anyio_backend: str) -> None:
    recorder = Recorder()
    order = _without("skus.0.sku_info.spec_id")
    order["platform"] = "taobao"
    async with recorder.client() as client:
        await client.create_order(order)
    assert "spec_id" not in recorder.body_sent()["skus"][0]["sku_info"]


@pytest.mark.parametrize(
    "arguments",
    [
        {"idempotency_key": ""},
        {"idempotency_key": "has space"},
        {"idempotency_key": "k" * 129},
        {"client_reference": "line\nbreak"},
        {"currency": "US"},
        {"currency": 840},
    ],
)
async def test_bad_key_reference_or_currency_is_refused_before_any_request(
    arguments: dict[str, Any], anyio_backend: str
) -> None:
    recorder = Recorder()
    async with recorder.client() as client:
        with pytest.raises(InputError):
            await client.create_order(mapping_order(), **arguments)
    assert recorder.requests == []


async def test_a_rejected_order_is_an_api_error_and_frees_the_key(anyio_backend: str) -> None:
    recorder = Recorder(b'{"ret":0,"msg":"warehouse not found","data":null}')
    async with recorder.client() as client:
        with pytest.raises(APIError) as info:
            await client.create_order(mapping_order(), idempotency_key="k-1")
        assert info.value.endpoint == "create_order"
        recorder.reply = b'{"ret":1,"msg":"success","data":{}}'
        await client.create_order(mapping_order(), idempotency_key="k-1")
    assert len(recorder.requests) == 2


async def test_an_order_is_never_in_a_repr_an_error_or_a_log_line(
    anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    recorder = Recorder(b'{"ret":0,"msg":"bad","data":null}')
    async with recorder.client() as client:
        with pytest.raises(InputError) as bad_address:
            await client.create_order(
                _with("address", Address("Han Meimei", "1", "P", "C", "D", "L", "13912345678\n"))
            )
        with pytest.raises(APIError) as rejected:
            await client.create_order(ORDER)
    texts = [repr(ORDER), repr(ADDRESS), repr(client), *(r.getMessage() for r in caplog.records)]
    for error in (bad_address.value, rejected.value):
        texts += [str(error), repr(error), repr(vars(error))]
    for text in texts:
        assert all(secret not in text for secret in PERSONAL), text


ECHOES = {
    "ret-0": (200, '{"ret":0,"msg":"bad address: Han Meimei, 13912345678","data":null}'),
    "500": (500, "<html>error for 88 Secret Lane, Room 1702 / han meimei</html>"),
    "400": (400, '{"ret":0,"msg":"phone 13912345678 invalid"}'),
}


@pytest.mark.parametrize("kind", list(ECHOES))
async def test_an_address_the_server_echoes_is_hidden_from_the_error(
    kind: str, anyio_backend: str
) -> None:
    status, text = ECHOES[kind]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=text.encode())

    async with helpers.mock_client(handler, uuid="u-1", max_retries=0) as client:
        for call in (
            lambda: client.create_order(ORDER),
            lambda: client.preview_order(
                platform="1688",
                lines=[OrderLine(612345678901, 1, 1, "0")],
                address=ADDRESS,
            ),
        ):
            with pytest.raises(HiobuyError) as info:
                await call()
            error: BaseException | None = info.value
            while error is not None:
                for text in (str(error), repr(error), repr(vars(error))):
                    assert all(s.casefold() not in text.casefold() for s in PERSONAL), text
                error = error.__cause__ or error.__context__
