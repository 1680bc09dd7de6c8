# SPDX-License-Identifier: MIT
"""The fake's `POST /api/client/third-purchase/preview-order`: a fee quote from the catalog.

Each line must name a catalog product and one of its SKUs (by `sku_id`; on
1688 with its `spec_id`, or `"0"`). The goods fee is the sum of the SKU
prices times `sum`; domestic shipping is free from 99.00 up, else 8.00 plus
0.50 per extra line. Fees are JSON numbers with trailing zeros dropped
(`1349.5`), as the API sends them.
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from . import _checks
from ._call import Call, Refusal, Settings
from ._catalog import product, skus

__all__ = ["FREE_SHIPPING_CENTS", "PREVIEW_ORDER_PATH", "body", "parse", "subject"]

PREVIEW_ORDER_PATH = "/api/client/third-purchase/preview-order"
FREE_SHIPPING_CENTS = 9900
"""From this goods fee up (in cents), domestic shipping is free."""
_ADDRESS = ("receiver_name", "postcode", "province", "city", "district", "address", "phone")


@attrs.frozen
class PreviewQuery:
    """A checked preview: the goods fee and the number of lines."""

    goods_cents: int
    lines: int


def subject(call: Call) -> str | None:
    """Return what `fail_matching` matches: the first line's `goods_id`."""
    lines = call.field("skus")
    if isinstance(lines, list) and lines and isinstance(lines[0], dict):
        goods_id = lines[0].get("goods_id")
        return goods_id if isinstance(goods_id, str) else None
    return None


def _line_cents(line: object, platform: str) -> int | Refusal:
    if not isinstance(line, dict):
        return Refusal("skus must be an array of objects")
    goods_id, sku_id, quantity = line.get("goods_id"), line.get("sku_id"), line.get("sum")
    if not (isinstance(goods_id, str) and isinstance(sku_id, str) and isinstance(quantity, str)):
        return Refusal("goods_id, sku_id and sum are required strings")
    if not (goods_id.isdigit() and quantity.isdigit() and int(quantity) > 0):
        return Refusal("goods_id and sum must be positive integers")
    spec_id = line.get("spec_id")
    if platform == "1688" and not isinstance(spec_id, str):
        return Refusal("spec_id is required for 1688")
    item = product(int(goods_id), platform)
    if item is None:
        return Refusal("product not found")
    for sku in skus(item):
        if str(sku.sku_id) == sku_id:
            if platform == "1688" and spec_id not in (sku.spec_id, "0"):
                return Refusal("spec_id does not match the sku")
            return sku.price_cents * int(quantity)
    return Refusal("sku not found")


def parse(call: Call) -> PreviewQuery | Refusal:
    """Check the body the way the real API does."""
    document = _checks.body_object(call)
    if isinstance(document, Refusal):
        return document
    platform = _checks.platform(document, "zh_CN")
    if isinstance(platform, Refusal):
        return platform
    lines = document.get("skus")
    if not isinstance(lines, list) or not lines:
        return Refusal("skus is required")
    address = document.get("address")
    if not isinstance(address, dict) or not all(
        isinstance(address.get(key), str) and address[key] for key in _ADDRESS
    ):
        return Refusal("address is incomplete")
    total = 0
    for line in lines:
        cents = _line_cents(line, platform)
        if isinstance(cents, Refusal):
            return cents
        total += cents
    return PreviewQuery(total, len(lines))


def _number(cents: int) -> str:
    text = str((Decimal(cents) / 100).quantize(Decimal("0.01")))
    return text.rstrip("0").rstrip(".") if "." in text else text


def body(query: PreviewQuery, settings: Settings) -> bytes:
    """Render the fees as JSON numbers (`1349.5`), never through a float."""
    freight = 0 if query.goods_cents >= FREE_SHIPPING_CENTS else 800 + 50 * (query.lines - 1)
    data = (
        f'{{"goodsFee":{_number(query.goods_cents)},'
        f'"paymentFee":{_number(query.goods_cents + freight)},'
        f'"freightFee":{_number(freight)},'
        f'"isFree":{"true" if freight == 0 else "false"}}}'
    )
    return f'{{"ret":1,"msg":"success","data":{data}}}'.encode()
