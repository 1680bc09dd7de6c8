"""Shared argument checks: numbers that are not bools, amounts, ids, tokens, URLs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from hiobuy_async import InputError
from hiobuy_async._validation import (
    check_amount,
    check_http_url,
    check_int,
    check_positive,
    check_product_id,
    check_token,
    describe,
)


@pytest.mark.parametrize("value", [True, 1.0, "1", None, 0, 11])
def test_check_int_refuses(value: Any) -> None:
    with pytest.raises(InputError, match="n must be an integer"):
        check_int("n", value, minimum=1, maximum=10)


def test_check_int_accepts_bounds() -> None:
    assert check_int("n", 1, minimum=1, maximum=10) == 1
    assert check_int("n", 10, minimum=1, maximum=10) == 10


@pytest.mark.parametrize("value", [True, 0, -1, float("inf"), float("nan"), "1", None])
def test_check_positive_refuses(value: Any) -> None:
    with pytest.raises(InputError, match="t must be a positive"):
        check_positive("t", value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12.50", Decimal("12.50")),
        (3, Decimal(3)),
        (Decimal("0.5"), Decimal("0.5")),
        ("5.", Decimal(5)),
        (".5", Decimal("0.5")),
    ],
)
def test_check_amount_accepts(value: Any, expected: Decimal) -> None:
    assert check_amount("p", value) == expected


@pytest.mark.parametrize(
    "value", ["1e3", "-1", "١٢", "1.2.3", "0x10", "1,5", "1.123456789", 10**12, 1.5]
)
def test_check_amount_refuses(value: Any) -> None:
    with pytest.raises(InputError, match="p "):
        check_amount("p", value)


@pytest.mark.parametrize(
    ("value", "expected"), [(808, 808), ("808", 808), (" 808 ", 808), (2**64, 2**64)]
)
def test_check_product_id_accepts(value: Any, expected: int) -> None:
    assert check_product_id(value) == expected


@pytest.mark.parametrize("value", [0, -1, True, "", "+1", "٨٠٨", "1_0", "1" * 21, 1.0, None])
def test_check_product_id_refuses(value: Any) -> None:
    with pytest.raises(InputError):
        check_product_id(value)


@pytest.mark.parametrize("value", ["", " x", "a b", "é", "x\n", "x" * 129, 5])
def test_check_token_refuses(value: Any) -> None:
    with pytest.raises(InputError, match="shop_id"):
        check_token("shop_id", value, max_length=128)


def test_check_token_accepts() -> None:
    assert check_token("shop_id", "b2b-22%2F?&=", max_length=128) == "b2b-22%2F?&="


@pytest.mark.parametrize(
    "value", ["", "example.com/x", "ftp://h/x", "https:///x", "http://h/ x", "http://[::1/x", 5]
)
def test_check_http_url_refuses(value: Any) -> None:
    with pytest.raises(InputError, match="u "):
        check_http_url("u", value, max_length=100)


def test_describe_shortens_long_values() -> None:
    text = describe("x" * 10_000)
    assert len(text) <= 61
    assert text.endswith("…")
