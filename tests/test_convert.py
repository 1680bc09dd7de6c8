"""From response bytes to models: the envelope, the converter, every malformed shape."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import cattrs
import pytest
from helpers import exception_chain

from hiobuy_async import APIError, ImageSearchResult, Product, ResponseValidationError, _convert
from hiobuy_async._convert import decode_json, parse_envelope, structure_products
from hiobuy_async._endpoints.image_search import parse_image_search

SEED_SAMPLE = Path(__file__).parent / "fixtures" / "seed_sample_response.json"
LEAKY = (json.JSONDecodeError, UnicodeDecodeError, RecursionError, cattrs.BaseValidationError)


def envelope(data: object, *, ret: object = 1, msg: object = "success") -> bytes:
    return json.dumps({"ret": ret, "msg": msg, "data": data}).encode()


def items_body(*items: object, total: object = 1000) -> bytes:
    return envelope({"api_type": "taobao", "items": {"item": list(items), "total_results": total}})


def assert_clean_validation_error(exc: BaseException) -> None:
    assert type(exc) is ResponseValidationError
    for _, link in exception_chain(exc, suppressed=False):
        assert not isinstance(link, LEAKY), f"{type(link).__name__} leaks through {exc!r}"


@pytest.fixture(params=["orjson", "json"])
def loads_impl(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run decoding tests with orjson (the 'fast' extra) and with the stdlib fallback."""
    if request.param == "json":
        monkeypatch.setattr(_convert, "_loads", _convert._stdlib_loads)
    else:
        pytest.importorskip("orjson")
    return str(request.param)


# --- the seed's sample response -------------------------------------------------------


def test_seed_sample_structures_into_the_models() -> None:
    result = parse_image_search(SEED_SAMPLE.read_bytes(), request_id="req-1")
    assert isinstance(result, ImageSearchResult)
    assert result.api_type == "taobao"
    assert result.total_results == 1000
    assert result.request_id == "req-1"
    assert len(result.items) == 1
    product = result.items[0]
    assert product == Product(
        num_iid=808368541552,
        title="Sexy Lace Low-cut Pajamas…",
        title_cn="性感蕾丝低胸睡衣…",
        detail_url="https://detail.1688.com/offer/808368541552.html",
        pic_url="https://cbu01.alicdn.com/O1CN01Z797hC1jEpv3AKmQ8_!!2216007294517-0-cib.jpg",
        price=Decimal("21.80"),
        sales=415,
        seller_nick="object_id%40808368541552…",
        tags=(),
        quantity=None,
        tag_percent="19%",
        trace_info="object_id%40808368541552…",
        top_category_id=312,
        category_id=122450002,
    )
    assert product.price == Decimal("21.80")
    assert isinstance(product.price, Decimal)
    assert str(product.price) == "21.80"
    assert product.extra == {}
    assert result.raw == json.loads(SEED_SAMPLE.read_bytes())["data"]


def test_every_documented_field_is_mapped() -> None:
    item: dict[str, Any] = {
        "detail_url": "https://d/1",
        "num_iid": 1,
        "pic_url": "https://p/1",
        "price": "0.05",
        "sales": 2,
        "title_cn": "中",
        "title": "t",
        "seller_nick": "nick",
        "tags": ["a", "b"],
        "quantity": 7,
        "tag_percent": "50%",
        "trace_info": "tr",
        "top_category_id": 3,
        "category_id": 4,
    }
    (product,) = parse_image_search(items_body(item)).items
    assert product.tags == ("a", "b")
    assert product.quantity == 7
    assert product.price == Decimal("0.05")
    assert product.extra == {}
    for key, value in item.items():
        got = getattr(product, key)
        assert got == (
            tuple(value) if isinstance(value, list) else Decimal(value) if key == "price" else value
        )


def test_models_are_frozen() -> None:
    result = parse_image_search(SEED_SAMPLE.read_bytes())
    with pytest.raises(AttributeError):
        result.items[0].price = Decimal(1)  # type: ignore[misc]
    with pytest.raises(AttributeError):
        result.total_results = 3  # type: ignore[misc]


# --- lenient where the API varies -----------------------------------------------------


