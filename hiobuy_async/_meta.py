# SPDX-License-Identifier: MIT
"""`ResponseMeta`: what the HTTP answer behind a result (or an error) said.

The pipeline builds one per answer it reads (`from_response`) and hangs it on
the result (`with_meta`) or the error. It takes no part in equality: two
fetches of the same product compare equal, whatever their request ids.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

import attrs

__all__ = ["REDACTED", "SENSITIVE_HEADERS", "ResponseMeta", "from_response", "with_meta"]

T = TypeVar("T")

REDACTED = "<redacted>"
"""What a sensitive header's value reads as in `ResponseMeta.headers`."""

SENSITIVE_HEADERS = frozenset(
    {
        "authorization",
        "cookie",
        "proxy-authenticate",
        "proxy-authorization",
        "set-cookie",
        "www-authenticate",
        "x-uuid",
    }
)
"""Response headers whose value is never kept (credentials, sessions)."""


@attrs.frozen(slots=True)
class ResponseMeta:
    """What the HTTP answer behind a result said, the same on every engine.

    Attributes:
        status_code: The HTTP status (200 for a result; a `ret != 1` answer
            also came with 200).
        headers: The response headers, names in lower case, repeated ones
            joined with `", "`; credentials and cookies (`SENSITIVE_HEADERS`)
            read `"<redacted>"`, and the uuid or a proxy password in any value
            reads `***`. Left out of the repr (and so of an error's).
        request_id: The response's `x-request-id`, when present.
        attempts: Requests this call put on the wire, this one included
            (1 when no retry was needed).
        elapsed: Seconds from the call's start to this answer, retries and
            waits included.
        engine: The HTTP engine that carried it: `"httpx"`, `"httpx2"` or
            `"aiohttp"`.
        from_cache: True when the result came from the client's cache: then
            nothing was sent (`attempts` is 0, `headers` is empty),
            `status_code` and `request_id` are the stored answer's,
            `elapsed` is the lookup's and `engine` is the client's.
        cached_at: When a cached result was stored (UTC), else `None`.
    """

    status_code: int
    headers: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    request_id: str | None = None
    attempts: int = 1
    elapsed: float = attrs.field(default=0.0, repr=lambda seconds: f"{seconds:.3f}")
    engine: str | None = None
    from_cache: bool = False
    cached_at: datetime | None = None


def from_response(
    *,
    status_code: int,
    headers: Iterable[tuple[str, str]],
    request_id: str | None,
    attempts: int,
    elapsed: float,
    engine: str | None,
    redact: Callable[[str], str],
) -> ResponseMeta:
    """Build the metadata of one answer, its header values redacted.

    Args:
        status_code: The HTTP status.
        headers: The response's header pairs, as the engine gave them.
        request_id: The (already redacted) request id.
        attempts: Requests the call put on the wire so far.
        elapsed: Seconds since the call started.
        engine: The engine in use.
        redact: Hides the call's secrets in a text.

    Returns:
        The metadata.
    """
    kept: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        text = REDACTED if key in SENSITIVE_HEADERS else redact(value)
        kept[key] = f"{kept[key]}, {text}" if key in kept else text
    return ResponseMeta(
        status_code=status_code,
        headers=kept,
        request_id=request_id,
        attempts=attempts,
        elapsed=elapsed,
        engine=engine,
    )


def with_meta(result: T, meta: ResponseMeta) -> T:
    """Return `result` carrying `meta`, if it is a result with a `meta` field.

    Args:
        result: What an endpoint's parser returned.
        meta: The answer's metadata.

    Returns:
        A copy of `result` with `meta` set, or `result` itself when it has no
        such field.
    """
    if getattr(result, "meta", _ABSENT) is _ABSENT:
        return result
    changed: Any = attrs.evolve(result, meta=meta)  # type: ignore[misc]
    return changed  # type: ignore[no-any-return]


_ABSENT = object()
