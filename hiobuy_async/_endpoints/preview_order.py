# SPDX-License-Identifier: MIT
"""Order preview: `POST /api/client/third-purchase/preview-order`, a fee quote.

No side effect is documented: a preview may be sent again (`safe_to_repeat`).
The amounts arrive as JSON numbers (`1349.5`): the pipeline decodes them as
`Decimal` from the JSON text (`exact_numbers`), never through `float`. The
address is personal data: no message here quotes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from .._exceptions import InputError, ResponseValidationError
from .._models import Address, OrderLine, OrderPreview
from .._request import ApiRequest
from .._validation import (
    check_int,
    check_product_id,
    check_text,
    check_token,
    describe,
)
from ..marketplaces import Marketplace, validate_marketplace

__all__ = [
    "MAX_LINES",
    "MAX_QUANTITY",
    "PREVIEW_ORDER_PATH",
    "address_payload",
    "parse_order_preview",
    "personal_texts",
    "preview_order_request",
]

PREVIEW_ORDER_PATH = "/api/client/third-purchase/preview-order"
MAX_LINES = 200
"""The most lines one preview takes."""
MAX_QUANTITY = 1_000_000
"""The largest quantity of one line."""
MAX_TEXT_LENGTH = 512
"""The longest text of an address field."""
_ID_LENGTH = 64
_ADDRESS_FIELDS = ("receiver_name", "postcode", "province", "city", "district", "address", "phone")
_FEES = {"goodsFee": "goods_fee", "paymentFee": "payment_fee", "freightFee": "freight_fee"}


def address_payload(address: object, *, name: str = "address") -> dict[str, str]:
    """Check an `Address` and render it in the preview's documented shape.

    Args:
        address: The address.
        name: The argument's name, for messages.

    Returns:
        `receiver_name`, `postcode`, `province`, `city`, `district`,
        `address`, `phone`, and `street` when given.

    Raises:
        InputError: Not an `Address`, or a field missing or invalid (the
            message names the field, never its value).
    """
    if not isinstance(address, Address):
        raise InputError(f"{name} must be an Address, got {type(address).__name__}")
    payload = {
        field: check_text(
            f"{name}.{field}",
            getattr(address, field),
            max_length=MAX_TEXT_LENGTH,
            personal=True,
        )
        for field in _ADDRESS_FIELDS
    }
    if address.street is not None:
        payload["street"] = check_text(
            f"{name}.street", address.street, max_length=MAX_TEXT_LENGTH, personal=True
        )
    return payload


MIN_HIDDEN_LENGTH = 4
"""Shorter texts of an address are not hidden from errors (they would mask common words)."""


def personal_texts(address: object) -> tuple[str, ...]:
    """The texts of an address (as sent) to hide from every error of the call.

    Args:
        address: The address as sent: a mapping (nested values included).

    Returns:
        Each string value of at least `MIN_HIDDEN_LENGTH` characters, longest first.
    """
    found: set[str] = set()
    pending = [address]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if len(value.strip()) >= MIN_HIDDEN_LENGTH:
                found.add(value.strip())
        elif isinstance(value, Mapping):
            pending.extend(value.values())
        elif isinstance(value, list | tuple):
            pending.extend(value)
    return tuple(sorted(found, key=len, reverse=True))


def _line_payload(index: int, line: object, marketplace: Marketplace) -> dict[str, str]:
    where = f"lines[{index}]"
    if not isinstance(line, OrderLine):
        raise InputError(f"{where} must be an OrderLine, got {type(line).__name__}")
    goods_id = check_product_id(line.goods_id, name=f"{where}.goods_id")
    if isinstance(line.sku_id, int) and not isinstance(line.sku_id, bool):
        sku_id = str(check_int(f"{where}.sku_id", line.sku_id, minimum=0))
    else:
        sku_id = check_token(f"{where}.sku_id", line.sku_id, max_length=_ID_LENGTH)
    quantity = check_int(f"{where}.quantity", line.quantity, minimum=1, maximum=MAX_QUANTITY)
    payload = {"goods_id": str(goods_id), "sku_id": sku_id, "sum": str(quantity)}
    if line.spec_id is not None:
        payload["spec_id"] = check_token(f"{where}.spec_id", line.spec_id, max_length=_ID_LENGTH)
    elif marketplace is Marketplace.ALIBABA_1688:
        raise InputError(
            f"{where}.spec_id is required for 1688 (Sku.spec_id; '0' for a product without "
            "variants)"
        )
    return payload


def preview_order_request(
    *, platform: Marketplace | str, lines: Iterable[OrderLine], address: Address
) -> ApiRequest[OrderPreview]:
    """Validate a preview's arguments and describe the call, before any I/O.

    Args:
        platform: `"taobao"` or `"1688"`.
        lines: The lines, at least one.
        address: Where the order would go.

    Returns:
        The request, for the pipeline (`safe_to_repeat`: a quote has no side effect).

    Raises:
        InputError: An argument is invalid.
    """
    marketplace = validate_marketplace(platform)
    if isinstance(lines, OrderLine | str | bytes | Mapping) or not isinstance(lines, Iterable):
        raise InputError(f"lines must be a list of OrderLine, got {describe(lines)}")
    skus = [_line_payload(index, line, marketplace) for index, line in enumerate(lines)]
    if not skus:
        raise InputError("lines must hold at least one OrderLine")
    if len(skus) > MAX_LINES:
        raise InputError(f"lines holds {len(skus)} lines; at most {MAX_LINES} accepted")
    return ApiRequest(
        endpoint="preview_order",
        method="POST",
        path=PREVIEW_ORDER_PATH,
        parse=parse_order_preview,
        json={"platform": marketplace.value, "skus": skus, "address": address_payload(address)},
        safe_to_repeat=True,
        exact_numbers=True,
    )


def _fee(data: Mapping[str, Any], key: str) -> Decimal | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ResponseValidationError(f"data.{key} is a bool, expected a number")
    if isinstance(value, Decimal | int):
        amount = Decimal(value)
    elif isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except ArithmeticError:
            raise ResponseValidationError(f"data.{key} is not a number") from None
    else:
        raise ResponseValidationError(f"data.{key} is a {type(value).__name__}, expected a number")
    if not amount.is_finite():
        raise ResponseValidationError(f"data.{key} is not a finite number")
    return amount


async def parse_order_preview(data: Mapping[str, Any], request_id: str | None) -> OrderPreview:
    """Turn an order preview's `data` into an `OrderPreview`.

    Args:
        data: The envelope's `data`, decoded with exact numbers.
        request_id: The response's request id.

    Returns:
        The preview.

    Raises:
        ResponseValidationError: A fee is not a number, or `isFree` not a bool.
    """
    fees = {name: _fee(data, key) for key, name in _FEES.items()}
    is_free = data.get("isFree")
    if isinstance(is_free, int) and not isinstance(is_free, bool) and is_free in (0, 1):
        is_free = bool(is_free)
    if is_free is not None and not isinstance(is_free, bool):
        raise ResponseValidationError(f"data.isFree is a {type(is_free).__name__}, expected a bool")
    extra = {k: v for k, v in data.items() if k not in _FEES and k != "isFree"}
    return OrderPreview(
        goods_fee=fees["goods_fee"],
        payment_fee=fees["payment_fee"],
        freight_fee=fees["freight_fee"],
        is_free=is_free,
        extra=extra,
        request_id=request_id,
        raw=data,
    )