def test_missing_and_null_fields_become_none_or_empty() -> None:
    nulls = {
        "num_iid": 5,
        "title": None,
        "title_cn": None,
        "detail_url": None,
        "pic_url": None,
        "price": None,
        "sales": None,
        "seller_nick": None,
        "tags": None,
        "quantity": None,
        "tag_percent": None,
        "trace_info": None,
        "top_category_id": None,
        "category_id": None,
    }
    only_id, all_null = parse_image_search(items_body({"num_iid": 4}, nulls)).items
    assert only_id == Product(num_iid=4)
    assert all_null == Product(num_iid=5)
    for product in (only_id, all_null):
        assert product.price is None
        assert product.tags == ()
        assert product.title is None
        assert product.sales is None


def test_numbers_sent_as_strings_are_accepted() -> None:
    item = {
        "num_iid": "808368541552",
        "sales": "415",
        "quantity": " 9 ",
        "top_category_id": "312",
        "category_id": "122450002",
        "price": "21.80",
    }
    (product,) = parse_image_search(items_body(item, total="1000")).items
    assert product.num_iid == 808368541552
    assert product.sales == 415
    assert product.quantity == 9
    assert product.top_category_id == 312
    assert product.category_id == 122450002
    assert parse_image_search(items_body(item, total="1000")).total_results == 1000


def test_price_as_json_number_is_exact_decimal_not_float() -> None:
    a, b, c = parse_image_search(
        items_body(
            {"num_iid": 1, "price": 21.8}, {"num_iid": 2, "price": 3}, {"num_iid": 3, "price": ""}
        )
    ).items
    assert a.price == Decimal("21.8")
    assert isinstance(a.price, Decimal)
    assert b.price == Decimal(3)
    assert c.price is None


def test_strings_sent_as_numbers_are_accepted() -> None:
    (product,) = parse_image_search(
        items_body({"num_iid": 1, "title": 123, "tag_percent": 19})
    ).items
    assert product.title == "123"
    assert product.tag_percent == "19"


def test_unknown_item_fields_land_in_extra_and_raw() -> None:
    item = {"num_iid": 1, "price": "1.00", "shop_id": "abc", "nested": {"x": [1, 2]}}
    result = parse_image_search(items_body(item))
    (product,) = result.items
    assert product.extra == {"shop_id": "abc", "nested": {"x": [1, 2]}}
    assert result.raw["items"]["item"][0]["shop_id"] == "abc"
    assert product.price == Decimal("1.00")


def test_unknown_data_fields_stay_in_raw() -> None:
    body = envelope({"api_type": "x", "items": {"item": []}, "quota_left": 17})
    assert parse_image_search(body).raw["quota_left"] == 17


def test_use_platform_native_items_map_offer_id_to_num_iid() -> None:
    native = {
        "offerId": 624873498563,
        "subject": "连衣裙",
        "subjectTrans": "Dress",
        "imageUrl": "https://cbu01.alicdn.com/x.jpg",
        "priceInfo": {"price": "12.50", "consignPrice": "13.00"},
        "monthSold": 88,
        "repurchaseRate": "13%",
        "isJxhy": False,
        "sellerIdentities": ["tp_member"],
    }
    result = parse_image_search(items_body(native, {**native, "offerId": "624873498564"}))
    first, second = result.items
    assert first.num_iid == 624873498563
    assert second.num_iid == 624873498564
    assert first.extra["subjectTrans"] == "Dress"
    assert first.extra["priceInfo"] == {"price": "12.50", "consignPrice": "13.00"}
    assert first.extra["offerId"] == 624873498563
    assert first.price == Decimal("12.50")  # from priceInfo.price (issue #18, point 4)
    assert result.raw["items"]["item"][0]["monthSold"] == 88


NATIVE_ITEM = {
    "offerId": 624873498563,
    "subject": "台灯 LED",
    "subjectTrans": "LED desk lamp",
    "imageUrl": "https://cbu01.alicdn.com/img/ibank/O1CN01x.jpg",
    "priceInfo": {"price": "12.50", "consignPrice": "13.00", "promotionPrice": "11.90"},
    "monthSold": 88,
    "repurchaseRate": "13%",
    "traceInfo": "object_id@624873498563",
    "topCategoryId": 312,
    "isJxhy": False,
    "sellerIdentities": ["tp_member"],
}


