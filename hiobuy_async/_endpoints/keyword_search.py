# SPDX-License-Identifier: MIT
"""Keyword search: `POST /api/client/third-purchase/search`, one page per call."""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Iterable, Mapping
from decimal import Decimal
from functools import partial
from typing import Any, Literal

import attrs

from .._exceptions import InputError
from .._models import KeywordSearchPage
from .._request import ApiRequest
from .._validation import check_amount, check_int, describe
from ..marketplaces import (
    DEFAULT_LOCALE,
    Marketplace,
    validate_filters,
    validate_locale,
    validate_marketplace,
    validate_use_platform,
)
from ._items import parse_items

__all__ = [
    "KEYWORD_SEARCH_PATH",
    "MAX_KEYWORD_LENGTH",
    "MAX_PAGE",
    "MAX_PAGE_SIZE",
    "KeywordQuery",
    "Price",
    "Sort",
    "resolve_keyword_query",
]

KEYWORD_SEARCH_PATH = "/api/client/third-purchase/search"
MAX_PAGE_SIZE = 50
"""The largest `page_size` the API serves."""
MAX_KEYWORD_LENGTH = 200
"""The longest keyword accepted, in characters."""
MAX_PAGE = 1_000_000
"""The highest page number accepted."""

Price = Decimal | int | str
"""A price bound: a `Decimal`, an `int` or a plain decimal string such as `"12.50"`."""


class Sort(str, enum.Enum):
    """The orders a keyword search can return its products in; the value is the API's code."""

    PRICE_DESC = "bid2"
    """Most expensive first."""
    PRICE_ASC = "bid"
    """Cheapest first."""
    SALES_DESC = "sale2"
    """Best-selling first."""
    SALES_ASC = "sale"
    """Least-selling first."""

    def __str__(self) -> str:
        return self.value


@attrs.frozen(cache_hash=True)
class KeywordQuery:
    """A validated keyword search, except for its page: what the pager repeats.

    Attributes:
        keyword: The search words, stripped.
        marketplace: The marketplace.
        language: The locale sent in the `Language` header.
        page_size: Products per page (1 to 50).
        sort: The order, or `None` for the API's.
        price_min: The lowest price, inclusive, or `None`.
        price_max: The highest price, inclusive, or `None`.
        use_platform: Whether 1688-native fields are requested.
        filters: 1688 filters.
    """

    keyword: str
    marketplace: Marketplace
    language: str
    page_size: int = 20
    sort: Sort | None = None
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    use_platform: bool = False
    filters: tuple[str, ...] = ()

    def payload(self, page: int) -> dict[str, Any]:
        """Build the JSON body asking for one page.

        Args:
            page: The page number, from 1.

        Returns:
            The body; numbers are sent as strings, as the API documents.
        """
        body: dict[str, Any] = {
            "keyword": self.keyword,
            "platform": self.marketplace.value,
            "page": str(page),
            "page_size": str(self.page_size),
        }
        if self.sort is not None:
            body["sort"] = self.sort.value
        if self.price_min is not None:
            body["priceStart"] = format(self.price_min, "f")
        if self.price_max is not None:
            body["priceEnd"] = format(self.price_max, "f")
        if self.marketplace is Marketplace.ALIBABA_1688:
            body["use_platform"] = "1" if self.use_platform else "0"
            if self.filters:
                body["filter"] = list(self.filters)
        return body

    def request(self, page: int) -> ApiRequest[KeywordSearchPage]:
        """Describe the call for one page.

        Args:
            page: The page number, from 1.

        Returns:
            The request, for the pipeline.
        """
        return ApiRequest(
            endpoint="keyword_search",
            method="POST",
            path=KEYWORD_SEARCH_PATH,
            parse=partial(parse_keyword_page, page=page, page_size=self.page_size),
            json=self.payload(page),
            language=self.language,
        )


# Unicode spaces (U+3000, what Chinese and Japanese input methods type, the
# no-break space U+00A0, ...) are ordinary in a search: each becomes a space.
# Not tabs or line breaks (control characters, or of categories Zl and Zp).
_UNICODE_SPACES = {
    code: " "
    for code in range(0x80, 0x3001)
    if chr(code).isspace() and unicodedata.category(chr(code)) == "Zs"
}


