"""Results as JSON and back: the public converter, for every result type, and a FastAPI route."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import attrs
import cattrs
import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from hypothesis import given, settings
from hypothesis import strategies as st

import hiobuy_async
from hiobuy_async import (
    ImageSearchResult,
    KeywordSearchPage,
    OrderPreview,
    OrderSubmission,
    Product,
    ProductDetails,
    ShopNick,
    Sku,
    converter,
    to_jsonable,
)
from hiobuy_async._cli._jsonl import details_dict, product_dict
from hiobuy_async.testing import FakeHiobuy

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ids = st.integers(min_value=0, max_value=2**80)
counts = st.none() | st.integers(min_value=0, max_value=10**9)
texts = st.none() | st.text(max_size=20)
amounts = st.none() | st.decimals(allow_nan=False, allow_infinity=False, places=2)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
objects = st.dictionaries(st.text(max_size=8), json_values, max_size=4)
pairs = st.lists(st.tuples(st.text(max_size=5), st.text(max_size=5)), max_size=3).map(tuple)

products = st.builds(
    Product,
    num_iid=ids,
    title=texts,
    title_cn=texts,
    detail_url=texts,
    pic_url=texts,
    price=amounts,
    price_range=st.none() | st.tuples(amounts.filter(bool), amounts.filter(bool)),
    sales=counts,
    seller_nick=texts,
    tags=st.lists(st.text(max_size=5), max_size=3).map(tuple),
    quantity=counts,
    tag_percent=texts,
    trace_info=texts,
    top_category_id=counts,
    category_id=counts,
    extra=objects,
)
skus = st.builds(
    Sku,
    sku_id=ids,
    price=amounts,
    quantity=counts,
    spec_id=texts,
    properties=pairs,
    properties_text=st.text(max_size=10),
    property_codes=pairs,
    extra=objects,
)
RESULTS: dict[type[Any], st.SearchStrategy[Any]] = {
    Product: products,
    Sku: skus,
    ImageSearchResult: st.builds(
        ImageSearchResult,
        items=st.lists(products, max_size=3).map(tuple),
        total_results=counts,
        api_type=texts,
        request_id=texts,
        raw=objects,
        dropped_items=st.integers(min_value=0, max_value=5),
    ),
    KeywordSearchPage: st.builds(
        KeywordSearchPage,
        items=st.lists(products, max_size=3).map(tuple),
        page=st.integers(min_value=1, max_value=100),
        page_size=st.integers(min_value=1, max_value=100),
        total_results=counts,
        request_id=texts,
        raw=objects,
        dropped_items=st.integers(min_value=0, max_value=5),
    ),
    ProductDetails: st.builds(
        ProductDetails,
        num_iid=ids,
        title=texts,
        title_cn=texts,
        detail_url=texts,
        pic_url=texts,
        price=amounts,
        max_price=amounts,
        original_price=amounts,
        skus=st.lists(skus, max_size=3).map(tuple),
        shop_id=texts,
        desc=texts,
        extra=objects,
        request_id=texts,
        raw=objects,
    ),
    ShopNick: st.builds(
        ShopNick, shop_id=st.text(max_size=10), wangwang_nick=texts, request_id=texts, raw=objects
    ),
    OrderPreview: st.builds(
        OrderPreview,
        goods_fee=amounts,
        payment_fee=amounts,
        freight_fee=amounts,
        is_free=st.none() | st.booleans(),
        extra=objects,
        request_id=texts,
        raw=objects,
    ),
    OrderSubmission: st.builds(
        OrderSubmission,
        idempotency_key=st.text(min_size=1, max_size=10),
        client_reference=texts,
        request_id=texts,
        data=objects,
    ),
}


def _every_field(result: Any) -> dict[str, Any]:
    # Equality leaves out `extra` and `raw`: compare them as well.
    return {f.name: getattr(result, f.name) for f in attrs.fields(type(result))}


@pytest.mark.parametrize("kind", list(RESULTS), ids=lambda t: t.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_every_result_type_round_trips_through_json_exactly(
    kind: type[Any], data: st.DataObject
) -> None:
    result = data.draw(RESULTS[kind])
    text = json.dumps(converter.unstructure(result))  # JSON-ready as it is
    back = converter.structure(json.loads(text), kind)
    assert back == result
    assert _every_field(back) == _every_field(result)  # extra and raw kept too


def test_result_json_keeps_decimals_as_strings_and_ids_as_exact_ints() -> None:
    big = 2**63 + 1  # past a float's exact integers
    product = Product(num_iid=big, price=Decimal("21.80"), extra={"offerId": big})
    data = to_jsonable(ImageSearchResult(items=(product,), total_results=1))
    assert data["items"][0]["num_iid"] == big
    assert data["items"][0]["price"] == "21.80"
    assert data["items"][0]["extra"] == {"offerId": big}
    assert json.loads(json.dumps(data)) == data


def test_result_json_turns_decimals_in_extra_into_strings() -> None:
    # `raw` and `extra` hold the API's JSON as decoded, exact numbers as Decimals.
    preview = OrderPreview(goods_fee=Decimal("1349.5"), raw={"goodsFee": Decimal("1349.5")})
    assert to_jsonable(preview)["raw"] == {"goodsFee": "1349.5"}


@pytest.mark.parametrize("value", [1.5, True, "one", [1]])
def test_structuring_refuses_an_amount_that_is_not_exact(value: object) -> None:
    data = to_jsonable(OrderPreview(goods_fee=Decimal(1)))
    data["goods_fee"] = value
    with pytest.raises(cattrs.BaseValidationError, match="OrderPreview"):
        converter.structure(data, OrderPreview)


def test_to_jsonable_refuses_what_is_no_result() -> None:
    with pytest.raises(TypeError):
        to_jsonable({"a": 1})


def test_converter_and_to_jsonable_are_public() -> None:
    assert {"converter", "to_jsonable"} <= set(hiobuy_async.__all__)
    assert hiobuy_async.to_jsonable.__doc__


def test_cli_json_is_the_public_converters() -> None:
    sku = Sku(sku_id=3, price=Decimal("1.10"), properties=(("Color", "Red"),))
    details = ProductDetails(num_iid=9, skus=(sku,), raw={"num_iid": 9})
    product = Product(num_iid=7, price=Decimal("21.80"), price_range=(Decimal(1), Decimal(2)))
    assert product_dict(product) == converter.unstructure(product)
    expected = converter.unstructure(details)
    del expected["raw"]
    assert details_dict(details) == expected


@pytest.mark.anyio
async def test_a_fastapi_route_returns_a_result_as_json() -> None:
    fake = FakeHiobuy()
    app = FastAPI()

    @app.get("/products/{num_iid}")
    async def product(num_iid: int) -> JSONResponse:
        async with fake.client() as client:
            details = await client.product_details(num_iid, platform="1688")
        return JSONResponse(to_jsonable(details))

    async with fake.client() as client:
        found = await client.image_search(FakeHiobuy.sample_images()[0], platform="1688")
        num_iid = found.items[0].num_iid
        direct = await client.product_details(num_iid, platform="1688")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
        response = await http.get(f"/products/{num_iid}")
    assert response.status_code == 200
    back = converter.structure(response.json(), ProductDetails)
    assert attrs.evolve(back, request_id=direct.request_id) == direct  # another response
    assert back.skus
    assert all(isinstance(s.price, Decimal | None) for s in back.skus)
