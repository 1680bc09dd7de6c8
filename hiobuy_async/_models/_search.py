# SPDX-License-Identifier: MIT
"""Products found by a search, and the answers of image and keyword search."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs

from .._meta import ResponseMeta

__all__ = ["ImageSearchResult", "KeywordSearchPage", "Product"]


@attrs.frozen(slots=True)
class Product:
    """One product found by an image or a keyword search.

    Field names are the API's own. Every field but `num_iid` may be missing
    in a real response and is then `None` (or empty, for `tags`).

    Attributes:
        num_iid: The marketplace's product id (1688's `offerId` when the
            search used `use_platform=True`: the other common fields are then
            filled from 1688's `subject`, `subjectTrans`, `imageUrl`,
            `priceInfo.price` and `monthSold`, `detail_url` from the offer id,
            and every native field is kept in `extra`).
        title: The title in the requested `Language`.
        title_cn: The original Chinese title.
        detail_url: The product's page on the marketplace.
        pic_url: The product's main image.
        price: The unit price, exact (`Decimal("21.80")`), never a float;
            `None` when the API sent none, or a value that is not one price
            (then kept as sent in `extra["price"]`).
        price_range: The lowest and highest unit price when the API sent a
            range such as `"21.80-25.00"` (common on 1688) instead of one
            price; `price` is then `None`.
        sales: Units sold, cumulative.
        seller_nick: The shop name; image search may put a trace token here.
        tags: Product tags.
        quantity: Stock available.
        tag_percent: Match confidence as the API sends it, e.g. `"19%"`.
        trace_info: The platform's trace token for follow-up requests.
        top_category_id: Top-level category id.
        category_id: Leaf category id.
        extra: Fields of the item that this model does not know, unchanged
            (for example 1688-native fields), so nothing the API sends is lost;
            and the value as sent of any field that could not be read (a
            price such as `"call us"`, a count such as `"1,000"`), the field
            itself being `None`.
    """

    num_iid: int
    title: str | None = None
    title_cn: str | None = None
    detail_url: str | None = None
    pic_url: str | None = None
    price: Decimal | None = None
    price_range: tuple[Decimal, Decimal] | None = None
    sales: int | None = None
    seller_nick: str | None = None
    tags: tuple[str, ...] = ()
    quantity: int | None = None
    tag_percent: str | None = None
    trace_info: str | None = None
    top_category_id: int | None = None
    category_id: int | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen(slots=True)
class ImageSearchResult:
    """The answer to one image search.

    Attributes:
        items: The products found, in the API's order; may be empty.
        total_results: The API's `total_results` (it looks like a cap, such as
            1000, rather than a true count), or 1688's `totalRecords`; `None`
            when not sent or not a count (`-1`, `"1,000"`, `12.5`).
        api_type: The API's `api_type`. It says `"taobao"` even for 1688
            searches: do not derive the marketplace from it.
        request_id: The response's `x-request-id` header, when present (not compared).
        raw: The envelope's `data` mapping as received, for fields the models
            do not know.
        dropped_items: Items of the answer left out of `items` because they
            cannot be a `Product`: not an object, or without a usable id
            (`num_iid`, or 1688's `offerId`). They stay in `raw`.
        from_cache: True when the answer came from the client's cache (no request was sent).
        cached_at: When a cached answer was received (UTC), or `None` for a fresh one.
        meta: What the HTTP answer said (`ResponseMeta`: status, redacted
            headers, request id, attempts, elapsed time, engine); `None` for
            a result not read from an answer. Not compared: results equal but
            for their metadata compare equal.
    """

    items: tuple[Product, ...]
    total_results: int | None = None
    api_type: str | None = None
    request_id: str | None = attrs.field(default=None, eq=False)
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
    dropped_items: int = 0
    from_cache: bool = attrs.field(default=False, repr=False, eq=False)
    cached_at: datetime | None = attrs.field(default=None, repr=False, eq=False)
    meta: ResponseMeta | None = attrs.field(default=None, eq=False, repr=False)


def _ends_results(page: KeywordSearchPage) -> bool:
    served, total = len(page.items) + page.dropped_items, page.total_results
    if served == 0:
        return True
    if served >= page.page_size:
        return total is not None and page.page * page.page_size >= total
    if total is None:
        return True
    # A short page is the last one when the count agrees: at the size asked,
    # it holds the end of the results; or, at the size served (an upstream
    # capping page_size serves every page that short), no later page holds more.
    before = (page.page - 1) * page.page_size
    return before < total <= before + served or page.page * served >= total


@attrs.frozen(slots=True)
class KeywordSearchPage:
    """One page of a keyword search.

    Attributes:
        items: The products on this page, in the API's order; may be empty.
        page: The page number asked for (from 1).
        page_size: The page size asked for.
        total_results: The API's `total_results` (or 1688's `totalRecords`),
            when it sent a count.
        request_id: The response's `x-request-id` header, when present (not compared).
        raw: The envelope's `data` mapping as received.
        dropped_items: Items of the answer left out of `items` (not an
            object, or without a usable id); the page as served held
            `len(items) + dropped_items` products.
        is_last: True when no later page can hold more: the page is empty;
            or it is full and `page * page_size` reaches `total_results`; or
            it is short and `total_results` does not say more remain (neither
            at the size asked nor at the size served, as an upstream capping
            `page_size` serves every page short).
        from_cache: True when the answer came from the client's cache (no request was sent).
        cached_at: When a cached answer was received (UTC), or `None` for a fresh one.
        meta: What the HTTP answer said (`ResponseMeta`: status, redacted
            headers, request id, attempts, elapsed time, engine); `None` for
            a result not read from an answer. Not compared: results equal but
            for their metadata compare equal.
    """

    items: tuple[Product, ...]
    page: int
    page_size: int
    total_results: int | None = None
    request_id: str | None = attrs.field(default=None, eq=False)
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
    dropped_items: int = 0
    is_last: bool = attrs.field(default=attrs.Factory(_ends_results, takes_self=True))
    from_cache: bool = attrs.field(default=False, repr=False, eq=False)
    cached_at: datetime | None = attrs.field(default=None, repr=False, eq=False)
    meta: ResponseMeta | None = attrs.field(default=None, eq=False, repr=False)
