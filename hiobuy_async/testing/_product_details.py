# SPDX-License-Identifier: MIT
"""The fake's `POST /api/client/third-purchase/info`: a product's details and SKUs."""

from __future__ import annotations

import functools
import re
from urllib.parse import parse_qs, urlsplit

import attrs

from . import _checks
from ._call import Call, Refusal, Settings
from ._catalog import product
from ._model import details_data, envelope

__all__ = ["PRODUCT_DETAILS_PATH", "parse", "product_ref", "subject"]

PRODUCT_DETAILS_PATH = "/api/client/third-purchase/info"
_OFFER_HOSTS = ("detail.1688.com", "m.1688.com")
_ITEM_HOSTS = ("item.taobao.com", "detail.tmall.com")
_OFFER_PATH = re.compile(r"/offer/(\d{1,19})\.html")
_DIGITS = re.compile(r"\d{1,19}")


@attrs.frozen
class DetailsQuery:
    """A checked details request."""

    num_iid: int
    platform: str
    locale: str


def subject(call: Call) -> str | None:
    """Return what `fail_matching` matches: the product id or URL as sent."""
    keyword = call.field("keyword")
    if isinstance(keyword, int) and not isinstance(keyword, bool):
        return str(keyword)
    return keyword if isinstance(keyword, str) else None


def product_ref(keyword: str) -> tuple[int, str | None] | None:
    """Read a product id from a decimal id or a known marketplace URL.

    Args:
        keyword: The `keyword` sent.

    Returns:
        `(id, marketplace of the URL or None for a bare id)`, or `None` when
        no id can be read.
    """
    text = keyword.strip()
    if _DIGITS.fullmatch(text):
        return int(text), None
    parts = urlsplit(text)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https"):
        return None
    if host in _OFFER_HOSTS:
        offer = _OFFER_PATH.fullmatch(parts.path)
        return None if offer is None else (int(offer[1]), "1688")
    if host in _ITEM_HOSTS and parts.path == "/item.htm":
        ids = parse_qs(parts.query).get("id", [])
        if len(ids) == 1 and _DIGITS.fullmatch(ids[0]):
            return int(ids[0]), "taobao"
    return None


def parse(call: Call) -> DetailsQuery | Refusal:
    """Check the body the way the real API does; an unknown id is `ret=0`."""
    document = _checks.body_object(call)
    if isinstance(document, Refusal):
        return document
    keyword = subject(call)
    if keyword is None or not keyword.strip():
        return Refusal("keyword is required")
    platform = _checks.platform(document, call.language)
    if isinstance(platform, Refusal):
        return platform
    options = _checks.native_and_filters(document, platform, takes_filter=False)
    if isinstance(options, Refusal):
        return options
    ref = product_ref(keyword)
    if ref is None or ref[0] == 0:
        return Refusal("product not found")
    num_iid, url_platform = ref
    if url_platform not in (None, platform):
        return Refusal(f"the product URL is not a {platform} product")
    if product(num_iid, platform) is None:
        return Refusal("product not found")
    return DetailsQuery(num_iid, platform, call.language)


@functools.lru_cache(maxsize=4096)
def body(query: DetailsQuery, settings: Settings) -> bytes:
    """Render the details (cached: bulk fetches repeat ids)."""
    item = product(query.num_iid, query.platform)
    assert item is not None  # parse() checked it
    return envelope(details_data(item, locale=query.locale))
