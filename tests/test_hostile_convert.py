"""Issue #13, points 4, 10 and 11: hostile bodies against the converter."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hiobuy_async import ResponseValidationError, _convert
from hiobuy_async._client import DEFAULT_MAX_RESPONSE_BYTES
from hiobuy_async._endpoints.image_search import aparse_image_search, parse_image_search

orjson = pytest.importorskip("orjson")


def items_body(*items: object) -> bytes:
    data = {"api_type": "taobao", "items": {"item": list(items), "total_results": 1000}}
    return json.dumps({"ret": 1, "msg": "success", "data": data}).encode()


# --- point 4: the explanation costs the first bad item, and parsing yields -----------


def test_point04_a_bad_item_in_a_long_list_costs_only_its_bad_field() -> None:
    # Issue #18, point 7: one odd item no longer rejects the answer.
    good = {"num_iid": 1, "price": "1.00"}
    body = items_body(*([good] * 1500), {"num_iid": 2, "price": "abc"}, *([good] * 10))
    result = parse_image_search(body)
    assert len(result.items) == 1511
    odd = result.items[1500]
    assert (odd.num_iid, odd.price, odd.extra) == (2, None, {"price": "abc"})


def test_point04_an_answer_of_unreadable_items_names_the_first_one() -> None:
    body = items_body(*([{"title": "no id"}] * 1500))
    with pytest.raises(ResponseValidationError) as info:
        parse_image_search(body)
    assert "items[0].num_iid" in str(info.value)


def test_point04_only_the_first_bad_item_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    explained: list[object] = []
    real = _convert._describe_failure

    def spy(item: object, index: int) -> str:
        explained.append(index)
        return real(item, index)

    monkeypatch.setattr(_convert, "_describe_failure", spy)
    with pytest.raises(ResponseValidationError) as info:
        parse_image_search(items_body(*([{"num_iid": "x"}] * 5000)))
    assert explained == [0]
    assert "items[0]" in str(info.value)


@pytest.mark.anyio
async def test_point04_a_cancel_scope_interrupts_parsing_a_huge_body() -> None:
    body = items_body(*([{"num_iid": 7}] * 20_000))
    slices = 0
    real = _convert._structure_slice

    def counting(items: list[Any], start: int) -> tuple[Any, ...]:
        nonlocal slices
        slices += 1
        if slices == 2:
            scope.cancel()
        return real(items, start)

    with anyio.CancelScope() as scope:
        _convert_slice = _convert._structure_slice
        _convert._structure_slice = counting
        try:
            await aparse_image_search(body)
        finally:
            _convert._structure_slice = _convert_slice
    assert scope.cancelled_caught
    assert slices == 2  # stopped at the next checkpoint, not after all 40 slices


@pytest.mark.anyio
async def test_point04_async_parse_gives_the_sync_result() -> None:
    body = items_body(*({"num_iid": i + 1, "price": f"{i}.5"} for i in range(1200)))
    assert await aparse_image_search(body) == parse_image_search(body)


def test_point04_default_cap_is_far_below_the_old_8_mib() -> None:
    assert 64 * 1024 <= DEFAULT_MAX_RESPONSE_BYTES <= 256 * 1024


# --- point 10: prices are plain decimals in a sane range ------------------------------


@pytest.mark.parametrize(
    "price",
    [
        "9e999999999999999999",
        "1e999999999",
        "1e5",
        "1E2",
        "-1",
        "+1",
        "1_000.5",
        "\uff18\uff10\uff18",
        "\u0663\u066b\u0665",
        "1000000000000",
        "0.123456789",
        "1.",
        ".5",
        "nan",
        "Infinity",
        1e300,
        -1.5,
        10**12,
        -3,
        1e-9,
    ],
)
def test_point10_absurd_prices_are_not_read_as_prices(price: object) -> None:
    # Issue #18, point 7: the product stays, its price unknown, the value kept as sent.
    (product,) = parse_image_search(items_body({"num_iid": 1, "price": price})).items
    assert product.price is None
    assert product.price_range is None
    assert product.extra == {"price": price}


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        ("21.80", "21.80"),
        (" 3 ", "3"),
        ("999999999999.99999999", "999999999999.99999999"),
        (21.8, "21.8"),
        (0, "0"),
        ("0021.5", "21.5"),
    ],
)
def test_point10_plain_prices_still_parse(price: object, expected: str) -> None:
    (product,) = parse_image_search(items_body({"num_iid": 1, "price": price})).items
    assert product.price == Decimal(expected)


# --- point 11: ids are exact; both decoders agree -------------------------------------


@pytest.mark.parametrize(
    "num_iid",
    [
        9007199254740993.0,  # a float above 2**53
        2.0**60,
        "\uff18\uff10\uff18",
        "8_0_8",
        "+808",
        "\u0668\u0660\u0668",
        "1_000",
        "0",
        0,
        -5,
        "-5",
        2**63,
        "99999999999999999999",
        True,
    ],
)
def test_point11_loose_ids_are_refused(num_iid: object) -> None:
    with pytest.raises(ResponseValidationError) as info:
        parse_image_search(items_body({"num_iid": num_iid}))
    assert "num_iid" in str(info.value)
    # Beside a good item, the item is dropped and counted (issue #18, point 7).
    result = parse_image_search(items_body({"num_iid": 7}, {"num_iid": num_iid}))
    assert [p.num_iid for p in result.items] == [7]
    assert result.dropped_items == 1


def test_point11_exact_ids_pass() -> None:
    items = parse_image_search(
        items_body({"num_iid": 808.0}, {"num_iid": " 808 "}, {"num_iid": 2**63 - 1})
    ).items
    assert [p.num_iid for p in items] == [808, 808, 2**63 - 1]


def test_point11_sales_and_categories_refuse_signs_and_unicode_digits() -> None:
    for field, value in [("sales", "-1"), ("quantity", "\u0663"), ("category_id", "1_0")]:
        (product,) = parse_image_search(items_body({"num_iid": 1, field: value})).items
        assert getattr(product, field) is None
        assert product.extra == {field: value}


def outcome(body: bytes, loads: Any, monkeypatch: pytest.MonkeyPatch) -> object:
    """What the SDK makes of `body` with one decoder: the result or the error."""
    with monkeypatch.context() as patch:
        patch.setattr(_convert, "_loads", loads)
        try:
            result = parse_image_search(body)
        except ResponseValidationError as exc:
            return ("error", type(exc).__name__, str(exc))
        except Exception as exc:
            return ("error", type(exc).__name__, str(exc))
    return (
        "result",
        result,
        [p.extra for p in result.items],
        json.dumps(result.raw, sort_keys=True, default=repr),
        repr(result.raw),
    )


def numbers() -> st.SearchStrategy[bytes]:
    ints = st.one_of(
        st.integers(-(2**70), 2**70),
        st.integers(2**62, 2**66),
        st.integers(-(2**64), -(2**62)),
        st.integers(10**300, 10**320),
    ).map(lambda n: str(n).encode())
    floats = st.floats(allow_nan=False, allow_infinity=False).map(lambda f: repr(f).encode())
    literal = st.from_regex(
        rb"-?(0|[1-9][0-9]{0,25})(\.[0-9]{1,25})?([eE][-+]?[0-9]{1,4})?", fullmatch=True
    )
    return st.one_of(ints, floats, literal, st.sampled_from([b"NaN", b"Infinity", b"-Infinity"]))


def strings() -> st.SearchStrategy[bytes]:
    digits = st.text(st.characters(categories=["Nd"]), min_size=1, max_size=25)
    escapes = st.lists(
        st.sampled_from(
            ["\\ud800", "\\udc00", "\\ud83d\\ude00", "\\uD83D", "\\\\ud800", "a", "\\u0000"]
        ),
        max_size=4,
    ).map("".join)
    texts = st.text(max_size=20).map(lambda t: json.dumps(t, ensure_ascii=False)[1:-1])
    return st.one_of(digits, escapes, texts, st.just("8_0_8"), st.just("+808")).map(
        lambda t: b'"' + t.encode("utf-8", "surrogatepass") + b'"'
    )


def scalar() -> st.SearchStrategy[bytes]:
    return st.one_of(numbers(), strings(), st.sampled_from([b"null", b"true", b'""']))


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    fields = ["num_iid", "price", "sales", "title", "tags", "category_id", "odd"]
    items = []
    for _ in range(draw(st.integers(0, 3))):
        chosen = draw(st.lists(st.sampled_from(fields), unique=True, max_size=4))
        members = [b'"%s":%s' % (f.encode(), draw(scalar())) for f in chosen]
        items.append(b"{" + b",".join(members) + b"}")
    total = draw(scalar())
    body = (
        b'{"ret":1,"msg":"ok","data":{"items":{"item":['
        + b",".join(items)
        + b'],"total_results":'
        + total
        + b"}}}"
    )
    nest = draw(st.sampled_from([0, 0, 1021, 1022, 1200]))
    if nest:
        body = body[:-1] + b',"deep":' + b"[" * nest + b"]" * nest + b"}"
    wrap = draw(st.sampled_from(["plain", "plain", "bom", "utf-16", "utf-16-le", "utf-32", "cut"]))
    if wrap == "bom":
        return b"\xef\xbb\xbf" + body
    if wrap == "cut":
        return body[: draw(st.integers(0, len(body)))]
    if wrap != "plain":
        return body.decode("utf-8", "surrogatepass").encode(wrap, "surrogatepass")
    return body


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies())
def test_point11_stdlib_and_orjson_give_the_same_result_or_error(body: bytes) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        fast = outcome(body, _convert._orjson_loads, monkeypatch)
        slow = outcome(body, _convert._stdlib_loads, monkeypatch)
    assert fast == slow


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            items_body({"num_iid": 1, "title": "x"}).replace(b'"x"', b'"\\ud800"'),
            id="lone-surrogate",
        ),
        pytest.param(b"\xef\xbb\xbf" + items_body({"num_iid": 1}), id="bom"),
        pytest.param(items_body({"num_iid": 1}).decode().encode("utf-16"), id="utf-16"),
        pytest.param(
            items_body({"num_iid": 1}).replace(b"1000", b"123456789012345678901234"), id="big-int"
        ),
        pytest.param(items_body({"num_iid": 1}).replace(b"1000", b"1e400"), id="overflowing-float"),
        pytest.param(items_body({"num_iid": 1}).replace(b"1000", b"NaN"), id="nan"),
    ],
)
def test_point11_decoders_agree_on_the_known_differences(body: bytes) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert outcome(body, _convert._orjson_loads, monkeypatch) == outcome(
            body, _convert._stdlib_loads, monkeypatch
        )


def test_point11_big_num_iid_is_refused_by_both_decoders() -> None:
    body = b'{"ret":1,"data":{"items":{"item":[{"num_iid":123456789012345678901234}]}}}'
    with pytest.MonkeyPatch.context() as monkeypatch:
        fast = outcome(body, _convert._orjson_loads, monkeypatch)
        slow = outcome(body, _convert._stdlib_loads, monkeypatch)
    assert fast == slow
    assert isinstance(fast, tuple)
    assert fast[0] == "error"


@pytest.mark.parametrize("loads", ["_orjson_loads", "_stdlib_loads"])
def test_point11_a_lone_surrogate_is_repaired_not_refused(loads: str) -> None:
    body = items_body({"num_iid": 1, "title": "x"}).replace(
        b'"x"', b'"lone \\ud800 \\ud83d\\ude00"'
    )
    document = getattr(_convert, loads)(body)
    title = document["data"]["items"]["item"][0]["title"]
    assert title == "lone \ufffd \U0001f600"
    title.encode("utf-8")  # writable anywhere
