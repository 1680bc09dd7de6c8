# SPDX-License-Identifier: MIT
"""A 1688 shop's Wangwang nick (the shop nick endpoint)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from .._meta import ResponseMeta

__all__ = ["ShopNick"]


@attrs.frozen(slots=True)
class ShopNick:
    """The seller's Wangwang name for an anonymised 1688 `shop_id`.

    Attributes:
        shop_id: The shop id asked about.
        wangwang_nick: The seller's Wangwang (chat) name, when the API sent one.
        request_id: The response's `x-request-id` header, when present (not compared).
        raw: The envelope's `data` mapping as received.
        from_cache: True when the answer came from the client's cache (no request was sent).
        cached_at: When a cached answer was received (UTC), or `None` for a fresh one.
        meta: What the HTTP answer said (`ResponseMeta`: status, redacted
            headers, request id, attempts, elapsed time, engine); `None` for
            a result not read from an answer. Not compared: results equal but
            for their metadata compare equal.
    """

    shop_id: str
    wangwang_nick: str | None = None
    request_id: str | None = attrs.field(default=None, eq=False)
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
    from_cache: bool = attrs.field(default=False, repr=False, eq=False)
    cached_at: datetime | None = attrs.field(default=None, repr=False, eq=False)
    meta: ResponseMeta | None = attrs.field(default=None, eq=False, repr=False)
