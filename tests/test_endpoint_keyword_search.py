"""Keyword search: argument validation and the body sent for each page."""

from __future__ import annotations

import typing
from decimal import Decimal
from typing import Any

import pytest

from hiobuy_async import (
    InputError,
    Marketplace,
    ResponseValidationError,
    SortName,
    UnknownFilterWarning,
)
from hiobuy_async._endpoints.keyword_search import (
    SORT_NAMES,
    Sort,
    parse_keyword_page,
    resolve_keyword_query,
)


def resolve(keyword: Any = "lamp", **kwargs: Any) -> Any:
    kwargs.setdefault("platform", "1688")
    kwargs.setdefault("language", None)
    return resolve_keyword_query(keyword, **kwargs)


def test_the_body_carries_strings_as_documented() -> None:
    query = resolve(
        "  desk lamp ",
        language="en_US",
        page_size=40,
        sort=Sort.PRICE_ASC,
        price_min=Decimal("1.50"),
        price_max=30,
        use_platform=True,
        filters=["certifiedFactory"],
    )

    assert query.payload(3) == {
        "keyword": "desk lamp",
        "platform": "1688",
        "page": "3",
        "page_size": "40",
        "sort": "bid",
        "priceStart": "1.50",
        "priceEnd": "30",
        "use_platform": "1",
        "filter": ["certifiedFactory"],
    }
    request = query.request(3)
    assert (request.method, request.path, request.language) == (
        "POST",
        "/api/client/third-purchase/search",
        "en_US",
    )


def test_taobao_sends_no_1688_options_and_defaults_are_minimal() -> None:
    query = resolve(platform=Marketplace.TAOBAO)
    assert query.payload(1) == {
        "keyword": "lamp",
        "platform": "taobao",
        "page": "1",
        "page_size": "20",
    }
    assert query.request(1).language == "zh_CN"


@pytest.mark.parametrize(
    ("sort", "code"),
    [
        ("sale2", "sale2"),
        (Sort.SALES_ASC, "sale"),
        ("bid2", "bid2"),
        ("price-asc", "bid"),
        ("Price-Desc", "bid2"),
        ("sales-asc", "sale"),
        (" SALES-DESC ", "sale2"),
    ],
)
def test_sort_takes_the_enum_its_code_or_the_cli_name(sort: Any, code: str) -> None:
    assert resolve(sort=sort).payload(1)["sort"] == code


@pytest.mark.parametrize(
    "value", ["1e3", "1E+2", "NaN", "Infinity", "-1", "+1", "1_000", "１２", "", ".", " "]
)
def test_prices_must_be_plain_non_negative_decimals(value: str) -> None:
    with pytest.raises(InputError, match="price_min"):
        resolve(price_min=value)


@pytest.mark.parametrize(
    "value", [1.5, True, None.__class__, Decimal("NaN"), Decimal("-0.01"), Decimal("1e12"), -3]
)
def test_other_price_values_are_refused(value: Any) -> None:
    with pytest.raises(InputError, match="price_max"):
        resolve(price_max=value)


def test_price_strings_and_ints_are_accepted() -> None:
    query = resolve(price_min="0", price_max=" 12.5 ")
    assert (query.price_min, query.price_max) == (Decimal(0), Decimal("12.5"))
    assert resolve(price_min="7", price_max="7").payload(1)["priceEnd"] == "7"


def test_price_min_above_max() -> None:
    with pytest.raises(InputError, match="above"):
        resolve(price_min="10", price_max="9.99")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"keyword": ""}, "empty"),
        ({"keyword": " \t "}, "empty"),
        ({"keyword": "x" * 201}, "200"),
        ({"keyword": "a\nb"}, "control"),
        ({"keyword": 5}, "string"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": 51}, "page_size"),
        ({"page_size": True}, "page_size"),
        ({"sort": "price"}, "sort"),
        ({"sort": 1}, "sort"),
        ({"platform": None}, "platform"),
        ({"platform": "amazon"}, "platform"),
        ({"platform": "taobao", "language": "ja"}, "language"),
        ({"platform": "taobao", "use_platform": True}, "1688 only"),
        ({"platform": "taobao", "filters": ["certifiedFactory"]}, "1688 only"),
        ({"filters": "certifiedFactory"}, "single string"),
    ],
)
def test_bad_arguments_fail_before_any_request(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        resolve(**kwargs)


def test_a_keyword_of_200_characters_is_fine() -> None:
    assert resolve("键" * 200).keyword == "键" * 200


@pytest.mark.parametrize(
    ("keyword", "sent"),
    [
        ("台灯\u3000LED", "台灯 LED"),  # a full-width space, as Chinese and Japanese IMEs type
        ("desk\u00a0lamp", "desk lamp"),  # a no-break space
        ("\u3000desk\u2009lamp\u202f", "desk lamp"),
    ],
)
def test_keywords_with_unicode_spaces_are_accepted(keyword: str, sent: str) -> None:
    query = resolve(keyword)
    assert query.keyword == sent
    assert query.payload(1)["keyword"] == sent


@pytest.mark.parametrize(
    "keyword", ["a\nb", "a\rb", "a\tb", "a\x00b", "a\x1bb", "a\u2028b", "a\u2029b", "a\x85b"]
)
def test_keywords_with_controls_or_line_breaks_are_still_refused(keyword: str) -> None:
    with pytest.raises(InputError, match="control characters or line breaks"):
        resolve(keyword)


def test_unknown_filters_warn() -> None:
    with pytest.warns(UnknownFilterWarning):
        resolve(filters=["brandNew"])


@pytest.mark.anyio
async def test_parse_a_page() -> None:
    data = {"items": {"item": [{"num_iid": 1, "price": "2.50"}], "total_results": "21"}}
    page = await parse_keyword_page(data, "rid", page=2, page_size=20)
    assert page.items[0].price == Decimal("2.50")
    assert (page.page, page.page_size, page.total_results, page.request_id) == (2, 20, 21, "rid")
    assert page.is_last  # a short page that the count agrees ends the results
    assert page.raw is data


@pytest.mark.parametrize(
    ("count", "page", "total", "is_last"),
    [
        (20, 1, 41, False),
        (20, 2, 40, True),
        (20, 3, None, False),
        (0, 1, None, True),
        (5, 1, 5, True),
        (15, 5, 95, True),  # 4 pages of 20, then 15: the end at the size asked
        (20, 5, 95, True),  # a full page reaching the count
        # A short page whose count says more remain is not the last (issue #18, point 2).
        (5, 1, 1000, False),
        (20, 2, 95, False),
    ],
)
@pytest.mark.anyio
async def test_is_last(count: int, page: int, total: int | None, is_last: bool) -> None:
    data = {"items": {"item": [{"num_iid": i + 1} for i in range(count)], "total_results": total}}
    assert (await parse_keyword_page(data, None, page=page, page_size=20)).is_last is is_last


@pytest.mark.anyio
async def test_a_bad_items_block() -> None:
    with pytest.raises(ResponseValidationError):
        await parse_keyword_page({"items": "none"}, None, page=1, page_size=20)
    # An unusable count is unknown, not a failure (issue #18, point 7).
    page = await parse_keyword_page(
        {"items": {"item": [], "total_results": "many"}}, None, page=1, page_size=20
    )
    assert page.total_results is None


def test_the_sort_name_type_lists_every_spelling_the_runtime_accepts() -> None:
    # Lower case: the runtime also takes them in any letter case.
    assert set(typing.get_args(SortName)) == set(SORT_NAMES)
    for name in typing.get_args(SortName):
        assert resolve(sort=name).sort is SORT_NAMES[name]
