# SPDX-License-Identifier: MIT
"""The request-handling core shared by the in-process transport and the socket server.

`answer()` turns one request into one response description, validating the
way the real API would: a refused uuid is HTTP 401, while a bad body, image,
platform or locale is HTTP 200 with `ret != 1` and a `msg`. `apply_fault()`
rewrites that answer according to a scripted `Fault`. Both are pure; the
waiting (latency, stalls) and the wire belong to the callers.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Collection
from typing import Any
from urllib.parse import urlsplit

import attrs

from ..marketplaces import DEFAULT_LOCALE, LOCALES
from ._faults import Fault
from ._model import TOTAL_RESULTS, search_items

__all__ = ["IMAGE_SEARCH_PATH", "FakeRequest", "FakeResponse", "answer", "apply_fault"]

IMAGE_SEARCH_PATH = "/api/client/third-purchase/image/query"
_LOCALES = {marketplace.value: locales for marketplace, locales in LOCALES.items()}
_JSON_TYPE = "application/json; charset=utf-8"


@attrs.frozen
class FakeRequest:
    """One request as received, whatever carried it.

    Attributes:
        method: The HTTP method.
        target: The request target (path and query).
        headers: `(name, value)` pairs as received.
        body: The raw body.
    """

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """Return the first value of header `name` (case-insensitive), if any.

        Args:
            name: The header name.

        Returns:
            The value, or `None`.
        """
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    def json(self) -> Any:
        """Decode the body as JSON.

        Returns:
            The document, or `None` when the body is not valid UTF-8 JSON.
        """
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return None


@attrs.frozen
class FakeResponse:
    """What to send back.

    Attributes:
        status: The HTTP status.
        headers: `(name, value)` pairs, `content-length` excluded (the
            carrier sets it from `body`).
        body: The full body.
        cut_at: When set, send only `body[:cut_at]`, then break the connection.
    """

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    cut_at: int | None = None


def _json_response(status: int, document: object, request_id: str) -> FakeResponse:
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    return FakeResponse(
        status=status,
        headers=(("content-type", _JSON_TYPE), ("x-request-id", request_id)),
        body=body,
    )


def _failure(msg: str, request_id: str, ret: object = 0) -> FakeResponse:
    return _json_response(200, {"ret": ret, "msg": msg, "data": None}, request_id)


def _bad_search(document: object, language: str) -> str | None:
    """Return why a search body is refused, or None when it is acceptable."""
    if not isinstance(document, dict):
        return "invalid request body: expected a JSON object"
    img, platform = document.get("img"), document.get("platform")
    if not isinstance(img, str) or not img.strip():
        return "img is required"
    if not isinstance(platform, str) or platform not in _LOCALES:
        return "platform is required and must be one of: taobao, 1688"
    if language not in _LOCALES[platform]:
        return f"Language {language} is not supported on {platform}"
    use_platform, filters = document.get("use_platform", "0"), document.get("filter")
    if use_platform not in ("0", "1", 0, 1):
        return 'use_platform must be "0" or "1"'
    if filters is not None and (
        not isinstance(filters, list) or not all(isinstance(f, str) for f in filters)
    ):
        return "filter must be an array of strings"
    if platform != "1688" and (str(use_platform) == "1" or filters):
        return "use_platform and filter are supported on 1688 only"
    parts = urlsplit(img)
    if parts.scheme not in ("http", "https") or not parts.netloc or "unfetchable" in img:
        return "image cannot be fetched"
    return None


def answer(
    request: FakeRequest,
    *,
    uuids: Collection[str],
    request_id: str,
    results_per_search: int,
) -> FakeResponse:
    """Answer one request the way the real API would.

    Args:
        request: The request.
        uuids: The accepted `X-Uuid` values.
        request_id: The `x-request-id` to send.
        results_per_search: How many items a search draws before filtering.

    Returns:
        The response.
    """
    path = request.target.partition("?")[0]
    if path != IMAGE_SEARCH_PATH:
        return _json_response(404, {"ret": 0, "msg": "Not Found"}, request_id)
    if request.method != "POST":
        return _json_response(405, {"ret": 0, "msg": "Method Not Allowed"}, request_id)
    if request.header("x-uuid") not in uuids:
        return _json_response(401, {"ret": 0, "msg": "Unauthenticated."}, request_id)
    language = request.header("language") or DEFAULT_LOCALE
    document = request.json()
    reason = _bad_search(document, language)
    if reason is not None:
        return _failure(reason, request_id)
    body = _success_body(
        document["img"],
        platform=document["platform"],
        locale=language,
        native=str(document.get("use_platform", "0")) == "1",
        filters=tuple(document.get("filter") or ()),
        count=results_per_search,
    )
    return FakeResponse(
        status=200,
        headers=(("content-type", _JSON_TYPE), ("x-request-id", request_id)),
        body=body,
    )


@functools.lru_cache(maxsize=1024)
def _success_body(
    img: str, *, platform: str, locale: str, native: bool, filters: tuple[str, ...], count: int
) -> bytes:
    # Cached: the answer depends only on these, and benchmarks repeat images.
    items = search_items(
        img, platform=platform, locale=locale, native=native, filters=filters, count=count
    )
    data = {"api_type": "taobao", "items": {"item": items, "total_results": TOTAL_RESULTS}}
    document = {"ret": 1, "msg": "success", "data": data}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


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
    return normal  # a stall answers normally, late
