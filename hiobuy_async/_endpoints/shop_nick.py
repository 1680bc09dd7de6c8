# SPDX-License-Identifier: MIT
"""Shop nick: `GET /api/client/open-purchase/shop-nick`, a 1688 seller's Wangwang name.

The upstream marks this look-up as risk-controlled: it exists to open a chat
with one seller, not to resolve shops in bulk. So the SDK offers no bulk
helper for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from .._convert import to_optional_str
from .._exceptions import ResponseValidationError
from .._models import ShopNick
from .._request import ApiRequest
from .._validation import check_token

__all__ = ["MAX_SHOP_ID_LENGTH", "SHOP_NICK_PATH", "parse_shop_nick", "shop_nick_request"]

SHOP_NICK_PATH = "/api/client/open-purchase/shop-nick"
MAX_SHOP_ID_LENGTH = 128
"""The longest `shop_id` accepted."""


def shop_nick_request(shop_id: str) -> ApiRequest[ShopNick]:
    """Validate a shop id and describe the call, before any I/O.

    Args:
        shop_id: The anonymised 1688 shop id (`ProductDetails.shop_id`).

    Returns:
        The request, for the pipeline; the id travels URL-encoded in the query.

    Raises:
        InputError: The id is empty, too long, or not printable ASCII
            without whitespace.
    """
    checked = check_token("shop_id", shop_id, max_length=MAX_SHOP_ID_LENGTH)
    return ApiRequest(
        endpoint="shop_nick",
        method="GET",
        path=SHOP_NICK_PATH,
        parse=partial(parse_shop_nick, shop_id=checked),
        params={"shop_id": checked},
    )


async def parse_shop_nick(
    data: Mapping[str, Any], request_id: str | None, *, shop_id: str
) -> ShopNick:
    """Turn a shop nick answer's `data` into a `ShopNick`.

    Args:
        data: The envelope's `data`.
        request_id: The response's request id.
        shop_id: The shop id asked about.

    Returns:
        The nick.

    Raises:
        ResponseValidationError: `wangwangNick` is not a string.
    """
    try:
        nick = to_optional_str(data.get("wangwangNick"))
    except (ValueError, TypeError):
        raise ResponseValidationError("data.wangwangNick is not a string") from None
    return ShopNick(shop_id=shop_id, wangwang_nick=nick, request_id=request_id, raw=data)
