"""Order preview: request shaping, validation before any request, exact fees, privacy."""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import Any

import helpers
import pytest

from hiobuy_async import (
    Address,
    APIError,
    AsyncHiobuy,
    InputError,
    OrderLine,
    OrderPreview,
    ProductDetails,
    ResponseValidationError,
    Sku,
)
from hiobuy_async.testing import FakeHiobuy

pytestmark = pytest.mark.anyio

ADDRESS = helpers.ORDER_ADDRESS
PERSONAL = helpers.ORDER_PERSONAL
LINE = OrderLine(goods_id=612345678901, sku_id=4000000000001, quantity=3, spec_id="0")


def envelope(data: str) -> bytes:
    return f'{{"ret":1,"msg":"success","data":{data}}}'.encode()


class Recorder(helpers.ReplyRecorder):
    """Answers every request with `reply`."""

    def __init__(self, reply: bytes) -> None:
        super().__init__(reply, request_id="rid-1")


FEES = envelope('{"goodsFee":1349.5,"paymentFee":1357.5,"freightFee":8,"isFree":false}')


async def test_preview_sends_the_documented_body(anyio_backend: str) -> None:
    recorder = Recorder(FEES)
    async with recorder.client(language="en_US", currency="USD") as client:
        await client.preview_order(platform="1688", lines=[LINE], address=ADDRESS)
    (request,) = recorder.requests
    assert request.method == "POST"
    assert request.url.path == "/api/client/third-purchase/preview-order"
    # X-Uuid only: the page documents no Language and no Currency for the preview.
    assert "language" not in request.headers
    assert "currency" not in request.headers
    assert json.loads(request.content) == {
        "platform": "1688",
        "skus": [
            {"goods_id": "612345678901", "sku_id": "4000000000001", "sum": "3", "spec_id": "0"}
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


async def test_preview_sends_street_when_given_and_no_spec_id_for_taobao(
    anyio_backend: str,
) -> None:
    recorder = Recorder(FEES)
    async with recorder.client() as client:
        await client.preview_order(
            platform="taobao",
            lines=[OrderLine("612345678901", "4000000000001")],
            address=Address("A", "1", "P", "C", "D", "L", "1", street="Nanjing Road"),
        )
    body = json.loads(recorder.requests[0].content)
    assert body["skus"] == [{"goods_id": "612345678901", "sku_id": "4000000000001", "sum": "1"}]
    assert body["address"]["street"] == "Nanjing Road"


async def test_preview_fees_are_exact_decimals_from_the_json_text(anyio_backend: str) -> None:
    # 17 significant digits: through a float it would come back as ...12345679.
    recorder = Recorder(
        envelope(
            '{"goodsFee":12345678.123456789,"paymentFee":0.10000000000000001,'
            '"freightFee":0,"isFree":true,"currencyNote":"x"}'
        )
    )
    async with recorder.client() as client:
        preview = await client.preview_order(platform="1688", lines=[LINE], address=ADDRESS)
    assert preview == OrderPreview(
        goods_fee=Decimal("12345678.123456789"),
        payment_fee=Decimal("0.10000000000000001"),
        freight_fee=Decimal("0"),
        is_free=True,
        request_id="rid-1",
    )
    assert isinstance(preview.goods_fee, Decimal)
    assert preview.extra == {"currencyNote": "x"}


@pytest.mark.parametrize(
    "data",
    ['{"goodsFee":"abc"}', '{"goodsFee":true}', '{"isFree":"yes"}', '{"paymentFee":[1]}'],
)
async def test_preview_with_a_broken_fee_is_a_response_validation_error(
    data: str, anyio_backend: str
) -> None:
    recorder = Recorder(envelope(data))
    async with recorder.client() as client:
        with pytest.raises(ResponseValidationError) as info:
            await client.preview_order(platform="1688", lines=[LINE], address=ADDRESS)
    assert info.value.endpoint == "preview_order"


BAD_CALLS: dict[str, dict[str, Any]] = {
    "weidian-platform": {"platform": "weidian"},
    "no-lines": {"lines": []},
    "a-mapping-not-a-line": {"lines": [{"goods_id": 1, "sku_id": 2}]},
    "one-line-not-a-list": {"lines": LINE},
    "zero-quantity": {"lines": [OrderLine(612345678901, 1, 0, "0")]},
    "bool-quantity": {"lines": [OrderLine(612345678901, 1, True, "0")]},
    "bad-goods-id": {"lines": [OrderLine("lamp", 1, 1, "0")]},
    "1688-without-spec-id": {"lines": [OrderLine(612345678901, 1, 1)]},
    "sku-id-with-space": {"lines": [OrderLine(612345678901, "4 0", 1, "0")]},
    "address-not-an-address": {"address": {"receiver_name": "x"}},
    "blank-phone": {"address": Address("A", "1", "P", "C", "D", "L", "  ")},
    "missing-city": {"address": Address("A", "1", "P", None, "D", "L", "1")},  # type: ignore[arg-type]
    "newline-in-address": {"address": Address("A", "1", "P", "C", "D", "L\n2", "1")},
}


@pytest.mark.parametrize("kind", list(BAD_CALLS))
async def test_preview_checks_everything_before_any_request(kind: str, anyio_backend: str) -> None:
    recorder = Recorder(FEES)
    arguments: dict[str, Any] = {"platform": "1688", "lines": [LINE], "address": ADDRESS}
    arguments.update(BAD_CALLS[kind])
    async with recorder.client() as client:
        with pytest.raises(InputError):
            await client.preview_order(**arguments)
    assert recorder.requests == []


async def test_an_address_is_never_in_a_repr_an_error_or_a_log_line(
    anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert all(text not in repr(ADDRESS) for text in PERSONAL)
    bad = Address("Han Meimei", "1", "P", "C", "D", "88 Secret Lane\r\n", "13912345678")
    recorder = Recorder(FEES)
    async with recorder.client() as client:
        with pytest.raises(InputError) as info:
            await client.preview_order(platform="1688", lines=[LINE], address=bad)
        await client.preview_order(platform="1688", lines=[LINE], address=ADDRESS)
    assert "address.address" in str(info.value)
    texts = [str(info.value), repr(info.value), *(r.getMessage() for r in caplog.records)]
    for text in texts:
        assert all(secret not in text for secret in PERSONAL), text


def test_a_line_is_built_from_details_and_one_of_its_skus() -> None:
    sku = Sku(sku_id=4000000000007, spec_id="c0ffee")
    details = ProductDetails(num_iid=612345678901, skus=(Sku(sku_id=1), sku))
    line = OrderLine.from_sku(details, sku, quantity=2)
    assert line == OrderLine(612345678901, 4000000000007, 2, "c0ffee")
    with pytest.raises(InputError):
        OrderLine.from_sku(details, Sku(sku_id=99))


async def test_preview_against_the_fake_over_sockets_agrees_with_details(
    anyio_backend: str,
) -> None:
    fake = FakeHiobuy()
    async with fake.serve() as base_url, AsyncHiobuy(fake.uuids[0], base_url=base_url) as client:
        details = await client.product_details(612345678901, platform="1688")
        sku = details.skus[0]
        assert sku.price is not None
        preview = await client.preview_order(
            platform="1688", lines=[OrderLine.from_sku(details, sku, 2)], address=ADDRESS
        )
        assert preview.goods_fee == sku.price * 2
        assert preview.payment_fee == sku.price * 2 + (preview.freight_fee or 0)
        assert preview.is_free is (preview.freight_fee == 0)
        assert preview.request_id is not None
        # An unknown SKU is refused by the fake, as an APIError.
        with pytest.raises(APIError, match="sku not found"):
            await client.preview_order(
                platform="1688",
                lines=[OrderLine(612345678901, 1, 1, "0")],
                address=ADDRESS,
            )
