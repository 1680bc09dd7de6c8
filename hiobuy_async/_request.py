# SPDX-License-Identifier: MIT
"""`ApiRequest`: one call described by its endpoint module, run by the pipeline.

An endpoint module validates the caller's arguments and returns an
`ApiRequest`; the pipeline (`_pipeline.Pipeline.call`) sends it, checks the
status, unwraps the envelope and hands the envelope's `data` to `parse`. So
retries, deadlines, caps, redaction and logging never depend on the endpoint.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, Literal, TypeVar, get_args

import attrs

__all__ = ["ENDPOINTS", "ApiRequest", "EndpointName"]

T = TypeVar("T")

EndpointName = Literal[
    "image_search",
    "keyword_search",
    "product_details",
    "shop_nick",
    "preview_order",
    "create_order",
]
ENDPOINTS: tuple[EndpointName, ...] = get_args(EndpointName)
"""Every endpoint the SDK calls, by the name errors and log records carry."""


@attrs.frozen
class ApiRequest(Generic[T]):
    """One validated call, ready to send.

    Attributes:
        endpoint: The endpoint's name, carried by errors and log records.
        method: The HTTP method.
        path: The path under the base URL, starting with `/`.
        parse: Turns the envelope's `data` (and the response's request id)
            into the result; raises `ResponseValidationError` on a bad shape.
        json: The JSON body, for POST endpoints.
        params: The query string, for GET endpoints.
        language: The `Language` header, when the endpoint takes one.
        safe_to_repeat: Whether the operation may be sent again after it may
            have reached the server; decided per operation, never by HTTP
            verb. When False, only failures where the request was not sent
            and `429`/`408` answers are retried; any other failure after the
            request may have left raises `OrderOutcomeUnknownError`.
        idempotency_key: Copied into an `OrderOutcomeUnknownError`, if one is raised.
        client_reference: Copied into an `OrderOutcomeUnknownError`, if one is raised.
        currency: The `Currency` header, when the endpoint takes one.
        exact_numbers: Decode the body's JSON numbers with a fraction as
            `Decimal` (from the JSON text, never through `float`).
    """

    endpoint: EndpointName
    method: Literal["GET", "POST", "PUT"]
    path: str
    parse: Callable[[Mapping[str, Any], str | None], Awaitable[T]] = attrs.field(repr=False)
    json: Mapping[str, Any] | None = None
    params: Mapping[str, str] | None = None
    language: str | None = None
    safe_to_repeat: bool = True
    idempotency_key: str | None = None
    client_reference: str | None = None
    currency: str | None = None
    exact_numbers: bool = False
