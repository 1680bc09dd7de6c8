"""The fake's order routes: what they check, what they record, and the write faults."""

from __future__ import annotations

import json

import httpx
import pytest
from test_endpoint_create_order import ADDRESS, mapping_order

from hiobuy_async import (
    APIError,
    OrderLine,
    OrderOutcomeUnknownError,
)
from hiobuy_async.testing import FAKE_BASE_URL, FakeHiobuy, Fault, RecordedOrder

pytestmark = pytest.mark.anyio

PATH = "/api/client/daigou-open/create-order"


async def raw_put(fake: FakeHiobuy, body: object, **headers: str) -> dict[str, object]:
    async with httpx.AsyncClient(transport=fake.transport(), base_url=FAKE_BASE_URL) as http:
        response = await http.put(
            PATH, json=body, headers={"X-Uuid": FakeHiobuy.DEFAULT_UUID, **headers}
        )
    document: dict[str, object] = response.json()
    return document


async def test_the_fake_records_each_accepted_order_and_never_deduplicates(
    anyio_backend: str,
) -> None:
    fake = FakeHiobuy()
    async with fake.client(currency="USD") as client:
        first = await client.create_order(mapping_order(), client_reference="ref-1")
        second = await client.create_order(mapping_order(), client_reference="ref-1")
    # Two keys, the same order: HioBuy (and so the fake) makes two orders.
    assert [o.number for o in fake.orders] == [1, 2]
    assert first.data == {"fake_order_no": "FAKE000001"}
    assert second.data == {"fake_order_no": "FAKE000002"}
    order = fake.orders[0]
    assert isinstance(order, RecordedOrder)
    assert (order.remark, order.currency, order.request_id) == ("ref-1", "USD", first.request_id)
    assert order.body["skus"][0]["quantity"] == "3"  # sent as a string
    assert "Han Meimei" not in repr(order)
    fake.clear()
    assert fake.orders == []


async def test_the_fake_refuses_scalars_that_are_not_strings(anyio_backend: str) -> None:
    fake = FakeHiobuy()
    body = json.loads(json.dumps({**mapping_order(), "address": {"a": "b"}}))
    body["warehouse_id"] = 7
    refused = await raw_put(fake, body)
    body["warehouse_id"] = "7"
    body["skus"][0]["sku_info"].pop("spec_id")
    no_spec = await raw_put(fake, body)
    body["skus"][0]["sku_info"]["spec_id"] = "0"
    accepted = await raw_put(fake, body)
    assert (refused["ret"], no_spec["ret"], accepted["ret"]) == (0, 0, 1)
    assert "warehouse_id" in str(refused["msg"])
    assert "spec_id" in str(no_spec["msg"])
    assert len(fake.orders) == 1


@pytest.mark.parametrize(
    ("fault", "recorded"),
    [
        (Fault.refuse(), False),
        (Fault.rate_limit(), False),
        (Fault.api_error(), False),
        (Fault.status(404), False),
        (Fault.status(500), True),
        (Fault.reset(), True),
        (Fault.stall(0.01), True),
        (Fault.malformed(), True),
    ],
)
def test_a_fault_says_whether_it_hits_after_the_order_was_recorded(
    fault: Fault, recorded: bool
) -> None:
    assert fault.records_order is recorded


async def test_refuse_in_process_is_an_unknown_outcome_without_an_order(
    anyio_backend: str,
) -> None:
    fake = FakeHiobuy()
    fake.fail_matching(endpoint="create_order", fault=Fault.refuse(), times=1)
    async with fake.client(max_retries=3) as client:
        with pytest.raises(OrderOutcomeUnknownError):
            await client.create_order(mapping_order(), idempotency_key="k")
    assert fake.orders == []
    assert len(fake.requests) == 1
    assert fake.requests[0].fault == Fault.refuse()


async def test_fail_matching_matches_an_order_by_its_client_reference(anyio_backend: str) -> None:
    fake = FakeHiobuy()
    fake.fail_matching(subject="ref-bad", fault=Fault.api_error(ret=4001, msg="no stock"))
    async with fake.client() as client:
        with pytest.raises(APIError, match="no stock"):
            await client.create_order(mapping_order(), client_reference="ref-bad")
        await client.create_order(mapping_order(), client_reference="ref-good")
    assert [o.remark for o in fake.orders] == ["ref-good"]


async def test_the_fake_quotes_a_preview_from_the_catalog(anyio_backend: str) -> None:
    fake = FakeHiobuy()
    async with fake.client() as client:
        details = await client.product_details(612345678901, platform="taobao")
        cheap = min(details.skus, key=lambda s: s.price or 0)
        one = await client.preview_order(
            platform="taobao", lines=[OrderLine.from_sku(details, cheap)], address=ADDRESS
        )
        many = await client.preview_order(
            platform="taobao", lines=[OrderLine.from_sku(details, cheap, 1000)], address=ADDRESS
        )
        with pytest.raises(APIError, match="product not found"):
            await client.preview_order(
                platform="taobao",
                lines=[OrderLine(FakeHiobuy.unknown_product_id(), 1)],
                address=ADDRESS,
            )
    assert one.goods_fee == cheap.price
    assert many.is_free is True
    assert many.freight_fee == 0
    assert one.payment_fee == (one.goods_fee or 0) + (one.freight_fee or 0)
    assert fake.requests[1].endpoint == "preview_order"
