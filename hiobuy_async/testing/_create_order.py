# SPDX-License-Identifier: MIT
"""The fake's `PUT /api/client/daigou-open/create-order`: accepts and records orders.

Like the real API as far as it is documented, it has no idempotency key and
no duplicate detection: every accepted request is one more order
(`FakeHiobuy.orders`). It checks the documented required fields and that
every scalar is a string; the address is taken as any non-empty object. The
real response body is undocumented: the fake's `data`
(`{"fake_order_no": "FAKE000001"}`) is its own invention, to tell orders apart.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from . import _checks
from ._call import Call, Refusal, Settings

__all__ = ["CREATE_ORDER_PATH", "accepted", "body", "parse", "subject"]

CREATE_ORDER_PATH = "/api/client/daigou-open/create-order"
_PLATFORMS = ("taobao", "1688", "weidian")
_REQUIRED = ("warehouse_id", "user_id", "shop_id", "shop_name", "platform_url", "name")
_SKU_REQUIRED = ("price", "platform_sku", "quantity")
_INFO_REQUIRED = ("shop_id", "shop_name", "sku_img")


@attrs.frozen
class OrderQuery:
    """A checked order."""

    document: dict[str, Any] = attrs.field(eq=False)


def subject(call: Call) -> str | None:
    """Return what `fail_matching` matches: the order's `remark` (its client reference)."""
    remark = call.field("remark")
    return remark if isinstance(remark, str) else None


def _strings(where: str, document: dict[str, Any], keys: tuple[str, ...]) -> Refusal | None:
    for key in keys:
        value = document.get(key)
        if not isinstance(value, str) or not value:
            return Refusal(f"{where}{key} is required and must be a string")
    return None


def _sku(index: int, sku: object, platform: str) -> Refusal | None:
    if not isinstance(sku, dict):
        return Refusal("skus must be an array of objects")
    where = f"skus.{index}."
    refused = _strings(where, sku, _SKU_REQUIRED)
    if refused is not None:
        return refused
    info = sku.get("sku_info")
    if not isinstance(info, dict):
        return Refusal(f"{where}sku_info is required")
    refused = _strings(f"{where}sku_info.", info, _INFO_REQUIRED)
    if refused is not None:
        return refused
    if not isinstance(info.get("imgs"), list):
        return Refusal(f"{where}sku_info.imgs must be an array")
    if platform == "1688" and not isinstance(info.get("spec_id"), str):
        return Refusal(f"{where}sku_info.spec_id is required for 1688")
    return None


def parse(call: Call) -> OrderQuery | Refusal:
    """Check the body the way the documentation describes it."""
    document = _checks.body_object(call)
    if isinstance(document, Refusal):
        return document
    refused = _strings("", document, _REQUIRED)
    if refused is not None:
        return refused
    platform = document.get("platform")
    if platform not in _PLATFORMS:
        return Refusal("platform must be one of: taobao, 1688, weidian")
    if not isinstance(document.get("freight_fee", "0"), str):
        return Refusal("freight_fee must be a string")
    skus = document.get("skus")
    if not isinstance(skus, list) or not skus:
        return Refusal("skus is required")
    for index, sku in enumerate(skus):
        refused = _sku(index, sku, platform)
        if refused is not None:
            return refused
    address = document.get("address")
    if not isinstance(address, dict) or not address:
        return Refusal("address is required")
    return OrderQuery(document)


def body(query: OrderQuery, settings: Settings) -> bytes:
    """Render an accepted order before it is numbered (the fake numbers it: `accepted`)."""
    return accepted(0)


def accepted(number: int) -> bytes:
    """Render the answer to the `number`-th order the fake accepted.

    Args:
        number: The order's number, from 1.

    Returns:
        The envelope.
    """
    document = {"ret": 1, "msg": "success", "data": {"fake_order_no": f"FAKE{number:06d}"}}
    return json.dumps(document, separators=(",", ":")).encode()