def test_native_items_fill_the_common_product_fields() -> None:
    (product,) = parse_image_search(items_body(NATIVE_ITEM)).items
    assert product.num_iid == 624873498563
    assert product.title_cn == "台灯 LED"
    assert product.title == "LED desk lamp"
    assert product.pic_url == "https://cbu01.alicdn.com/img/ibank/O1CN01x.jpg"
    assert product.price == Decimal("12.50")
    assert product.sales == 88
    assert product.detail_url == "https://detail.1688.com/offer/624873498563.html"
    assert product.extra == NATIVE_ITEM  # every native field kept


NATIVE_PAGES: list[Any] = [
    pytest.param(lambda page: page, id="data-is-the-page"),
    pytest.param(lambda page: {"items": page}, id="under-items"),
    pytest.param(lambda page: {"items": {"item": page}}, id="under-items-item"),
    pytest.param(lambda page: {"result": page}, id="under-result"),
    pytest.param(lambda page: {"data": page}, id="under-data"),
]


@pytest.mark.parametrize("wrap", NATIVE_PAGES)
def test_use_platform_answers_in_1688s_page_shape_are_read(wrap: Any) -> None:
    natives = [{**NATIVE_ITEM, "offerId": 624873498563 + i} for i in range(3)]
    page = {"totalRecords": 95, "pageSize": 20, "currentPage": 1, "data": natives}
    result = parse_image_search(envelope(wrap(page)))
    assert [p.num_iid for p in result.items] == [624873498563, 624873498564, 624873498565]
    assert result.total_results == 95
    assert result.items[2].title == "LED desk lamp"


def test_a_native_item_without_an_id_is_dropped_and_counted() -> None:
    page = {"totalRecords": "1,000", "data": [NATIVE_ITEM, {"subject": "no offerId"}]}
    result = parse_image_search(envelope(page))
    assert [p.num_iid for p in result.items] == [624873498563]
    assert result.dropped_items == 1
    assert result.total_results is None


@pytest.mark.parametrize(
    "data",
    [
        {"result": {"offers": [NATIVE_ITEM]}},
        {"list": [NATIVE_ITEM], "total": 1},
    ],
)
def test_an_answer_of_unknown_shape_is_an_error_not_an_empty_success(data: object) -> None:
    with pytest.raises(ResponseValidationError, match="no item list in a known shape"):
        parse_image_search(envelope(data))


def test_num_iid_wins_over_offer_id() -> None:
    (product,) = parse_image_search(items_body({"num_iid": 1, "offerId": 2})).items
    assert product.num_iid == 1


@pytest.mark.parametrize(
    "data",
    [
        {"api_type": "taobao", "items": {"item": [], "total_results": 0}},
        {"api_type": "taobao", "items": {}},
        {"api_type": "taobao", "items": None},
        {"items": []},
        {},
        None,
    ],
)
def test_empty_results(data: object) -> None:
    result = parse_image_search(envelope(data))
    assert result.items == ()
    assert result.total_results in (0, None)


def test_php_empty_data_list_reads_as_an_empty_object() -> None:
    # PHP's json_encode sends an empty map as [].
    assert parse_envelope(b'{"ret": 1, "msg": "success", "data": []}') == {}
    assert parse_image_search(envelope([])).items == ()


def test_null_data_gives_empty_result_with_nones() -> None:
    result = parse_image_search(envelope(None), request_id="r")
    assert result == ImageSearchResult(items=(), total_results=None, api_type=None, request_id="r")
    assert result.raw == {}


@pytest.mark.parametrize("ret", [1, 1.0, "1", " 1 "])
def test_success_ret_variants(ret: object) -> None:
    assert parse_envelope(envelope({"a": 1}, ret=ret, msg="Success")) == {"a": 1}


def test_tags_given_as_one_string() -> None:
    (product,) = parse_image_search(items_body({"num_iid": 1, "tags": "hot"})).items
    assert product.tags == ("hot",)


# --- ret != 1 -------------------------------------------------------------------------


@pytest.mark.parametrize("ret", [0, -1, 2, "0", True, None, "success"])
def test_ret_other_than_one_is_api_error(ret: object) -> None:
    with pytest.raises(APIError) as info:
        parse_envelope(envelope(None, ret=ret, msg="image cannot be fetched"), request_id="rq")
    error = info.value
    assert error.ret == ret
    assert error.msg == "image cannot be fetched"
    assert error.request_id == "rq"
    assert error.body_excerpt is not None
    assert "image cannot be fetched" in str(error)