def _check_keyword(keyword: object) -> str:
    if not isinstance(keyword, str):
        raise InputError(f"keyword must be a string, got {describe(keyword)}")
    text = keyword.translate(_UNICODE_SPACES).strip()
    if not text:
        raise InputError("keyword must not be empty or only whitespace")
    if len(text) > MAX_KEYWORD_LENGTH:
        raise InputError(
            f"keyword is {len(text)} characters long; at most {MAX_KEYWORD_LENGTH} are accepted"
        )
    if not text.isprintable():
        raise InputError("keyword must not contain control characters or line breaks")
    return text


SORT_NAMES: dict[str, Sort] = {
    "price-asc": Sort.PRICE_ASC,
    "price-desc": Sort.PRICE_DESC,
    "sales-asc": Sort.SALES_ASC,
    "sales-desc": Sort.SALES_DESC,
    **{member.value: member for member in Sort},
}
"""Every spelling `sort=` accepts (in any letter case): the command line's names and the codes."""

SortName = Literal[
    "price-asc", "price-desc", "sales-asc", "sales-desc", "bid", "bid2", "sale", "sale2"
]
"""A `Sort` by name (as `--sort` spells it) or by the API's code."""


def _check_sort(sort: object) -> Sort | None:
    if sort is None or isinstance(sort, Sort):
        return sort
    if isinstance(sort, str):
        found = SORT_NAMES.get(sort.strip().lower())
        if found is not None:
            return found
    names = ", ".join(repr(name) for name in SORT_NAMES)
    raise InputError(f"sort must be a Sort or one of {names}, got {describe(sort)}")


def _check_price(name: str, value: object) -> Decimal:
    # Decimal("-0") passes the non-negative check but would be sent as "-0".
    return check_amount(name, value).copy_abs()


def check_page(page: object) -> int:
    """Check a page number.

    Args:
        page: The page number.

    Returns:
        The page number.

    Raises:
        InputError: Not an integer of at least 1.
    """
    return check_int("page", page, minimum=1, maximum=MAX_PAGE)


def resolve_keyword_query(
    keyword: str,
    *,
    platform: Marketplace | str | None,
    language: str | None,
    page_size: int = 20,
    sort: Sort | str | None = None,
    price_min: Price | None = None,
    price_max: Price | None = None,
    use_platform: bool = False,
    filters: Iterable[str] | None = None,
    stacklevel: int = 3,
) -> KeywordQuery:
    """Validate a keyword search's arguments, before any I/O.

    Args:
        keyword: The search words.
        platform: The marketplace.
        language: The locale, or `None` for the API default (`zh_CN`).
        page_size: Products per page, 1 to 50.
        sort: A `Sort` or its code.
        price_min: The lowest price, inclusive.
        price_max: The highest price, inclusive.
        use_platform: 1688-native fields.
        filters: 1688 filters.
        stacklevel: For the warning about unknown filters.

    Returns:
        The validated query.

    Raises:
        InputError: Any argument is invalid.
    """
    if platform is None:
        raise InputError("platform is required: 'taobao' or '1688'")
    marketplace = validate_marketplace(platform)
    low = None if price_min is None else _check_price("price_min", price_min)
    high = None if price_max is None else _check_price("price_max", price_max)
    if low is not None and high is not None and low > high:
        raise InputError(f"price_min ({low}) is above price_max ({high})")
    return KeywordQuery(
        keyword=_check_keyword(keyword),
        marketplace=marketplace,
        language=validate_locale(marketplace, language) or DEFAULT_LOCALE,
        page_size=check_int("page_size", page_size, minimum=1, maximum=MAX_PAGE_SIZE),
        sort=_check_sort(sort),
        price_min=low,
        price_max=high,
        use_platform=validate_use_platform(marketplace, use_platform),
        filters=validate_filters(marketplace, filters, stacklevel=stacklevel + 1),
    )


async def parse_keyword_page(
    data: Mapping[str, Any], request_id: str | None, *, page: int, page_size: int
) -> KeywordSearchPage:
    """Turn a keyword search answer's `data` into a `KeywordSearchPage`.

    Args:
        data: The envelope's `data`.
        request_id: The response's request id.
        page: The page asked for.
        page_size: The page size asked for.

    Returns:
        The page.

    Raises:
        ResponseValidationError: The answer does not have the documented shape.
    """
    products, total, dropped = await parse_items(data)
    return KeywordSearchPage(
        items=products,
        page=page,
        page_size=page_size,
        total_results=total,
        request_id=request_id,
        raw=data,
        dropped_items=dropped,
    )
