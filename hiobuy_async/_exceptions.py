# SPDX-License-Identifier: MIT
"""The error hierarchy: every error the SDK raises is a `HiobuyError`.

```
HiobuyError
├── InputError (also ValueError)      bad arguments, raised before any request
├── APIError                          HTTP 2xx but the envelope's ret != 1
├── APIStatusError                    non-2xx status (3xx included: redirects are not followed)
│   ├── AuthenticationError           401, 403
│   ├── RateLimitError                429
│   │   └── QuotaExhaustedError       ... for longer than max_retry_after: calls fail at once
│   └── ServerError                   5xx (500-599 only)
├── APIConnectionError                the request did not get a complete response
│   ├── CertificateError              ... because the TLS certificate failed verification
│   └── APITimeoutError               ... because a timeout or the call's deadline ran out
├── ResponseValidationError           the body is not JSON, not an envelope, too large,
│                                     or does not fit the models
├── OrderOutcomeUnknownError          an order may or may not have been placed: never retried
└── ClientStateError (also RuntimeError)  the client cannot be used here or now; never retried
    ├── ClientClosedError             used after `aclose()`, or closed while the call ran
    └── WrongEventLoopError           used from another event loop or thread than its first
```
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from ._meta import ResponseMeta

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "CertificateError",
    "ClientClosedError",
    "ClientStateError",
    "Delivery",
    "HiobuyError",
    "InputError",
    "OrderOutcomeUnknownError",
    "QuotaExhaustedError",
    "RateLimitError",
    "ResponseValidationError",
    "ServerError",
    "WrongEventLoopError",
    "error_for_status",
    "redact_error",
    "redact_text",
    "redacting",
    "sanitise_excerpt",
]

EXCERPT_LIMIT = 200
MASK = "***"
"""What a redacted secret is replaced with."""
FRAGMENT = 8
"""The shortest piece of a secret that is redacted on its own (a server quoting `0123abcd-…`)."""
# The user information of a URL (`//user:password@host`): a proxy's or a
# Redis URL's credentials, in whatever error text a library built.
_URL_USERINFO = re.compile(r"(?<=//)[^\s/?#@'\"<>]+@")

# The secrets (uuids) of the calls running in this task: every excerpt and
# every error text built while a call runs is redacted as it is created, so
# no code path building an error from server text can forget to.
_secrets: ContextVar[tuple[str, ...]] = ContextVar("hiobuy_async_secrets", default=())


class redacting:
    """Redact `secrets` from every SDK error and excerpt created in the block.

    A class, not a generator: an exception leaving the block never passes
    through a frame holding the secret.

    Args:
        *secrets: The texts to hide (the uuid, a proxy's credentials).
    """

    __slots__ = ("_secrets", "_token")

    def __init__(self, *secrets: str) -> None:
        self._secrets = secrets
        self._token: Token[tuple[str, ...]] | None = None

    def __repr__(self) -> str:
        return "<redacting ***>"

    def __enter__(self) -> None:
        self._token = _secrets.set((*_secrets.get(), *self._secrets))

    def __exit__(self, *exc_info: object) -> None:
        if self._token is not None:
            _secrets.reset(self._token)
            self._token = None


def redact_text(text: str, secrets: Iterable[str] | None = None, *, cut: bool = False) -> str:
    """Replace every occurrence of a secret in `text`, in any letter case, with `***`.

    Any piece of `FRAGMENT` (8) or more characters of a secret is replaced too
    (a server quoting a cut uuid), and so is the user information of any URL
    in the text (`//user:password@host` becomes `//***@host`).

    Args:
        text: The text, typically from the server.
        secrets: The secrets; defaults to those of the calls running in this task.
        cut: True if `text` was cut from a longer one at its end: a prefix of
            a secret left at the end is replaced too.

    Returns:
        The redacted text.
    """
    if "@" in text:
        text = _URL_USERINFO.sub(MASK + "@", text)
    for secret in _secrets.get() if secrets is None else secrets:
        if not secret:
            continue
        if len(secret) > FRAGMENT:
            text = _redact_fragments(text, secret)
            if cut:
                text = _redact_cut_prefix(text, secret)
            continue
        if text.isascii() and secret.isascii() and secret.lower() not in text.lower():
            # Nothing to replace (for ASCII text this is exactly what an
            # IGNORECASE search would find); checked first, being much cheaper.
            if cut:
                text = _redact_cut_prefix(text, secret)
            continue
        text = re.sub(re.escape(secret), MASK, text, flags=re.IGNORECASE)
        if cut:
            text = _redact_cut_prefix(text, secret)
    return text


@functools.lru_cache(maxsize=64)
def _fragments(secret: str) -> frozenset[str]:
    folded = secret.lower()
    return frozenset(folded[i : i + FRAGMENT] for i in range(len(folded) - FRAGMENT + 1))


def _redact_fragments(text: str, secret: str) -> str:
    """Replace every run of text made of pieces of `secret` at least `FRAGMENT` long."""
    if len(text) < FRAGMENT:
        return text
    folded = text.lower()
    if len(folded) != len(text):
        # A few characters lower to several: fold one by one, keeping positions.
        folded = "".join(ch.lower() if len(ch.lower()) == 1 else ch for ch in text)
    fragments = _fragments(secret)
    spans: list[list[int]] = []
    for start in range(len(text) - FRAGMENT + 1):
        if folded[start : start + FRAGMENT] in fragments:
            if spans and start <= spans[-1][1]:
                spans[-1][1] = start + FRAGMENT
            else:
                spans.append([start, start + FRAGMENT])
    if not spans:
        return text
    pieces: list[str] = []
    end = 0
    for start, stop in spans:
        pieces += [text[end:start], MASK]
        end = stop
    pieces.append(text[end:])
    return "".join(pieces)


def _redact_cut_prefix(text: str, secret: str) -> str:
    """Replace a prefix of `secret` left at the end of `text` (where it was cut)."""
    folded = secret.casefold()
    for size in range(min(len(secret) - 1, len(text)), 0, -1):
        if text[-size:].casefold() == folded[:size]:
            return text[:-size] + MASK
    return text


def sanitise_excerpt(
    body: bytes | str | None, limit: int = EXCERPT_LIMIT, *, secrets: Iterable[str] | None = None
) -> str | None:
    """Turn a response body into a short, single-line, printable, redacted excerpt.

    Secrets are redacted before the text is cut, and a fragment of one left
    at a cut is redacted too.

    Args:
        body: The body, raw or decoded.
        limit: The most characters kept.
        secrets: The texts to hide; defaults to those of the calls running in
            this task (see `redacting`).

    Returns:
        The excerpt, or `None` for an empty body.
    """
    if not body:
        return None
    window = body[: limit * 4]
    text = window.decode("utf-8", errors="replace") if isinstance(window, bytes) else window
    text = redact_text(text, secrets, cut=len(window) < len(body))
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
        endpoint: The endpoint of the failed call (`"image_search"`,
            `"keyword_search"`, `"product_details"`, `"shop_nick"`,
            `"preview_order"` or `"create_order"`), set on every error raised
            after a request was built; `None` otherwise.
        meta: What the last answer of the call said (`ResponseMeta`: status,
            redacted headers, request id, attempts, elapsed time, engine),
            when an answer came (an error status, a `ret != 1` envelope, a
            body that could not be read); `None` when none did.
    """

    message: str
    request_id: str | None
    body_excerpt: str | None
    endpoint: str | None
    meta: ResponseMeta | None = None

    def __init__(
        self,
        message: str,
        *,
        request_id: str | None = None,
        body_excerpt: str | None = None,
    ) -> None:
        message = redact_text(message)
        super().__init__(message)
        self.message = message
        self.request_id = request_id
        self.body_excerpt = body_excerpt
        self.endpoint = None

    def __setattr__(self, name: str, value: object) -> None:
        # Every text an error holds may come from the server: redacted when
        # set, whoever sets it.
        if name == "args" and isinstance(value, tuple):
            value = tuple(redact_text(v) if isinstance(v, str) else v for v in value)
        elif name in _TEXT_FIELDS and isinstance(value, str):
            value = redact_text(value)
        elif name == "ret":
            value = _normalise_ret(value)
        super().__setattr__(name, value)

    def __str__(self) -> str:
        text = self.message
        if self.request_id:
            text += f" (request_id={self.request_id})"
        if self.body_excerpt:
            text += f" body: {self.body_excerpt}"
        return text

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (type(self), self.__dict__))


