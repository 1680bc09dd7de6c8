# SPDX-License-Identifier: MIT
"""The fake's `POST /api/client/third-purchase/image/query`."""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

import attrs

from . import _checks
from ._call import Call, Refusal, Settings
from ._catalog import image_matches, product
from ._model import envelope, search_item

__all__ = ["IMAGE_SEARCH_PATH", "RESULTS_PER_SEARCH", "TOTAL_RESULTS", "parse", "subject"]

IMAGE_SEARCH_PATH = "/api/client/third-purchase/image/query"
RESULTS_PER_SEARCH = 20
TOTAL_RESULTS = 1000
"""What the real API reports as `total_results`: a cap, not a count."""


@attrs.frozen
class ImageQuery:
    """A checked image search."""

    img: str
    platform: str
    locale: str
    native: bool
    filters: tuple[str, ...]


def subject(call: Call) -> str | None:
    """Return what `fail_matching` matches: the image URL."""
    img = call.field("img")
    return img if isinstance(img, str) else None


def parse(call: Call) -> ImageQuery | Refusal:
    """Check the body the way the real API does."""
    document = _checks.body_object(call)
    if isinstance(document, Refusal):
        return document
    img = document.get("img")
    if not isinstance(img, str) or not img.strip():
        return Refusal("img is required")
    platform = _checks.platform(document, call.language)
    if isinstance(platform, Refusal):
        return platform
    options = _checks.native_and_filters(document, platform)
    if isinstance(options, Refusal):
        return options
    parts = urlsplit(img)
    if parts.scheme not in ("http", "https") or not parts.netloc or "unfetchable" in img:
        return Refusal("image cannot be fetched")
    return ImageQuery(img, platform, call.language, *options)


@functools.lru_cache(maxsize=1024)
def body(query: ImageQuery, settings: Settings) -> bytes:
    """Render the success body (cached: benchmarks repeat images)."""
    items = []
    for rank, num_iid, confidence in image_matches(
        query.img, query.platform, settings.results_per_search, query.filters
    ):
        item = product(num_iid, query.platform)
        assert item is not None  # image matches are catalog ids
        items.append(
            search_item(
                item,
                locale=query.locale,
                native=query.native,
                rank=rank,
                search_type="image",
                confidence=confidence,
            )
        )
    return envelope(
        {"api_type": "taobao", "items": {"item": items, "total_results": TOTAL_RESULTS}}
    )
