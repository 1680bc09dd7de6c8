# SPDX-License-Identifier: MIT
"""Create order: `PUT /api/client/daigou-open/create-order`, a purchasing-agent order.

It costs money, and HioBuy documents no idempotency key, no duplicate
detection and no order lookup: an order sent twice is two orders. So the
request is `safe_to_repeat=False` (the pipeline resends it only when it
provably never left, or after a `429`/`408`), and the client's key guard
(`_orders.py`) keeps one idempotency key from being sent twice.

The body is either an `Order` or a plain mapping of the documented fields
(what a JSON file gives the CLI): both are checked and rendered the same
way, scalars as strings as documented, fields the docs do not list passed
through as given. The address is personal data: no message quotes it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from .._exceptions import InputError
from .._models import Address, Order, OrderSku, OrderSkuInfo, OrderSubmission
from .._request import ApiRequest
from .._validation import (
    check_amount,
    check_currency,
    check_http_url,
    check_int,
    check_scalar,
    check_text,
    check_token,
)
from .preview_order import MAX_QUANTITY, address_payload

__all__ = [
    "CREATE_ORDER_PATH",
    "ORDER_PLATFORMS",
    "OrderBody",
    "check_key",
    "create_order_request",
    "fingerprint",
    "order_body",
    "parse_order_submission",
]

CREATE_ORDER_PATH = "/api/client/daigou-open/create-order"
ORDER_PLATFORMS = ("taobao", "1688", "weidian")
"""The marketplaces create-order documents."""
MAX_KEY_LENGTH = 128
"""The longest idempotency key or client reference accepted."""
_TEXT = 2048
_URL = 4096
_ID = 128
_MAX_SKUS = 500

OrderBody = dict[str, Any]
"""A checked create-order body, as sent."""


def check_key(name: str, value: object) -> str:
    """Check an idempotency key or a client reference.

    Args:
        name: The argument's name.
        value: The value.

    Returns:
        The value.

    Raises:
        InputError: Not printable ASCII without whitespace, empty, or longer
            than 128 characters.
    """
    return check_token(name, value, max_length=MAX_KEY_LENGTH)


def _amount(name: str, value: object) -> str:
    if isinstance(value, float):
        raise InputError(f"{name} must be a Decimal, an int or a decimal string, not a float")
    return str(check_amount(name, value))


def _count(name: str, value: object) -> str:
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    return str(check_int(name, value, minimum=1, maximum=MAX_QUANTITY))


def _mapping(name: str, value: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InputError(f"{name} must be an object, got {type(value).__name__}")
    return value


def _list(name: str, value: object) -> Sequence[Any]:
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
        raise InputError(f"{name} must be a list, got {type(value).__name__}")
    return value


def _rest(given: Mapping[str, Any], known: Sequence[str]) -> dict[str, Any]:
    """The fields the docs do not list, passed through as given."""
    return {key: value for key, value in given.items() if key not in known}


_INFO_KEYS = (
    "shop_id",
    "shop_name",
    "sku_img",
    "imgs",
    "spec_id",
    "min_order_quantity",
    "batch_number",
    "specs",
    "priceRangeList",
)
_SKU_KEYS = ("price", "platform_sku", "quantity", "freight_fee", "sku_info")
_ORDER_KEYS = (
    "warehouse_id",
    "user_id",
    "shop_id",
    "shop_name",
    "platform",
    "platform_url",
    "name",
    "freight_fee",
    "skus",
    "address",
    "title_cn",
    "goods_amount",
    "remark",
    "express_line_id",
)


def _info_mapping(info: OrderSkuInfo) -> dict[str, Any]:
    out: dict[str, Any] = {
        "shop_id": info.shop_id,
        "shop_name": info.shop_name,
        "sku_img": info.sku_img,
        "imgs": list(info.imgs),
    }
    if info.spec_id is not None:
        out["spec_id"] = info.spec_id
    if info.min_order_quantity is not None:
        out["min_order_quantity"] = info.min_order_quantity
    if info.batch_number is not None:
        out["batch_number"] = info.batch_number
    if info.specs:
        out["specs"] = [{"label": s.label, "value": s.value} for s in info.specs]
    if info.price_ranges:
        out["priceRangeList"] = [
            {"startQuantity": r.start_quantity, "price": r.price} for r in info.price_ranges
        ]
    return {**info.extra, **out}


def _sku_mapping(sku: OrderSku) -> dict[str, Any]:
    out: dict[str, Any] = {
        "price": sku.price,
        "platform_sku": sku.platform_sku,
        "quantity": sku.quantity,
        "sku_info": _info_mapping(sku.sku_info)
        if isinstance(sku.sku_info, OrderSkuInfo)
        else sku.sku_info,
    }
    if sku.freight_fee is not None:
        out["freight_fee"] = sku.freight_fee
    return {**sku.extra, **out}


def _order_mapping(order: Order) -> dict[str, Any]:
    out: dict[str, Any] = {
        "warehouse_id": order.warehouse_id,
        "user_id": order.user_id,
        "shop_id": order.shop_id,
        "shop_name": order.shop_name,
        "platform": order.platform,
        "platform_url": order.platform_url,
        "name": order.name,
        "freight_fee": order.freight_fee,
        "skus": [_sku_mapping(s) if isinstance(s, OrderSku) else s for s in order.skus],
        "address": order.address,
    }
    for key in ("title_cn", "goods_amount", "remark", "express_line_id"):
        value = getattr(order, key)
        if value is not None:
            out[key] = value
    return {**order.extra, **out}


def _sku_info(where: str, given: object, platform: str) -> dict[str, Any]:
    info = _mapping(where, given)
    out = _rest(info, _INFO_KEYS)
    out["shop_id"] = check_scalar(f"{where}.shop_id", info.get("shop_id"), max_length=_ID)
    out["shop_name"] = check_text(f"{where}.shop_name", info.get("shop_name"), max_length=_TEXT)
    out["sku_img"] = check_http_url(f"{where}.sku_img", info.get("sku_img"), max_length=_URL)
    imgs = _list(f"{where}.imgs", info.get("imgs"))
    out["imgs"] = [
        check_http_url(f"{where}.imgs[{i}]", img, max_length=_URL) for i, img in enumerate(imgs)
    ]
    spec_id = info.get("spec_id")
    if spec_id is not None:
        out["spec_id"] = check_scalar(f"{where}.spec_id", spec_id, max_length=_ID)
    elif platform == "1688":
        raise InputError(f"{where}.spec_id is required for 1688 ('0' without variants)")
    for key in ("min_order_quantity", "batch_number"):
        if info.get(key) is not None:
            out[key] = _count(f"{where}.{key}", info[key])
    if info.get("specs") is not None:
        specs = []
        for i, spec in enumerate(_list(f"{where}.specs", info["specs"])):
            entry = _mapping(f"{where}.specs[{i}]", spec)
            specs.append(
                {
                    **entry,
                    "label": check_text(
                        f"{where}.specs[{i}].label", entry.get("label"), max_length=_TEXT
                    ),
                    "value": check_text(
                        f"{where}.specs[{i}].value", entry.get("value"), max_length=_TEXT
                    ),
                }
            )
        out["specs"] = specs
    if info.get("priceRangeList") is not None:
        tiers = []
        for i, tier in enumerate(_list(f"{where}.priceRangeList", info["priceRangeList"])):
            entry = _mapping(f"{where}.priceRangeList[{i}]", tier)
            tiers.append(
                {
                    **entry,
                    "startQuantity": _count(
                        f"{where}.priceRangeList[{i}].startQuantity", entry.get("startQuantity")
                    ),
                    "price": _amount(f"{where}.priceRangeList[{i}].price", entry.get("price")),
                }
            )
        out["priceRangeList"] = tiers
    return out


def _sku(index: int, given: object, platform: str) -> dict[str, Any]:
    where = f"skus[{index}]"
    sku = _mapping(where, _sku_mapping(given) if isinstance(given, OrderSku) else given)
    out = _rest(sku, _SKU_KEYS)
    out["price"] = _amount(f"{where}.price", sku.get("price"))
    out["platform_sku"] = check_scalar(
        f"{where}.platform_sku", sku.get("platform_sku"), max_length=_ID
    )
    out["quantity"] = _count(f"{where}.quantity", sku.get("quantity"))
    if sku.get("freight_fee") is not None:
        out["freight_fee"] = _amount(f"{where}.freight_fee", sku["freight_fee"])
    out["sku_info"] = _sku_info(f"{where}.sku_info", sku.get("sku_info"), platform)
    return out


def _address(value: object) -> object:
    if isinstance(value, Address):
        return address_payload(value)
    if not isinstance(value, Mapping) or not value:
        raise InputError(
            "address is required: an Address, or a non-empty mapping sent as given "
            f"(got {type(value).__name__})"
        )
    return dict(value)


def order_body(order: Order | Mapping[str, Any], *, client_reference: str | None) -> OrderBody:
    """Check an order and render the body to send, before any I/O.

    Args:
        order: An `Order`, or a mapping of the documented fields.
        client_reference: Written into `remark` (appended as `[ref]` to a
            remark the order holds).

    Returns:
        The body: the documented fields with scalars as strings,
        `freight_fee` `"0"` unless given, unknown fields as given.

    Raises:
        InputError: A required field is missing, or a field is invalid
            (the message names the field; an address's values are never quoted).
    """
    given = _order_mapping(order) if isinstance(order, Order) else order
    if not isinstance(given, Mapping):
        raise InputError(f"order must be an Order or a mapping, got {type(order).__name__}")
    out = _rest(given, _ORDER_KEYS)
    for key in ("warehouse_id", "user_id", "shop_id"):
        out[key] = check_scalar(key, given.get(key), max_length=_ID)
    out["shop_name"] = check_text("shop_name", given.get("shop_name"), max_length=_TEXT)
    platform = given.get("platform")
    if not isinstance(platform, str) or platform.strip().lower() not in ORDER_PLATFORMS:
        raise InputError(f"platform must be one of {', '.join(ORDER_PLATFORMS)}, got {platform!r}")
    out["platform"] = platform = platform.strip().lower()
    out["platform_url"] = check_http_url("platform_url", given.get("platform_url"), max_length=_URL)
    out["name"] = check_text("name", given.get("name"), max_length=_TEXT)
    fee = given.get("freight_fee")
    out["freight_fee"] = "0" if fee is None else _amount("freight_fee", fee)
    skus = _list("skus", given.get("skus"))
    if not skus:
        raise InputError("skus must hold at least one SKU")
    if len(skus) > _MAX_SKUS:
        raise InputError(f"skus holds {len(skus)} entries; at most {_MAX_SKUS} accepted")
    out["skus"] = [_sku(i, sku, platform) for i, sku in enumerate(skus)]
    out["address"] = _address(given.get("address"))
    if given.get("title_cn") is not None:
        out["title_cn"] = check_text("title_cn", given["title_cn"], max_length=_TEXT)
    if given.get("goods_amount") is not None:
        out["goods_amount"] = _amount("goods_amount", given["goods_amount"])
    if given.get("express_line_id") is not None:
        out["express_line_id"] = check_scalar(
            "express_line_id", given["express_line_id"], max_length=_ID
        )
    remark = given.get("remark")
    if remark is not None:
        remark = check_text("remark", remark, max_length=_TEXT)
    if client_reference is not None:
        remark = client_reference if remark is None else f"{remark} [{client_reference}]"
    if remark is not None:
        out["remark"] = remark
    try:  # fields passed through as given must be JSON too: checked before sending
        json.dumps(out, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InputError(f"the order holds a value that is not JSON ({exc})") from None
    return out


def fingerprint(body: OrderBody, currency: str | None) -> str:
    """Return what identifies an order for the key guard: a hash, never the body.

    Args:
        body: The checked body.
        currency: The `Currency` header sent with it.

    Returns:
        A SHA-256 hex digest of the canonical JSON of both.
    """
    text = json.dumps(
        {"body": body, "currency": currency},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def create_order_request(
    body: OrderBody,
    *,
    idempotency_key: str,
    currency: str | None,
    client_reference: str | None,
) -> ApiRequest[OrderSubmission]:
    """Describe the call (`safe_to_repeat=False`: it must never be sent twice).

    Args:
        body: The checked body (`order_body`).
        idempotency_key: The order's key.
        currency: The `Currency` header, or `None`.
        client_reference: The caller's reference.

    Returns:
        The request, for the pipeline.

    Raises:
        InputError: The currency is not a three-letter code.
    """
    return ApiRequest(
        endpoint="create_order",
        method="PUT",
        path=CREATE_ORDER_PATH,
        parse=_Parser(idempotency_key, client_reference),
        json=body,
        safe_to_repeat=False,
        idempotency_key=idempotency_key,
        client_reference=client_reference,
        currency=None if currency is None else check_currency(currency),
    )


class _Parser:
    """Keeps the answer as it came, with the key and the reference."""

    __slots__ = ("_client_reference", "_key")

    def __init__(self, key: str, client_reference: str | None) -> None:
        self._key = key
        self._client_reference = client_reference

    async def __call__(self, data: Mapping[str, Any], request_id: str | None) -> OrderSubmission:
        return parse_order_submission(
            data, request_id, idempotency_key=self._key, client_reference=self._client_reference
        )


def parse_order_submission(
    data: Mapping[str, Any],
    request_id: str | None,
    *,
    idempotency_key: str,
    client_reference: str | None,
) -> OrderSubmission:
    """Wrap a create-order answer's `data` (undocumented: kept as it came).

    Args:
        data: The envelope's `data`.
        request_id: The response's request id.
        idempotency_key: The order's key.
        client_reference: The caller's reference.

    Returns:
        The submission.
    """
    return OrderSubmission(
        idempotency_key=idempotency_key,
        client_reference=client_reference,
        request_id=request_id,
        data=data,
    )