_TEXT_FIELDS = frozenset({"message", "request_id", "body_excerpt", "msg"})


def _normalise_ret(ret: object) -> object:
    if ret is None or isinstance(ret, int | float):
        return ret
    # Anything else is kept as a short, sanitised, redacted text: never an
    # object that could hold the whole body or an echoed uuid.
    return sanitise_excerpt(ret if isinstance(ret, str) else repr(ret), 40) or ""


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
        ret: The envelope's `ret`: a number (or `None`) as sent; anything
            else as a short, sanitised text.
        msg: The envelope's `msg`, the server's explanation (sanitised).
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


class QuotaExhaustedError(RateLimitError):
    """The client's request quota is used up until `retry_after` seconds from now.

    Raised at once, without a request, by every call of a client (and of
    every process sharing its `RedisQuota`) after the API answered a `429`
    whose `Retry-After` exceeds `max_retry_after` (a daily quota, say); the
    first such answer raises it too. A batch stops on it, so a resumable
    crawl ends cleanly instead of writing a failure per input.
    """


class ServerError(APIStatusError):
    """HTTP 5xx: the server or a proxy in front of it failed."""


Delivery = Literal["not_sent", "maybe_delivered"]
"""What is known of a failed request's delivery: `"not_sent"` only when it provably never left."""


