# SPDX-License-Identifier: MIT
"""The error hierarchy: every error the SDK raises is a `HiobuyError`.

```
HiobuyError
├── InputError (also ValueError)      bad arguments, raised before any request
├── APIError                          HTTP 2xx but the envelope's ret != 1
├── APIStatusError                    non-2xx status (3xx included: redirects are not followed)
│   ├── AuthenticationError           401, 403
│   ├── RateLimitError                429
│   └── ServerError                   5xx
├── APIConnectionError                the request did not get a complete response
│   └── APITimeoutError               ... because a timeout or the call's deadline ran out
└── ResponseValidationError           the body is not JSON, not an envelope, too large,
                                      or does not fit the models
```
"""

from __future__ import annotations

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "HiobuyError",
    "InputError",
    "RateLimitError",
    "ResponseValidationError",
    "ServerError",
    "error_for_status",
    "redact_error",
    "sanitise_excerpt",
]

EXCERPT_LIMIT = 200


def sanitise_excerpt(body: bytes | str | None, limit: int = EXCERPT_LIMIT) -> str | None:
    """Turn a response body into a short, single-line, printable excerpt.

    Args:
        body: The body, raw or decoded.
        limit: The most characters kept.

    Returns:
        The excerpt, or `None` for an empty body.
    """
    if not body:
        return None
    if isinstance(body, bytes):
        text = body[: limit * 4].decode("utf-8", errors="replace")
    else:
        text = body[: limit * 4]
    cleaned = "".join(ch if ch.isprintable() else " " for ch in text)
    cleaned = " ".join(cleaned.split())
    if len(cleaned) > limit:
        cleaned = cleaned[:limit] + "…"
    return cleaned or None


class HiobuyError(Exception):
    """Base class of every error raised by `hiobuy_async`.

    Attributes:
        message: What went wrong, for humans.
        request_id: The server's `x-request-id` of the failed response, when known.
        body_excerpt: A short, sanitised excerpt of the response body, when there
            was one. Headers are never included.
    """

    message: str
    request_id: str | None
    body_excerpt: str | None

    def __init__(
        self,
        message: str,
        *,
        request_id: str | None = None,
        body_excerpt: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.request_id = request_id
        self.body_excerpt = body_excerpt

    def __str__(self) -> str:
        text = self.message
        if self.request_id:
            text += f" (request_id={self.request_id})"
        if self.body_excerpt:
            text += f" body: {self.body_excerpt}"
        return text

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (type(self), self.__dict__))


def _rebuild(cls: type[HiobuyError], state: dict[str, object]) -> HiobuyError:
    error = cls.__new__(cls)
    Exception.__init__(error, state.get("message", ""))
    error.__dict__.update(state)
    return error


class InputError(HiobuyError, ValueError):
    """An argument is invalid; raised before any request is sent."""


class APIError(HiobuyError):
    """The API answered HTTP 2xx with an envelope whose `ret` is not 1.

    Never retried: the server understood the request and refused it.

    Attributes:
        ret: The envelope's `ret` value.
        msg: The envelope's `msg`, the server's explanation.
    """

    ret: object
    msg: str | None

    def __init__(
        self,
        message: str,
        *,
        ret: object,
        msg: str | None,
        request_id: str | None = None,
        body_excerpt: str | None = None,
    ) -> None:
        super().__init__(message, request_id=request_id, body_excerpt=body_excerpt)
        self.ret = ret
        self.msg = msg


class APIStatusError(HiobuyError):
    """The API answered with a status other than 2xx.

    Attributes:
        status_code: The HTTP status code.
        retry_after: Seconds the server asked to wait (`Retry-After`, sent
            with 429 and sometimes 503), if it said.
    """

    status_code: int
    retry_after: float | None

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        retry_after: float | None = None,
        request_id: str | None = None,
        body_excerpt: str | None = None,
    ) -> None:
        super().__init__(message, request_id=request_id, body_excerpt=body_excerpt)
        self.status_code = status_code
        self.retry_after = retry_after


class AuthenticationError(APIStatusError):
    """HTTP 401 or 403: the uuid was refused. Never retried."""


class RateLimitError(APIStatusError):
    """HTTP 429: too many requests; `retry_after` says how long to wait, if known."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 429,
        retry_after: float | None = None,
        request_id: str | None = None,
        body_excerpt: str | None = None,
    ) -> None:
        super().__init__(
            message,
            status_code=status_code,
            retry_after=retry_after,
            request_id=request_id,
            body_excerpt=body_excerpt,
        )


class ServerError(APIStatusError):
    """HTTP 5xx: the server or a proxy in front of it failed."""


class APIConnectionError(HiobuyError):
    """No complete response arrived: refused or reset connection, protocol error."""


class APITimeoutError(APIConnectionError):
    """A connect/read/write/pool timeout, or the call's total deadline, ran out."""


class ResponseValidationError(HiobuyError):
    """The response body is not JSON, not an envelope, too large, or does not fit the models."""


def redact_error(error: HiobuyError, secret: str) -> HiobuyError:
    """Remove `secret` from an error's texts, in place (a server may echo the uuid).

    The error's `__context__` is dropped too: it may be a decoder's error
    holding the whole body.

    Args:
        error: The error.
        secret: The text to hide.

    Returns:
        The same error.
    """
    error.__context__ = None
    if not secret:
        return error
    for name in ("message", "body_excerpt", "msg"):
        value = getattr(error, name, None)
        if isinstance(value, str) and secret in value:
            setattr(error, name, value.replace(secret, "***"))
    if error.args and isinstance(error.args[0], str):
        error.args = (error.args[0].replace(secret, "***"), *error.args[1:])
    return error


def error_for_status(
    status_code: int,
    *,
    body: bytes,
    request_id: str | None,
    retry_after: float | None,
) -> APIStatusError:
    """Build the error for a non-2xx response.

    Args:
        status_code: The HTTP status.
        body: The (possibly truncated) body, for the excerpt.
        request_id: The response's request id, if any.
        retry_after: The parsed `Retry-After`, if any.

    Returns:
        The `APIStatusError` subclass for the status family.
    """
    excerpt = sanitise_excerpt(body)
    if status_code == 429:
        wait = "" if retry_after is None else f"; retry after {retry_after:g}s"
        return RateLimitError(
            f"HTTP 429 Too Many Requests{wait}",
            retry_after=retry_after,
            request_id=request_id,
            body_excerpt=excerpt,
        )
    cls: type[APIStatusError]
    if status_code in (401, 403):
        cls, what = AuthenticationError, "the uuid was refused"
    elif status_code >= 500:
        cls, what = ServerError, "server error"
    elif 300 <= status_code < 400:
        cls, what = APIStatusError, "redirects are not followed"
    else:
        cls, what = APIStatusError, "request failed"
    return cls(
        f"HTTP {status_code}: {what}",
        status_code=status_code,
        retry_after=retry_after,
        request_id=request_id,
        body_excerpt=excerpt,
    )