def test_api_error_msg_is_sanitised() -> None:
    with pytest.raises(APIError) as info:
        parse_envelope(envelope(None, ret=0, msg="bad\nthing\x00" + "x" * 1000))
    msg = info.value.msg
    assert msg is not None
    assert "\n" not in msg
    assert "\x00" not in msg
    assert len(msg) <= 201
    assert "\n" not in str(info.value)


def test_api_error_without_msg() -> None:
    with pytest.raises(APIError) as info:
        parse_envelope(b'{"ret": 0}')
    assert info.value.msg is None
    assert info.value.ret == 0


# --- malformed bodies -> ResponseValidationError, never a raw parser error ------------

DEEP = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 50_000 + b"1" + b"}" * 50_000


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"<html><body><h1>502 Bad Gateway</h1></body></html>", id="html"),
        pytest.param(b'{"ret": 1, "msg": "success", "data": {"items": {"item": [', id="truncated"),
        pytest.param(b'{"ret": 1, "msg": "\xff\xfe\xfa"}', id="invalid-utf8"),
        pytest.param(b"\xff\xfe\x00\x00garbage", id="binary"),
        pytest.param(b"", id="empty"),
        pytest.param(DEEP, id="deep-list"),
        pytest.param(DEEP_OBJECT, id="deep-object"),
        pytest.param(b"NaN", id="nan-or-bare"),
    ],
)
def test_undecodable_bodies(body: bytes, loads_impl: str) -> None:
    with pytest.raises(ResponseValidationError) as info:
        parse_image_search(body, request_id="rid-9")
    assert_clean_validation_error(info.value)
    assert info.value.request_id == "rid-9"


def test_decode_json_maps_recursion_error_with_stdlib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_convert, "_loads", _convert._stdlib_loads)
    with pytest.raises(ResponseValidationError) as info:
        decode_json(DEEP)
    assert_clean_validation_error(info.value)
    assert info.value.body_excerpt is not None
    assert len(info.value.body_excerpt) <= 201


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[1, 2, 3]", id="list"),
        pytest.param(b'"ret"', id="string"),
        pytest.param(b"1", id="number"),
        pytest.param(b"null", id="null"),
        pytest.param(b'{"msg": "success", "data": {}}', id="no-ret"),
        pytest.param(b'{"ret": 1, "data": [1]}', id="data-list"),
        pytest.param(b'{"ret": 1, "data": "x"}', id="data-string"),
        pytest.param(b'{"ret": 1, "data": {"items": "abc"}}', id="items-string"),
        pytest.param(b'{"ret": 1, "data": {"items": 5}}', id="items-number"),
        pytest.param(b'{"ret": 1, "data": {"items": {"item": {"num_iid": 1}}}}', id="item-object"),
        pytest.param(b'{"ret": 1, "data": {"items": {"item": "x"}}}', id="item-string"),
    ],
)
def test_not_an_envelope_or_wrong_shape(body: bytes, loads_impl: str) -> None:
    with pytest.raises(ResponseValidationError) as info:
        parse_image_search(body, request_id="rid-2")
    assert_clean_validation_error(info.value)
    assert info.value.request_id == "rid-2"
    assert info.value.body_excerpt is not None


# Items that cannot be a product at all: alone in an answer, the answer fails.
UNREADABLE_ITEMS: list[Any] = [
    pytest.param(["not an object"], id="item-is-string"),
    pytest.param([None], id="item-is-null"),
    pytest.param([{"num_iid": True}], id="num-iid-bool"),
    pytest.param([{"num_iid": 808368541552.5}], id="num-iid-fraction"),
    pytest.param([{"num_iid": None}], id="num-iid-null"),
    pytest.param([{"title": "no id"}], id="num-iid-missing"),
    pytest.param([{"offerId": "x", "subject": "no id"}], id="offer-id-garbage"),
]


@pytest.mark.parametrize("items", UNREADABLE_ITEMS)
def test_items_with_wrong_types(items: list[Any]) -> None:
    body = items_body(*items)
    with pytest.raises(ResponseValidationError) as info:
        parse_image_search(body, request_id="rid-3")
    assert_clean_validation_error(info.value)
    assert info.value.request_id == "rid-3"


