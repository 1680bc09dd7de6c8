"""Product details: which product a reference names, and how an answer is structured."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anyio
import pytest

from hiobuy_async import InputError, Marketplace, Product, ResponseValidationError
from hiobuy_async._endpoints import product_details
from hiobuy_async._endpoints.product_details import (
    marketplace_of_url,
    parse_product_details_now,
    parse_sku_properties,
    resolve_details_query,
)

ID = 808368541552


@pytest.mark.parametrize(
    ("product", "platform", "keyword", "marketplace"),
    [
        (ID, "1688", str(ID), Marketplace.ALIBABA_1688),
        (str(ID), "taobao", str(ID), Marketplace.TAOBAO),
        (f" {ID} ", "taobao", str(ID), Marketplace.TAOBAO),
        (f"https://detail.1688.com/offer/{ID}.html", None, str(ID), Marketplace.ALIBABA_1688),
        (f"https://m.1688.com/offer/{ID}.html", None, str(ID), Marketplace.ALIBABA_1688),
        (f"https://DETAIL.1688.com/offer/{ID}.html", "1688", str(ID), Marketplace.ALIBABA_1688),
        (f"https://item.taobao.com/item.htm?id={ID}&spm=x", None, str(ID), Marketplace.TAOBAO),
        (f"https://detail.tmall.com/item.htm?id={ID}", "taobao", str(ID), Marketplace.TAOBAO),
        (
            "https://example.com/p/1?x=2",
            "1688",
            "https://example.com/p/1?x=2",
            Marketplace.ALIBABA_1688,
        ),
        (
            Product(num_iid=ID, detail_url=f"https://detail.1688.com/offer/{ID}.html"),
            None,
            str(ID),
            Marketplace.ALIBABA_1688,
        ),
        (Product(num_iid=ID), "taobao", str(ID), Marketplace.TAOBAO),
    ],
)
def test_references_name_one_product(
    product: Any, platform: str | None, keyword: str, marketplace: Marketplace
) -> None:
    query = resolve_details_query(product, platform=platform, language=None)

    assert query.keyword == keyword
    assert query.marketplace is marketplace
    assert query.payload()["keyword"] == keyword


def test_id_url_and_product_of_one_id_are_one_query() -> None:
    forms: list[Any] = [
        ID,
        str(ID),
        f"https://detail.1688.com/offer/{ID}.html",
        Product(num_iid=ID, detail_url=f"https://m.1688.com/offer/{ID}.html"),
    ]
    queries = {resolve_details_query(f, platform="1688", language="en_US") for f in forms}
    assert len(queries) == 1


@pytest.mark.parametrize(
    ("product", "platform", "message"),
    [
        (0, "1688", "positive"),
        (-5, "1688", "positive"),
        (True, "1688", "product id"),
        (1.5, "1688", "product id"),
        ("12a", "1688", "URL"),
        ("+808", "1688", "URL"),
        ("８０８", "1688", "ASCII"),
        ("8_0_8", "1688", "URL"),
        ("1" * 21, "1688", "20 digits"),
        (ID, None, "platform is required"),
        ("https://example.com/p/1", None, "unknown host"),
        (f"https://detail.1688.com/offer/{ID}.html", "taobao", "contradicts"),
        (f"https://item.taobao.com/item.htm?id={ID}", "1688", "contradicts"),
        ("https://detail.1688.com/offer/abc.html", None, "names no product id"),
        ("https://item.taobao.com/item.htm", None, "names no product id"),
        ("ftp://detail.1688.com/offer/1.html", "1688", "http"),
        ("https://detail.1688.com/offer/1.html\n", "1688", "whitespace"),
        (
            Product(num_iid=ID, detail_url=f"https://item.taobao.com/item.htm?id={ID}"),
            "1688",
            "contradicts",
        ),
    ],
)
def test_bad_references_fail_before_any_request(
    product: Any, platform: str | None, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        resolve_details_query(product, platform=platform, language=None)


def test_use_platform_and_language_follow_the_marketplace_rules() -> None:
    query = resolve_details_query(ID, platform="1688", language="ja", use_platform=True)
    assert query.payload() == {"keyword": str(ID), "platform": "1688", "use_platform": "1"}
    assert query.request().language == "ja"
    assert resolve_details_query(ID, platform="taobao", language=None).payload() == {
        "keyword": str(ID),
        "platform": "taobao",
    }
    with pytest.raises(InputError):
        resolve_details_query(ID, platform="taobao", language="ja")
    with pytest.raises(InputError):
        resolve_details_query(ID, platform="taobao", language=None, use_platform=True)


def test_only_exact_known_hosts_infer_a_marketplace() -> None:
    assert marketplace_of_url("https://detail.1688.com.evil.example/offer/1.html") is None
    assert marketplace_of_url("https://evil.example/detail.1688.com/offer/1.html") is None
    assert marketplace_of_url("https://item.taobao.com/item.htm?id=1&id=2") == (
        Marketplace.TAOBAO,
        None,
    )


@pytest.mark.parametrize(
    ("text", "pairs"),
    [
        ("Color:White;Size:S", (("Color", "White"), ("Size", "S"))),
        ("颜色：白色；尺码：XL", (("颜色", "白色"), ("尺码", "XL"))),
        (";Color:White;;Size:S;", (("Color", "White"), ("Size", "S"))),
        ("Time:10:30;Ratio:16:9", (("Time", "10:30"), ("Ratio", "16:9"))),
        ("Bare", (("Bare", ""),)),
        ("", ()),
        (" Color : Red ", (("Color", "Red"),)),
    ],
)
def test_sku_properties(text: str, pairs: tuple[tuple[str, str], ...]) -> None:
    assert parse_sku_properties(text) == pairs


def _details(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "num_iid": ID,
        "title": "Lamp",
        "title_cn": "台灯",
        "price": "21.80",
        "max_price": "35.00",
        "orginal_price": "49.90",
        "skus": {
            "sku": [
                {
                    "price": "21.80",
                    "properties": "Color:White;Size:S",
                    "quantity": 12,
                    "sku_id": 5123456789012,
                    "spec_id": "a1b2",
                    "sku_flag": "new",
                }
            ]
        },
        "shop_id": "b2b-2216000000001",
        "desc": "<p>A <b>lamp</b></p>",
        "props_imgs": {"prop_img": []},
    }
    data.update(overrides)
    return data


def test_a_realistic_answer() -> None:
    details = parse_product_details_now(_details(), "rid-1")

    assert details.num_iid == ID
    assert (details.price, details.max_price, details.original_price) == (
        Decimal("21.80"),
        Decimal("35.00"),
        Decimal("49.90"),
    )
    (sku,) = details.skus
    assert sku.sku_id == 5123456789012
    assert sku.price == Decimal("21.80")
    assert sku.quantity == 12
    assert sku.spec_id == "a1b2"
    assert sku.properties == (("Color", "White"), ("Size", "S"))
    assert sku.properties_text == "Color:White;Size:S"
    assert sku.extra == {"sku_flag": "new"}
    assert details.extra == {"props_imgs": {"prop_img": []}}
    assert details.desc == "<p>A <b>lamp</b></p>"
    assert details.request_id == "rid-1"
    assert details.raw["orginal_price"] == "49.90"


def test_the_fixed_spelling_is_read_too() -> None:
    data = _details(original_price="9.99")
    del data["orginal_price"]
    assert parse_product_details_now(data, None).original_price == Decimal("9.99")
    assert "original_price" not in parse_product_details_now(data, None).extra


def test_missing_and_null_fields() -> None:
    details = parse_product_details_now(
        {"num_iid": str(ID), "title": None, "skus": None, "price": ""}, None
    )
    assert details.num_iid == ID
    assert details.title is None
    assert details.price is None
    assert details.skus == ()
    assert parse_product_details_now({"num_iid": ID, "skus": {"sku": None}}, None).skus == ()
    bare = parse_product_details_now({"num_iid": ID, "skus": {"sku": [{"sku_id": 1}]}}, None)
    assert bare.skus[0].properties == ()
    assert bare.skus[0].properties_text == ""


def test_big_ids_stay_exact_up_to_64_bits_and_beyond_are_refused() -> None:
    big = 2**63 - 12345
    assert parse_product_details_now(_details(num_iid=big), None).num_iid == big
    assert parse_product_details_now(_details(num_iid=str(big)), None).num_iid == big
    # As for search items: what orjson cannot hold exactly is refused by both decoders.
    with pytest.raises(ResponseValidationError, match="num_iid"):
        parse_product_details_now(_details(num_iid=2**64 + 1), None)


@pytest.mark.parametrize(
    ("overrides", "where"),
    [
        ({"num_iid": None}, "num_iid"),
        ({"num_iid": "abc"}, "num_iid"),
        ({"price": "cheap"}, "price"),
        ({"skus": {"sku": "none"}}, "skus"),
        ({"skus": {"sku": [{"sku_id": "x"}]}}, "sku[0]"),
        ({"skus": {"sku": [{"sku_id": 1}, {"price": "1"}]}}, "sku[1]"),
    ],
)
def test_bad_answers_say_where(overrides: dict[str, Any], where: str) -> None:
    data = _details(**overrides)
    if overrides.get("num_iid", 0) is None:
        del data["num_iid"]
    with pytest.raises(
        ResponseValidationError, match=where.replace("[", r"\[").replace("]", r"\]")
    ):
        parse_product_details_now(data, None)


# --- issue #18, points 5, 6 and 24; issue #21, point 10 ---------------------------------


def test_sku_properties_as_numeric_codes_read_properties_name() -> None:
    sku_item = {
        "sku_id": 1,
        "properties": "0:0;1:0",
        "properties_name": "0:0:Color:Red;1:0:Size:M",
        "spec_id": "a1",
    }
    (sku,) = parse_product_details_now(_details(skus={"sku": [sku_item]}), None).skus
    assert sku.properties == (("Color", "Red"), ("Size", "M"))
    assert sku.properties_text == "0:0:Color:Red;1:0:Size:M"
    assert sku.property_codes == (("0", "0"), ("1", "0"))
    assert sku.extra == {}


@pytest.mark.parametrize(
    ("item", "properties", "codes", "extra"),
    [
        # Real onebound ids, a value holding a colon, a full-width separator.
        (
            {
                "properties": "1627207:28320;20509:28314",
                "properties_name": "1627207:28320:颜色:白色；20509:28314:尺码:Type-C:1m",
            },
            (("颜色", "白色"), ("尺码", "Type-C:1m")),
            (("1627207", "28320"), ("20509", "28314")),
            {},
        ),
        # Codes only: nothing better to show, the codes are reachable.
        ({"properties": "0:0;1:0"}, (("0", "0"), ("1", "0")), (("0", "0"), ("1", "0")), {}),
        # A readable name without codes; `properties` then is not codes and is kept.
        (
            {"properties": "Red/M", "properties_name": "Color:Red;Size:M"},
            (("Color", "Red"), ("Size", "M")),
            (),
            {"properties": "Red/M"},
        ),
        ({"properties": "Color:Red", "properties_name": ""}, (("Color", "Red"),), (), {}),
        ({"properties": ["Color:Red", "Size:M"]}, (("Color", "Red"), ("Size", "M")), (), {}),
    ],
)
def test_sku_properties_name_variants(
    item: dict[str, Any],
    properties: tuple[tuple[str, str], ...],
    codes: tuple[tuple[str, str], ...],
    extra: dict[str, Any],
) -> None:
    (sku,) = parse_product_details_now(_details(skus={"sku": [{"sku_id": 1, **item}]}), None).skus
    assert (sku.properties, sku.property_codes, sku.extra) == (properties, codes, extra)


@pytest.mark.parametrize("null", [None, ""])
def test_a_null_original_price_does_not_hide_the_misspelt_one(null: object) -> None:
    details = parse_product_details_now(_details(orginal_price="585.82", original_price=null), None)
    assert details.original_price == Decimal("585.82")
    assert "orginal_price" not in details.extra


def test_a_misspelt_price_that_is_not_used_stays_in_extra() -> None:
    details = parse_product_details_now(
        _details(orginal_price="585.82", original_price="1.00"), None
    )
    assert details.original_price == Decimal("1.00")
    assert details.extra["orginal_price"] == "585.82"


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ([{"name": "Color", "value": "Red"}], r"sku\[1\].*properties: expected a string"),
        ({"Color": "Red"}, r"sku\[1\].*properties: expected a string"),
    ],
)
def test_a_sku_whose_properties_is_not_text_names_the_field(
    properties: object, message: str
) -> None:
    skus = {"sku": [{"sku_id": 1}, {"sku_id": 2, "properties": properties}]}
    with pytest.raises(ResponseValidationError, match=message):
        parse_product_details_now(_details(skus=skus), None)
    with pytest.raises(ResponseValidationError, match="properties_name"):
        parse_product_details_now(
            _details(skus={"sku": [{"sku_id": 2, "properties_name": properties}]}), None
        )


@pytest.mark.anyio
async def test_a_product_with_a_huge_sku_list_yields_to_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = _details(skus={"sku": [{"sku_id": i + 1, "price": "1.50"} for i in range(5000)]})
    slices = 0
    real = product_details._structure_skus

    def counting(raw: list[Any], start: int, stop: int) -> list[Any]:
        nonlocal slices
        slices += 1
        if slices == 2:
            scope.cancel()
        return real(raw, start, stop)

    monkeypatch.setattr(product_details, "_structure_skus", counting)
    with anyio.CancelScope() as scope:
        await product_details.parse_product_details(data, None)
    assert scope.cancelled_caught
    assert slices == 2  # stopped at the next checkpoint, not after all 10 slices
    monkeypatch.setattr(product_details, "_structure_skus", real)
    whole = await product_details.parse_product_details(data, None)
    assert whole == parse_product_details_now(data, None)
    assert len(whole.skus) == 5000
    assert whole.skus[-1].sku_id == 5000


def test_product_details_read_detail_url_and_pic_url() -> None:
    url, pic = f"https://detail.1688.com/offer/{ID}.html", "https://cbu01.alicdn.com/x.jpg"
    details = parse_product_details_now(_details(detail_url=url, pic_url=pic), None)
    assert (details.detail_url, details.pic_url) == (url, pic)
    assert details.extra == {"props_imgs": {"prop_img": []}}