class APIConnectionError(HiobuyError):
    """No complete response arrived: refused or reset connection, protocol error.

    Attributes:
        delivery: `"not_sent"` when the request provably never left (DNS,
            connection refused, connect or pool timeout, TLS handshake, a
            pooled connection found closed before the request was written);
            `"maybe_delivered"` otherwise, and when unknown: the server may
            have read it.
    """

    delivery: Delivery

    def __init__(
        self,
        message: str,
        *,
        delivery: Delivery = "maybe_delivered",
        request_id: str | None = None,
        body_excerpt: str | None = None,
    ) -> None:
        super().__init__(message, request_id=request_id, body_excerpt=body_excerpt)
        self.delivery = delivery


class CertificateError(APIConnectionError):
    """The server's TLS certificate failed verification (unknown CA, wrong host name).

    Never retried: another attempt would meet the same certificate. For a
    private CA (a corporate proxy), pass `AsyncHiobuy(ssl_context=...)`.
    """


class APITimeoutError(APIConnectionError):
    """A connect/read/write/pool timeout, or the call's total deadline, ran out."""


class ResponseValidationError(HiobuyError):
    """The response body is not JSON, not an envelope, too large, or does not fit the models."""


class OrderOutcomeUnknownError(HiobuyError):
    """The order may or may not have been placed: never retried, never sent again.

    Raised for an operation that must not be sent twice (`create_order`)
    when its request may have reached the server and no definite answer came
    back: the connection failed after the request may have left, a read
    timeout or the deadline ran out while it was in flight, a 5xx answer, or
    a malformed 2xx answer. The error that happened is its `__cause__`. Not
    an `APIConnectionError`, so generic `except`/retry code does not swallow
    it: look the order up (see the docs) before placing it again.

    Attributes:
        idempotency_key: The call's idempotency key, when it had one.
        client_reference: The call's client reference, when it had one.
        attempts: Requests made by the call, the last one included.
    """

    idempotency_key: str | None
    client_reference: str | None
    attempts: int

    def __init__(
        self,
        message: str,
        *,
        idempotency_key: str | None = None,
        client_reference: str | None = None,
        attempts: int = 1,
        request_id: str | None = None,
        body_excerpt: str | None = None,
    ) -> None:
        super().__init__(message, request_id=request_id, body_excerpt=body_excerpt)
        self.idempotency_key = idempotency_key
        self.client_reference = client_reference
        self.attempts = attempts


class ClientStateError(HiobuyError, RuntimeError):
    """The client cannot be used here or now: it is closed, or it belongs to another event loop.

    A mistake in the calling code, not a failure of the API: never retried,
    and it stops a batch (`search_many`, `search_stream`) at once.
    """


class ClientClosedError(ClientStateError):
    """The client was used after `aclose()` (or its `async with` block ended).

    Also raised by calls that were waiting or in flight when `aclose()` ran:
    they are abandoned, not retried.
    """


class WrongEventLoopError(ClientStateError):
    """The client was used from another event loop or thread than the one it was first used on.

    Its connection pool belongs to that first loop (an asyncio loop, or a
    trio run). Create the client inside the loop that uses it, for example in
    a FastAPI lifespan, and use one client per event loop and thread. The
    client is left untouched and still works on its own loop.
    """


def redact_error(error: HiobuyError, secret: str) -> HiobuyError:
    """Remove `secret` from an error's texts, and drop what could hold it, in place.

    The texts are matched in any letter case, and a fragment of the secret
    left before a cut (`…`) is removed too. The error's `__cause__`,
    `__context__` and traceback are dropped: a decoder's error may hold the
    whole body, and the frames of the request, its headers.

    Args:
        error: The error.
        secret: The text to hide.

    Returns:
        The same error.
    """
    error.__context__ = None
    error.__cause__ = None
    error.__traceback__ = None
    if not secret:
        return error
    for name in ("message", "body_excerpt", "msg", "request_id", "ret"):
        value = error.__dict__.get(name)
        if isinstance(value, str):
            object.__setattr__(error, name, _redact_cuts(value, secret))
    error.args = tuple(_redact_cuts(v, secret) if isinstance(v, str) else v for v in error.args)
    return error


def _redact_cuts(text: str, secret: str) -> str:
    pieces = text.split("…")
    last = len(pieces) - 1
    return "…".join(
        redact_text(piece, (secret,), cut=number < last) for number, piece in enumerate(pieces)
    )


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
    elif 500 <= status_code < 600:
        cls, what = ServerError, "server error"
    elif 300 <= status_code < 400:
        cls, what = APIStatusError, "redirects are not followed"
    elif status_code >= 600 or status_code < 200:
        cls, what = APIStatusError, "not a valid HTTP status"
    else:
        cls, what = APIStatusError, "request failed"
    return cls(
        f"HTTP {status_code}: {what}",
        status_code=status_code,
        retry_after=retry_after,
        request_id=request_id,
        body_excerpt=excerpt,
    )
