# SPDX-License-Identifier: MIT
"""`AsyncHiobuy`: the client object users hold."""

from __future__ import annotations

import inspect
import logging
import os
import re
import warnings
from collections.abc import AsyncIterable, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

import anyio
import attrs

from . import _batch
from ._convert import aparse_image_search
from ._exceptions import (
    APITimeoutError,
    HiobuyError,
    InputError,
    error_for_status,
    redact_error,
    redact_text,
    redacting,
)
from ._models import ImageSearchResult
from ._query import IMAGE_SEARCH_PATH, ImageQuery, ResolvedQuery, resolve_query
from ._retry import RetryHooks, RetryPolicy, parse_retry_after, retry_call
from ._transport import (
    TRANSPORT_KINDS,
    HttpTransport,
    RawResponse,
    TransportKind,
    aiohttp_transport_available,
    make_timeout,
)
from ._version import __version__
from .marketplaces import LOCALES, Marketplace, is_loopback_host

if TYPE_CHECKING:
    import httpx

    from ._batch import Outcome, Progress, SearchStream

__all__ = ["DEFAULT_BASE_URL", "AsyncHiobuy"]

logger = logging.getLogger("hiobuy_async")

DEFAULT_BASE_URL = "https://open.hiobuy.com"
"""The API's base URL when neither `base_url` nor `HIOBUY_BASE_URL` is given."""
DEFAULT_TIMEOUT = 30.0
DEFAULT_DEADLINE = 120.0
DEFAULT_MAX_CONNECTIONS = 32
DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024
_ALL_LOCALES = frozenset(locale for locales in LOCALES.values() for locale in locales)


def _check_uuid(uuid: str | None) -> str:
    if uuid is None:
        uuid = os.environ.get("HIOBUY_UUID")
    if uuid is None or uuid == "":
        raise InputError("no uuid given: pass uuid=... or set the HIOBUY_UUID environment variable")
    if not isinstance(uuid, str):
        raise InputError(f"uuid must be a string, not {type(uuid).__name__}")
    # The value is never echoed: it is a credential.
    if not uuid.isascii() or not uuid.isprintable() or any(ch.isspace() for ch in uuid):
        raise InputError("uuid contains whitespace, control or non-ASCII characters")
    return uuid


_USERINFO = re.compile(r"//[^/?#]*@")


def _shown_url(url: str) -> str:
    # The URL is echoed in errors, but never a password it might hold.
    return repr(_USERINFO.sub("//***@", url, count=1))


