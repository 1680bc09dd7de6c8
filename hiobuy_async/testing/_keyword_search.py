# SPDX-License-Identifier: MIT
"""The fake's `POST /api/client/third-purchase/search`: paged, sorted, price-filtered."""

from __future__ import annotations

import functools
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

import attrs

from . import _checks
from ._call import Call, Refusal, Settings
from ._catalog import (
    MAX_KEYWORD_RESULTS,
    Product,
    filtered_out,
    keyword_match_count,
    keyword_matches,
    product,
)
from ._model import envelope, search_item

__all__ = ["KEYWORD_SEARCH_PATH", "MAX_PAGE_SIZE", "parse", "subject"]

KEYWORD_SEARCH_PATH = "/api/client/third-purchase/search"
MAX_PAGE_SIZE = 50
DEFAULT_PAGE_SIZE = 20


@attrs.frozen
class KeywordQuery:
    """A checked keyword search."""

    keyword: str
    platform: str
    locale: str
    native: bool
    filters: tuple[str, ...]
    page: int
    page_size: int
    sort: str | None
    price_min: Decimal | None
    price_max: Decimal | None


def subject(call: Call) -> str | None:
    """Return what `fail_matching` matches: the keyword."""
    keyword = call.field("keyword")
    return keyword if isinstance(keyword, str) else None


def _count(value: object, name: str, default: int) -> int | Refusal:
    if value is None:
        return default
    if isinstance(value, str) and value.isascii() and value.isdigit():
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        return Refusal(f"{name} must be a positive integer string")
    return number if number >= 1 else Refusal(f"{name} must be at least 1")


def _price(value: object, name: str) -> Decimal | Refusal | None:
    if value is None or value == "":
        return None
    try:
        price = Decimal(value) if isinstance(value, str | int) else None
    except InvalidOperation:
        price = None
    if isinstance(value, bool) or price is None or not price.is_finite() or price < 0:
        return Refusal(f"{name} must be a non-negative decimal string")
    return price


def parse(call: Call) -> KeywordQuery | Refusal:
    """Check the body the way the real API does."""
    document = _checks.body_object(call)
    if isinstance(document, Refusal):
        return document
    keyword = document.get("keyword")
    if not isinstance(keyword, str) or not keyword.strip():
        return Refusal("keyword is required")
    platform = _checks.platform(document, call.language)
    if isinstance(platform, Refusal):
        return platform
    options = _checks.native_and_filters(document, platform)
    if isinstance(options, Refusal):
        return options
    page = _count(document.get("page"), "page", 1)
    if isinstance(page, Refusal):
        return page
    page_size = _count(document.get("page_size"), "page_size", DEFAULT_PAGE_SIZE)
    if isinstance(page_size, Refusal):
        return page_size
    if page_size > MAX_PAGE_SIZE:
        return Refusal(f"page_size must be at most {MAX_PAGE_SIZE}")
    price_min = _price(document.get("priceStart"), "priceStart")
    if isinstance(price_min, Refusal):
        return price_min
    price_max = _price(document.get("priceEnd"), "priceEnd")
    if isinstance(price_max, Refusal):
        return price_max
    sort = document.get("sort") or None
    if sort is not None and (not isinstance(sort, str) or sort not in _SORT_KEYS):
        return Refusal("sort must be one of: bid2, bid, sale2, sale")
    if keyword_match_count(keyword, platform) > MAX_KEYWORD_RESULTS:
        return Refusal(f"the fake serves at most results:{MAX_KEYWORD_RESULTS}")
    return KeywordQuery(
        keyword, platform, call.language, *options, page, page_size, sort, price_min, price_max
    )


# Ties are broken by id, so every order is total and pages never overlap.
_SORT_KEYS: dict[str, Callable[[Product], tuple[int, int]]] = {
    "bid2": lambda item: (-item.price_cents, item.num_iid),
    "bid": lambda item: (item.price_cents, item.num_iid),
    "sale2": lambda item: (-item.sales, item.num_iid),
    "sale": lambda item: (item.sales, item.num_iid),
}


@functools.lru_cache(maxsize=256)
def _ranked(
    *,
    keyword: str,
    platform: str,
    filters: tuple[str, ...],
    sort: str | None,
    price_min: Decimal | None,
    price_max: Decimal | None,
) -> tuple[Product, ...]:
    low = None if price_min is None else price_min * 100
    high = None if price_max is None else price_max * 100
    kept = []
    for num_iid in keyword_matches(keyword, platform):
        item = product(num_iid, platform)
        assert item is not None  # keyword matches are catalog ids
        if filtered_out(num_iid, platform, filters):
            continue
        if (low is not None and item.price_cents < low) or (
            high is not None and item.price_cents > high
        ):
            continue
        kept.append(item)
    return tuple(kept if sort is None else sorted(kept, key=_SORT_KEYS[sort]))


@functools.lru_cache(maxsize=1024)
def body(query: KeywordQuery, settings: Settings) -> bytes:
    """Render one page (cached per query: a pager asks each page once, benchmarks more)."""
    ranked = _ranked(
        keyword=query.keyword,
        platform=query.platform,
        filters=query.filters,
        sort=query.sort,
        price_min=query.price_min,
        price_max=query.price_max,
    )
    page = 1 if settings.keyword_ignores_page else query.page
    start = (page - 1) * query.page_size
    items = [
        search_item(
            item,
            locale=query.locale,
            native=query.native,
            rank=rank,
            search_type="keyword",
            confidence=max(1, 99 - rank // 10),
        )
        for rank, item in enumerate(ranked[start : start + query.page_size], start)
    ]
    return envelope({"items": {"item": items, "total_results": len(ranked)}})
