# SPDX-License-Identifier: MIT
"""A product's details and its SKUs (the product details endpoint)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs

from .._meta import ResponseMeta

__all__ = ["ProductDetails", "Sku"]


@attrs.frozen(slots=True)
class Sku:
    """One stock-keeping unit of a product: a combination of its options.

    Attributes:
        sku_id: The marketplace's SKU id.
        price: The SKU's unit price, exact, never a float.
        quantity: Stock available.
        spec_id: The marketplace's spec id (1688), when sent.
        properties: The options as `(name, value)` pairs, parsed from
            `properties_text` (`"Color:White;Size:S"` gives
            `(("Color", "White"), ("Size", "S"))`).
        properties_text: The readable options exactly as the API sent them:
            its `properties_name` when sent (onebound-style answers, where
            `properties` holds only numeric codes), else its `properties`.
        property_codes: The options as `(property id, value id)` code pairs,
            when the API sent codes: `properties` `"0:0;1:0"`, or the codes
            leading each part of `properties_name` (`"0:0:Color:Red"`).
        extra: Fields of the SKU that this model does not know, unchanged.
    """

    sku_id: int
    price: Decimal | None = None
    quantity: int | None = None
    spec_id: str | None = None
    properties: tuple[tuple[str, str], ...] = ()
    properties_text: str = ""
    property_codes: tuple[tuple[str, str], ...] = ()
    extra: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen(slots=True)
class ProductDetails:
    """The details of one product: titles, prices, SKUs and shop.

    Attributes:
        num_iid: The marketplace's product id.
        title: The title in the requested `Language`.
        title_cn: The original Chinese title.
        detail_url: The product's page on the marketplace, when sent.
        pic_url: The product's main image, when sent.
        price: The lowest unit price.
        max_price: The highest unit price.
        original_price: The price before discounts (the API's key is
            misspelt `orginal_price`; both spellings are read, and a null or
            empty one does not hide the other).
        skus: The product's SKUs; empty for a product without options.
        shop_id: The anonymised shop id, for `AsyncHiobuy.shop_nick()` (1688).
        desc: The description, as HTML, unchanged (not sanitised: escape it
            before showing it in a page).
        extra: Fields of `data` that this model does not know, unchanged.
        request_id: The response's `x-request-id` header, when present (not compared).
        raw: The envelope's `data` mapping as received.
        from_cache: True when the answer came from the client's cache (no request was sent).
        cached_at: When a cached answer was received (UTC), or `None` for a fresh one.
        meta: What the HTTP answer said (`ResponseMeta`: status, redacted
            headers, request id, attempts, elapsed time, engine); `None` for
            a result not read from an answer. Not compared: results equal but
            for their metadata compare equal.
    """

    num_iid: int
    title: str | None = None
    title_cn: str | None = None
    detail_url: str | None = None
    pic_url: str | None = None
    price: Decimal | None = None
    max_price: Decimal | None = None
    original_price: Decimal | None = None
    skus: tuple[Sku, ...] = ()
    shop_id: str | None = None
    desc: str | None = attrs.field(default=None, repr=False)
    extra: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
    request_id: str | None = attrs.field(default=None, eq=False)
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
    from_cache: bool = attrs.field(default=False, repr=False, eq=False)
    cached_at: datetime | None = attrs.field(default=None, repr=False, eq=False)
    meta: ResponseMeta | None = attrs.field(default=None, eq=False, repr=False)