def _check_base_url(base_url: object, *, allow_insecure_http: object) -> str:
    if base_url is not None and not isinstance(base_url, str):
        raise InputError(f"base_url must be a URL string, not {type(base_url).__name__}")
    if not isinstance(allow_insecure_http, bool):
        raise InputError(
            f"allow_insecure_http must be a bool, not {type(allow_insecure_http).__name__}"
        )
    from_env = os.environ.get("HIOBUY_BASE_URL")
    url = base_url or from_env or DEFAULT_BASE_URL
    name = "base_url" if base_url or not from_env else "HIOBUY_BASE_URL"
    # Each HTTP library treats these differently (strips them, refuses them
    # on every request, or sends them): refused here, for every engine alike.
    if not url.isprintable() or any(ch.isspace() for ch in url):
        raise InputError(
            f"{name} contains whitespace or control characters (a line ending from a .env "
            f"file?): {_shown_url(url)}"
        )
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port
    except ValueError:
        raise InputError(f"{name} is not a valid URL: {_shown_url(url)}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise InputError(f"{name} must be an absolute http(s) URL, got {_shown_url(url)}")
    if "@" in parts.netloc:
        raise InputError(f"{name} must not contain credentials")
    if "?" in url or "#" in url:
        raise InputError(f"{name} must not contain a query or a fragment: {_shown_url(url)}")
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback_host(host):
        raise InputError(
            f"{name} {_shown_url(url)} uses plain http to a non-loopback host, which would send "
            "the uuid in clear; use https, or pass allow_insecure_http=True"
        )
    return url.rstrip("/")


def _check_language(language: object) -> str | None:
    if language is None:
        return None
    if not isinstance(language, str):
        raise InputError(
            f"language must be a locale string such as 'en_US', not {type(language).__name__}"
        )
    if language not in _ALL_LOCALES:
        raise InputError(
            f"language {language!r} is not supported by any marketplace; "
            f"expected one of {', '.join(sorted(_ALL_LOCALES))}"
        )
    return language


def _check_http_client(http_client: object) -> None:
    if http_client is not None and not inspect.iscoroutinefunction(
        getattr(http_client, "send", None)
    ):
        raise InputError(
            f"http_client must be an httpx.AsyncClient, not {type(http_client).__name__}"
        )


class _Secret:
    """Holds the uuid; its repr (in tracebacks' locals, `vars(client)`) hides it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def __repr__(self) -> str:
        return "<secret>"

    def reveal(self) -> str:
        """Return the secret itself.

        Returns:
            The uuid.
        """
        return self._value


def _check_transport(transport: str | None) -> TransportKind:
    value = transport if transport is not None else os.environ.get("HIOBUY_TRANSPORT") or "httpx"
    for kind in TRANSPORT_KINDS:
        if value == kind:
            break
    else:
        raise InputError(f"transport must be one of {', '.join(TRANSPORT_KINDS)}, got {value!r}")
    if kind == "aiohttp" and not aiohttp_transport_available():
        raise InputError(
            "transport='aiohttp' needs the aiohttp package: pip install 'hiobuy-async[aiohttp]'"
        )
    return kind


def _check_positive(name: str, value: float | None, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InputError(f"{name} must be a positive number, got {value!r}")


class AsyncHiobuy:
    """An async client for HioBuy's marketplace API, on asyncio or trio.

    Hold one per application (or per crawler) and share it between tasks of
    one event loop: it keeps one pool of connections. Use it as an async
    context manager, or call `aclose()` when done.

    Args:
        uuid: The merchant UUID; defaults to the `HIOBUY_UUID` environment
            variable.
        base_url: The API's base URL; defaults to `HIOBUY_BASE_URL`, then
            `https://open.hiobuy.com`.
        language: The default locale for searches (e.g. `"en_US"`); each
            search checks it against its marketplace.
        timeout: Per-attempt timeout: seconds (a float) or an `httpx.Timeout`.
        max_retries: Retries after a failed attempt (connection errors,
            timeouts, 408, 429, 5xx).
        max_connections: The connection pool size; `search_many` never runs
            more requests at once than this.
        http_client: Your own `httpx.AsyncClient`, used as is and never closed
            by the SDK. Redirects are never followed, whatever its settings;
            the SDK's `timeout` applies to each request; keep
            `max_connections` at most its pool's size, or requests queue
            inside httpx's pool.
        deadline: Seconds one call may take across all its attempts and
            waits, or `None` for no total deadline.
        max_response_bytes: The cap on a decoded response body.
        max_retry_after: The longest `Retry-After` the SDK sleeps for; a longer
            one raises `RateLimitError` at once.
        allow_insecure_http: Allow an `http://` base URL to a non-loopback host.
        transport: Which HTTP transport the SDK's own pool uses: `"httpx"`
            (httpx's own, on asyncio and trio) or `"aiohttp"` (an aiohttp
            `ClientSession` under asyncio, about twice as cheap per request —
            install `hiobuy-async[aiohttp]` — and httpx's own under trio). Defaults
            to the `HIOBUY_TRANSPORT` environment variable, then `"httpx"`.
            Ignored when `http_client` is given.

    Raises:
        InputError: No uuid, or an invalid argument.

    Example:
        ```python
        async with AsyncHiobuy() as client:
            result = await client.image_search(url, platform="1688")
        ```
    """

    def __init__(
        self,
        uuid: str | None = None,
        *,
        base_url: str | None = None,
        language: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        http_client: httpx.AsyncClient | None = None,
        deadline: float | None = DEFAULT_DEADLINE,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_retry_after: float = 60.0,
        allow_insecure_http: bool = False,
        transport: TransportKind | None = None,
    ) -> None:
        secret = _check_uuid(uuid)
        self._base_url = _check_base_url(base_url, allow_insecure_http=allow_insecure_http)
        language = _check_language(language)
        _check_http_client(http_client)
        if (
            isinstance(max_connections, bool)
            or not isinstance(max_connections, int)
            or max_connections < 1
        ):
            raise InputError(f"max_connections must be an integer >= 1, got {max_connections!r}")
        _check_positive("deadline", deadline, allow_none=True)
        _check_positive("max_retry_after", max_retry_after)
        if isinstance(max_response_bytes, bool) or not isinstance(max_response_bytes, int):
            raise InputError("max_response_bytes must be an integer")
        _check_positive("max_response_bytes", max_response_bytes)
        self._language = language
        self._deadline = deadline
        self._max_connections = max_connections
        self._retry_policy = RetryPolicy(max_retries=max_retries, max_retry_after=max_retry_after)
        self._uuid = _Secret(secret)
        kind = _check_transport(transport)
        self._transport = HttpTransport(
            base_url=self._base_url,
            timeout=make_timeout(timeout),
            max_connections=max_connections,
            max_response_bytes=max_response_bytes,
            http_client=http_client,
            kind=kind,
            user_agent=f"hiobuy-async/{__version__}",
            secret=secret,
        )

    def __repr__(self) -> str:
        state = "closed" if self._transport.closed else "open"
        return f"<AsyncHiobuy base_url={self._base_url!r} {state}>"

    @property
    def base_url(self) -> str:
        """The API base URL requests go to."""
        return self._base_url

    @property
    def max_connections(self) -> int:
        """The connection pool size, and so the most requests in flight at once."""
        return self._max_connections

    @property
    def is_closed(self) -> bool:
        """True once `aclose()` has run."""
        return self._transport.closed

    async def __aenter__(self) -> AsyncHiobuy:
        self._transport.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (unless it is your own `http_client`); idempotent."""
        await self._transport.aclose()

    def __del__(self) -> None:
        # Never touch an event loop here: just tell the user they leaked it.
        transport = getattr(self, "_transport", None)
        if transport is not None and transport.owns_open_client:
            warnings.warn(
                f"unclosed {self!r}; use 'async with AsyncHiobuy()' or 'await client.aclose()'",
                ResourceWarning,
                stacklevel=2,
                source=self,
            )

    async def image_search(
        self,
        img: str,
        *,
        platform: Marketplace | str,
        language: str | None = None,
        use_platform: bool = False,
        filters: Iterable[str] | None = None,
    ) -> ImageSearchResult:
        """Find products similar to the image at `img`.

        Args:
            img: A publicly reachable http(s) image URL.
            platform: `Marketplace.TAOBAO` / `"taobao"` or
                `Marketplace.ALIBABA_1688` / `"1688"`.
            language: The locale for titles; defaults to the client's, then
                the API's (`zh_CN`). Must be valid for the marketplace.
            use_platform: 1688 only: ask for 1688-native fields (they land in
                `Product.extra` and `ImageSearchResult.raw`).
            filters: 1688 only: filter values such as `"certifiedFactory"`.
                Unknown values warn (`UnknownFilterWarning`) and are sent.

        Returns:
            The products found.

        Raises:
            InputError: An argument is invalid (no request is sent).
            APIError: The API answered `ret != 1`.
            AuthenticationError: The uuid was refused.
            RateLimitError: Rate limited beyond retries or `max_retry_after`.
            ServerError: 5xx beyond retries.
            APIStatusError: Another non-2xx status.
            APITimeoutError: Timeouts beyond retries, or the deadline ran out.
            APIConnectionError: Connection failures beyond retries.
            ResponseValidationError: The response is malformed or too large.
        """
        query = resolve_query(
            img,
            platform=platform,
            language=language if language is not None else self._language,
            use_platform=use_platform,
            filters=filters,
        )
        return await self._search(query)

    async def _search(
        self,
        query: ResolvedQuery,
        *,
        hooks: RetryHooks | None = None,
        on_retry: Callable[[HiobuyError], None] | None = None,
    ) -> ImageSearchResult:
        with redacting(self._uuid.reveal()):
            return await self._search_redacted(query, hooks=hooks, on_retry=on_retry)

    async def _search_redacted(
        self,
        query: ResolvedQuery,
        *,
        hooks: RetryHooks | None,
        on_retry: Callable[[HiobuyError], None] | None,
    ) -> ImageSearchResult:
        # No local variable of this frame, or of any frame an SDK error's
        # traceback keeps, holds the uuid: error reporters print locals.
        language = query.language
        payload = query.payload()

        async def attempt(number: int) -> ImageSearchResult:
            try:
                return await self._attempt(payload, language, number)
            except HiobuyError as error:
                # Raised from here without the frames below (they hold the
                # request headers and the body) and without its chain.
                failure = redact_error(error, self._uuid.reveal())
            raise failure

        if self._deadline is None:
            return await retry_call(
                attempt, policy=self._retry_policy, hooks=hooks, on_retry=on_retry
            )
        deadline_at = anyio.current_time() + self._deadline
        with anyio.move_on_after(self._deadline):
            return await retry_call(
                attempt,
                policy=self._retry_policy,
                deadline=deadline_at,
                hooks=hooks,
                on_retry=on_retry,
            )
        raise APITimeoutError(
            f"image search did not finish within the {self._deadline:g}s deadline"
        )

    async def search_many(
        self,
        images: Iterable[str | ImageQuery] | AsyncIterable[str | ImageQuery],
        *,
        platform: Marketplace | str | None = None,
        language: str | None = None,
        use_platform: bool = False,
        filters: Iterable[str] | None = None,
        concurrency: int = 8,
        rate_limit: float | None = None,
        on_error: Literal["collect", "raise"] = "collect",
        progress: Callable[[Progress], object] | None = None,
        retry_budget: float = 0.2,
    ) -> list[Outcome]:
        """Search many images with bounded concurrency; results in input order.

        The same batch as `search_stream`, collected and sorted by `index`.
        Every input gets exactly one outcome; duplicate queries are sent once
        and share theirs.

        Args:
            images: The image URLs or `ImageQuery` objects: a list, any
                iterable, or an async iterable.
            platform: The marketplace for inputs that do not set their own.
            language: The locale for inputs that do not set their own.
            use_platform: 1688-native fields, for inputs that do not set it.
            filters: 1688 filters, for inputs that do not set their own.
            concurrency: Requests in flight at once; at most `max_connections`.
            rate_limit: Requests started per second across the batch (evenly
                spaced, no bursts), or `None`.
            on_error: `"collect"`: each `HiobuyError` becomes a `Failed` and
                the rest go on; `"raise"`: the first failure stops the batch
                and is raised.
            progress: Called with a `Progress` snapshot after each input.
            retry_budget: Retries allowed across the batch, as a fraction of
                first attempts (0.2: a failing API sees at most ~1.2x load).

        Returns:
            One `Ok` or `Failed` per input, in input order (duplicates share
            one request and get equal results).

        Raises:
            InputError: Invalid batch arguments.
            AuthenticationError: The uuid was refused (the batch stops).
            HiobuyError: With `on_error="raise"`, the first failure.
        """
        return await _batch.search_many(
            self,
            images,
            platform=platform,
            language=language if language is not None else self._language,
            use_platform=use_platform,
            filters=filters,
            concurrency=concurrency,
            rate_limit=rate_limit,
            on_error=on_error,
            progress=progress,
            retry_budget=retry_budget,
        )

    def search_stream(
        self,
        images: Iterable[str | ImageQuery] | AsyncIterable[str | ImageQuery],
        *,
        platform: Marketplace | str | None = None,
        language: str | None = None,
        use_platform: bool = False,
        filters: Iterable[str] | None = None,
        concurrency: int = 8,
        rate_limit: float | None = None,
        on_error: Literal["collect", "raise"] = "collect",
        progress: Callable[[Progress], object] | None = None,
        retry_budget: float = 0.2,
    ) -> AbstractAsyncContextManager[SearchStream]:
        """Search many images; yield outcomes as they complete.

        Input is read lazily (a list, any iterable, or an async iterable of
        URLs or `ImageQuery` objects), so an endless async generator runs in
        bounded memory. A fixed set of `concurrency` workers pulls from it.

        Args:
            images: The image URLs or `ImageQuery` objects.
            platform: The marketplace for inputs that do not set their own.
            language: The locale for inputs that do not set their own.
            use_platform: 1688-native fields, for inputs that do not set it.
            filters: 1688 filters, for inputs that do not set their own.
            concurrency: Requests in flight at once; at most `max_connections`.
            rate_limit: Requests started per second across the batch (smooth,
                not bursty), or `None`.
            on_error: `"collect"`: each `HiobuyError` becomes a `Failed` and
                the rest go on; `"raise"`: the first failure stops the batch
                and is raised.
            progress: Called with a `Progress` snapshot after each input.
            retry_budget: Retries allowed across the batch, as a fraction of
                first attempts (0.2: at most ~1.2x load on a failing API).

        Returns:
            An async context manager whose value is an async iterator of `Ok`
            and `Failed` outcomes, each with its input `index`.

        Raises:
            InputError: Invalid batch arguments (`concurrency` above
                `max_connections`, a bad `rate_limit`, `on_error`, platform,
                locale or `retry_budget`), on entering the context.
            AuthenticationError: The uuid was refused (the batch stops).
            HiobuyError: With `on_error="raise"`, the first failure.
            Exception: An exception raised by the input iterable or the
                `progress` callback stops the batch and is raised as is.

        Example:
            ```python
            async with client.search_stream(urls, platform="1688") as stream:
                async for outcome in stream:
                    print(outcome.index, outcome)
            ```
        """
        return _batch.search_stream(
            self,
            images,
            platform=platform,
            language=language if language is not None else self._language,
            use_platform=use_platform,
            filters=filters,
            concurrency=concurrency,
            rate_limit=rate_limit,
            on_error=on_error,
            progress=progress,
            retry_budget=retry_budget,
        )

    async def _attempt(
        self, payload: dict[str, object], language: str, number: int
    ) -> ImageSearchResult:
        raw = await self._transport.post_json(
            IMAGE_SEARCH_PATH,
            payload,
            headers={"X-Uuid": self._uuid.reveal(), "Language": language},
        )
        if raw.request_id:
            # A server may echo the uuid in its request id: it reaches results and logs.
            raw = attrs.evolve(raw, request_id=redact_text(raw.request_id, (self._uuid.reveal(),)))
        _log_response(raw, number)
        return await _image_search_result(raw)


def _log_response(raw: RawResponse, attempt: int) -> None:
    logger.debug(
        "POST %s -> %d attempt=%d elapsed=%.3fs request_id=%s",
        IMAGE_SEARCH_PATH,
        raw.status_code,
        attempt,
        raw.elapsed,
        raw.request_id,
    )


async def _image_search_result(raw: RawResponse) -> ImageSearchResult:
    if not 200 <= raw.status_code < 300:
        raise error_for_status(
            raw.status_code,
            body=raw.body,
            request_id=raw.request_id,
            retry_after=parse_retry_after(raw.retry_after),
        )
    return await aparse_image_search(raw.body, request_id=raw.request_id)
