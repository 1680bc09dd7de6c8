# SPDX-License-Identifier: MIT
"""The request-handling core shared by the in-process transport and the socket server.

`answer()` turns one request into one response description, validating the
way the real API would: an unknown path is HTTP 404, a wrong method 405, a
refused uuid 401, while a bad body, platform, locale or id is HTTP 200 with
`ret != 1` and a `msg`. `apply_fault()` rewrites that answer according to a
scripted `Fault`. Both are pure; the waiting (latency, stalls) and the wire
belong to the callers.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

import attrs

from ._call import Call, Refusal, Settings
from ._faults import Fault
from ._routes import Route
from ._wire import FakeRequest, FakeResponse

__all__ = ["answer", "apply_fault"]

_JSON_TYPE = "application/json; charset=utf-8"


def _json_response(status: int, document: object, request_id: str) -> FakeResponse:
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    return FakeResponse(
        status=status,
        headers=(("content-type", _JSON_TYPE), ("x-request-id", request_id)),
        body=body,
    )


def _failure(msg: str, request_id: str, ret: object = 0) -> FakeResponse:
    return _json_response(200, {"ret": ret, "msg": msg, "data": None}, request_id)


def answer(
    request: FakeRequest,
    call: Call,
    route: Route[Any] | None,
    *,
    uuids: Collection[str],
    request_id: str,
    settings: Settings,
) -> FakeResponse:
    """Answer one request the way the real API would.

    Args:
        request: The request.
        call: The request, decoded.
        route: The route of its path, or `None`.
        uuids: The accepted `X-Uuid` values.
        request_id: The `x-request-id` to send.
        settings: The fake's options.

    Returns:
        The response.
    """
    if route is None:
        return _json_response(404, {"ret": 0, "msg": "Not Found"}, request_id)
    if request.method != route.method:
        return _json_response(405, {"ret": 0, "msg": "Method Not Allowed"}, request_id)
    if request.header("x-uuid") not in uuids:
        return _json_response(401, {"ret": 0, "msg": "Unauthenticated."}, request_id)
    query = route.parse(call)
    if isinstance(query, Refusal):
        return _failure(query.msg, request_id, ret=query.ret)
    return FakeResponse(
        status=200,
        headers=(("content-type", _JSON_TYPE), ("x-request-id", request_id)),
        body=route.body(query, settings),
    )


def apply_fault(fault: Fault, normal: FakeResponse, request_id: str) -> FakeResponse:
    """Rewrite the normal answer according to `fault` (a stall's wait is the caller's).

    Args:
        fault: The scripted fault.
        normal: What `answer()` returned.
        request_id: The `x-request-id` to send.

    Returns:
        The response to send instead.
    """
    if fault.kind == "status":
        is_json = fault.body.lstrip().startswith((b"{", b"["))
        content_type = _JSON_TYPE if is_json else "text/html; charset=utf-8"
        return FakeResponse(
            status=fault.status_code,
            headers=(("content-type", content_type), ("x-request-id", request_id)),
            body=fault.body,
        )
    if fault.kind == "rate_limit":
        response = _json_response(429, {"ret": 0, "msg": "Too Many Attempts."}, request_id)
        if fault.retry_after is None:
            return response
        retry_after = ("retry-after", f"{fault.retry_after:g}")
        return attrs.evolve(response, headers=(*response.headers, retry_after))
    if fault.kind == "api_error":
        return _failure(fault.msg, request_id, ret=fault.ret)
    if fault.kind == "malformed":
        return attrs.evolve(normal, status=200, body=normal.body[: len(normal.body) // 2])
    if fault.kind == "reset":
        return attrs.evolve(normal, cut_at=len(normal.body) // 2)
    if fault.kind == "refuse":
        return attrs.evolve(normal, drop=True)
    return normal  # a stall answers normally, late