@pytest.mark.parametrize("items", UNREADABLE_ITEMS[:3])
def test_items_with_wrong_types_carry_a_body_excerpt(items: list[Any]) -> None:
    with pytest.raises(ResponseValidationError) as info:
        parse_image_search(items_body(*items), request_id="rid-4")
    excerpt = info.value.body_excerpt
    assert excerpt is not None
    assert "\n" not in excerpt
    assert len(excerpt) <= 201


@pytest.mark.parametrize("items", UNREADABLE_ITEMS)
def test_an_item_without_an_id_is_dropped_and_counted(items: list[Any]) -> None:
    good = {"num_iid": 5, "price": "1.00"}
    result = parse_image_search(items_body(good, *items, good))
    assert [p.num_iid for p in result.items] == [5, 5]
    assert result.dropped_items == 1


# A field of the wrong type: the product stays, the field is unknown, its value in `extra`.
ODD_FIELDS: list[Any] = [
    pytest.param("price", "abc", id="price-garbage"),
    pytest.param("price", {"v": 1}, id="price-object"),
    pytest.param("price", True, id="price-bool"),
    pytest.param("price", "Infinity", id="price-infinite"),
    pytest.param("price", "25.00-21.80", id="price-range-upside-down"),
    pytest.param("sales", "many", id="sales-garbage"),
    pytest.param("sales", 1.5, id="sales-fraction"),
    pytest.param("sales", "1,000", id="sales-thousands"),
    pytest.param("quantity", [1], id="quantity-list"),
    pytest.param("title", {"en": "x"}, id="title-object"),
    pytest.param("tags", {"a": 1}, id="tags-object"),
    pytest.param("tags", [{"a": 1}], id="tag-object"),
]


@pytest.mark.parametrize(("field", "value"), ODD_FIELDS)
def test_one_odd_item_does_not_reject_the_page(field: str, value: object) -> None:
    good = [{"num_iid": i, "title": "ok", "price": "2.50"} for i in range(1, 20)]
    odd = {"num_iid": 99, "title": "odd", "price": "3.00", "sales": 7, field: value}
    result = parse_image_search(items_body(*good[:10], odd, *good[10:]))
    assert len(result.items) == 20
    assert result.dropped_items == 0
    assert all(p.price == Decimal("2.50") for p in result.items if p.num_iid != 99)
    kept = result.items[10]
    assert kept.num_iid == 99
    assert getattr(kept, field) == attrs.fields_dict(Product)[field].default
    assert kept.extra == {field: value}
    others = {"title": "odd", "price": Decimal("3.00"), "sales": 7}
    others.pop(field, None)
    assert {name: getattr(kept, name) for name in others} == others


@pytest.mark.parametrize(
    ("price", "low", "high"),
    [("21.80-25.00", "21.80", "25.00"), (" 3 ~ 4.5 ", "3", "4.5"), ("7-7", "7", "7")],
)
def test_a_price_range_keeps_its_low_and_high(price: str, low: str, high: str) -> None:
    (product,) = parse_image_search(items_body({"num_iid": 1, "price": price})).items
    assert product.price is None
    assert product.price_range == (Decimal(low), Decimal(high))
    assert product.extra == {"price": price}


@pytest.mark.parametrize("total", [-1, "1,000", 12.5, True, "lots", [1], {"n": 1}])
def test_an_unusable_total_results_reads_as_unknown(total: object) -> None:
    body = envelope({"api_type": "t", "items": {"item": [{"num_iid": 1}], "total_results": total}})
    result = parse_image_search(body)
    assert result.total_results is None
    assert [p.num_iid for p in result.items] == [1]


def test_wrong_scalar_types_in_data() -> None:
    with pytest.raises(ResponseValidationError) as info:
        parse_image_search(envelope({"api_type": {"x": 1}, "items": {"item": []}}), request_id="r5")
    assert_clean_validation_error(info.value)
    assert info.value.request_id == "r5"


def test_structure_products_none_and_non_list() -> None:
    assert structure_products(None) == ()
    with pytest.raises(ResponseValidationError):
        structure_products({"num_iid": 1})
