# SPDX-License-Identifier: MIT
"""The fake's `GET /api/client/open-purchase/shop-nick?shop_id=`: 1688 shops only."""

from __future__ import annotations

import attrs

from . import _checks
from ._call import Call, Refusal, Settings
from ._catalog import shop
from ._model import envelope

__all__ = ["SHOP_NICK_PATH", "parse", "subject"]

SHOP_NICK_PATH = "/api/client/open-purchase/shop-nick"


@attrs.frozen
class ShopQuery:
    """A checked shop-nick look-up."""

    nick: str


def subject(call: Call) -> str | None:
    """Return what `fail_matching` matches: the shop id."""
    return call.params.get("shop_id")


def parse(call: Call) -> ShopQuery | Refusal:
    """Check the query; a shop id the catalog never handed out is `ret=0`."""
    platform = call.params.get("platform", "1688")
    if platform != "1688":
        return Refusal("shop-nick is available on 1688 only")
    refused = _checks.locale_on("1688", call.language)
    if refused is not None:
        return refused
    shop_id = call.params.get("shop_id", "").strip()
    if not shop_id:
        return Refusal("shop_id is required")
    found = shop(shop_id)
    if found is None:
        return Refusal("shop not found")
    if found.platform != "1688":
        return Refusal("shop-nick is available for 1688 shops only")
    return ShopQuery(found.nick)


def body(query: ShopQuery, settings: Settings) -> bytes:
    """Render the nick."""
    return envelope({"wangwangNick": query.nick})
