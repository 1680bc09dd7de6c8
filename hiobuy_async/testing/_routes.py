# SPDX-License-Identifier: MIT
"""The fake's route table: every endpoint it serves, in one place.

A route names its endpoint, and gives the function that checks a request
(`parse`: a query, or a `Refusal`), the one that renders the success body
from that query (`body`), and the one that says what `fail_matching(subject=...)`
compares (`subject`). Serving a fifth endpoint is one module with those
three functions (and a catalog function if it needs new data), plus one
entry below. A route with a side effect (create-order) is also named in
`FakeHiobuy.handle`, which records what it accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Literal, TypeVar

import attrs

from . import (
    _create_order,
    _image_search,
    _keyword_search,
    _preview_order,
    _product_details,
    _shop_nick,
)
from ._call import Call, Refusal, Settings

__all__ = ["ENDPOINTS", "ROUTES", "EndpointName", "Route", "find"]

EndpointName = Literal[
    "image_search",
    "keyword_search",
    "product_details",
    "shop_nick",
    "preview_order",
    "create_order",
]
"""The name of an endpoint the fake serves (`fail_matching(endpoint=...)`, `RecordedRequest`)."""
Q = TypeVar("Q")


@attrs.frozen
class Route(Generic[Q]):
    """One endpoint of the fake.

    Attributes:
        name: The endpoint's name, as in `RecordedRequest.endpoint`.
        method: The HTTP method it answers (others get 405).
        path: Its path.
        parse: Checks a request: the query, or a `Refusal` (HTTP 200, `ret != 1`).
        body: Renders the success body of a query.
        subject: What `fail_matching` matches, or `None` when the request has none.
    """

    name: EndpointName
    method: str
    path: str
    parse: Callable[[Call], Q | Refusal]
    body: Callable[[Q, Settings], bytes]
    subject: Callable[[Call], str | None]


ROUTES: tuple[Route[Any], ...] = (
    Route(
        "image_search",
        "POST",
        _image_search.IMAGE_SEARCH_PATH,
        _image_search.parse,
        _image_search.body,
        _image_search.subject,
    ),
    Route(
        "keyword_search",
        "POST",
        _keyword_search.KEYWORD_SEARCH_PATH,
        _keyword_search.parse,
        _keyword_search.body,
        _keyword_search.subject,
    ),
    Route(
        "product_details",
        "POST",
        _product_details.PRODUCT_DETAILS_PATH,
        _product_details.parse,
        _product_details.body,
        _product_details.subject,
    ),
    Route(
        "shop_nick",
        "GET",
        _shop_nick.SHOP_NICK_PATH,
        _shop_nick.parse,
        _shop_nick.body,
        _shop_nick.subject,
    ),
    Route(
        "preview_order",
        "POST",
        _preview_order.PREVIEW_ORDER_PATH,
        _preview_order.parse,
        _preview_order.body,
        _preview_order.subject,
    ),
    Route(
        "create_order",
        "PUT",
        _create_order.CREATE_ORDER_PATH,
        _create_order.parse,
        _create_order.body,
        _create_order.subject,
    ),
)
ENDPOINTS: frozenset[str] = frozenset(route.name for route in ROUTES)
_BY_PATH = {route.path: route for route in ROUTES}


def find(path: str) -> Route[Any] | None:
    """Return the route serving `path` (whatever the method), if any.

    Args:
        path: The request path, without the query.

    Returns:
        The route, or `None` (HTTP 404).
    """
    return _BY_PATH.get(path)
