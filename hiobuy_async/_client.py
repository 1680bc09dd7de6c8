# SPDX-License-Identifier: MIT
"""`AsyncHiobuy`: the client object users hold."""

from __future__ import annotations

import os
import warnings
from collections.abc import AsyncIterable, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, ExitStack
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, NoReturn, TypeVar

import attrs

from . import _batch
from ._cached import CachedCalls, check_cache_ttl
from ._config import (
    DEFAULT_BASE_URL,
    check_base_url,
    check_http_client,
    check_language,
    check_ssl_context,
    check_transport,
    check_uuid,
)
from ._endpoints.create_order import (
    check_key,
    create_order_request,
    fingerprint,
    order_body,
)
from ._endpoints.image_search import ImageBatch, ImageQuery, ResolvedQuery, resolve_query
from ._endpoints.keyword_search import Price, Sort, SortName, check_page, resolve_keyword_query
from ._endpoints.preview_order import personal_texts, preview_order_request
from ._endpoints.product_details import (
    DetailsBatch,
    DetailsQuery,
    ProductRef,
    resolve_details_query,
)
from ._endpoints.shop_nick import shop_nick_request
from ._exceptions import InputError, redacting
from ._lifecycle import Lifecycle, closed_error
from ._models import (
    Address,
    ImageSearchResult,
    KeywordSearchPage,
    Order,
    OrderLine,
    OrderPreview,
    OrderSubmission,
    ProductDetails,
    ShopNick,
)
from ._orders import OrderGuard, OrderJournal, new_key
from ._outcomes import Failed, Ok, Outcome, Progress
from ._pager import KeywordPager, PagePosition
from ._pipeline import Pipeline, Secret
from ._request import ApiRequest
from ._retry import RetryHooks, RetryPolicy
from ._transport import HttpTransport, TransportKind, make_timeout
from ._validation import check_currency, check_int, check_positive
from ._version import __version__
from .cache import Cache
from .cache._key import merchant_namespace
from .marketplaces import Marketplace, PlatformName
from .quota import LocalQuota, Quota, RedisQuota

if TYPE_CHECKING:
    import ssl

    import httpx
    import httpx2


__all__ = ["DEFAULT_BASE_URL", "AsyncHiobuy"]

T = TypeVar("T")

DEFAULT_TIMEOUT = 30.0
DEFAULT_DEADLINE = 120.0
DEFAULT_MAX_CONNECTIONS = 32
DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024


class _Unset:
    """The default of `with_options`' arguments: keep the client's setting."""

    def __repr__(self) -> str:
        return "<unset>"


_UNSET: Any = _Unset()


def _check_quota(rate_limit: float | None, quota: Quota | None) -> Quota:
    if quota is not None:
        if rate_limit is not None:
            raise InputError(
                "pass rate_limit= or quota=, not both: give the quota its rate instead"
            )
        if not isinstance(quota, Quota):
            raise InputError(
                f"quota must implement hiobuy_async.quota.Quota, not {type(quota).__name__}"
            )
        return quota
    if rate_limit is not None:
        check_positive("rate_limit", rate_limit)
    return LocalQuota(rate=rate_limit)


def _check_cache(cache: Cache | None) -> Cache | None:
    if cache is not None and not isinstance(cache, Cache):
        raise InputError(
            f"cache must implement hiobuy_async.cache.Cache, not {type(cache).__name__}"
        )
    return cache


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
        timeout: Per-attempt timeout: seconds (a float), or an `httpx.Timeout`
            or `httpx2.Timeout`.
        max_retries: Retries after a failed attempt (connection errors,
            timeouts, 408, 429, 5xx).
        max_connections: The connection pool size; `search_many` never runs
            more requests at once than this.
        http_client: Your own `httpx.AsyncClient` or `httpx2.AsyncClient`,
            used as is and never closed by the SDK (its TLS and proxy settings
            are its own). Redirects are never followed, whatever its settings;
            the SDK's `timeout` applies to each request; keep
            `max_connections` at most its pool's size, or requests queue
            inside httpx's pool.
        deadline: Seconds one call may take across all its attempts and
            waits, or `None` for no total deadline.
        max_response_bytes: The cap on a decoded response body.
        max_retry_after: The longest `Retry-After` the SDK sleeps for; a longer
            one raises `RateLimitError` at once.
        allow_insecure_http: Allow an `http://` base URL to a non-loopback host,
            and plain http through an environment proxy (`HTTP_PROXY`,
            `ALL_PROXY`); without it a loopback `http://` base URL goes direct.
        transport: The HTTP engine of the SDK's own pool: `"httpx2"`,
            `"httpx"` or `"aiohttp"` (install `hiobuy-async[aiohttp]`);
            defaults to the `HIOBUY_TRANSPORT` environment variable, then to
            the best engine installed for the running event loop. `client.transport`
            tells which one a client uses once open:

            | event loop | default | `"aiohttp"` | `"httpx"`, `"httpx2"` |
            |---|---|---|---|
            | asyncio | aiohttp if installed, else httpx2 | aiohttp | as asked |
            | trio | httpx2 | httpx2 (aiohttp is asyncio-only) | as asked |

            aiohttp costs about a quarter of httpx2's CPU per request, and
            httpx2 about half of httpx 0.28's (docs/performance.md). Ignored
            when `http_client` is given.
        ssl_context: The TLS settings (trust store, client certificate) for
            every engine, e.g. `ssl.create_default_context(cafile=...)` for a
            corporate CA. By default certificates are verified against
            certifi's store (or `SSL_CERT_FILE` / `SSL_CERT_DIR`), with one
            context built once per process and shared by every client.
        rate_limit: Requests per second for everything this client sends
            (every endpoint, single calls, pages, batches and retries; evenly
            spaced, GCRA), or `None`; shorthand for
            `quota=LocalQuota(rate=rate_limit)`. A batch's own `rate_limit`
            is an extra cap on top.
        quota: The object that paces every request and holds the client-wide
            `429` pause and exhaustion — a `hiobuy_async.quota.RedisQuota` to
            share one quota between processes. A `RedisQuota` not opened yet
            is opened by `async with client` and closed when the client
            closes; a quota opened by the caller (one shared by several
            clients) is never closed by the client.
            Without `rate_limit` or `quota`, a `429`'s `Retry-After` still
            pauses every request of this client, and one above
            `max_retry_after` makes its calls fail at once
            (`QuotaExhaustedError`) until then.
        currency: The settlement currency `create_order` sends in the
            `Currency` header (three letters, e.g. `"USD"`), or `None` for the
            merchant's default; a call's own `currency=` wins.
        order_journal: A SQLite file recording each order's idempotency key
            before it is sent and its outcome after, so that a key whose
            order may have been placed is refused after a crash or restart
            too (docs/orders-without-duplicates.md). `None`: keys are
            remembered in memory only.
        cache: A response cache (`hiobuy_async.cache`: `MemoryCache`,
            `SQLiteCache`, `RedisCache`) the four reads are served from and
            stored in, or `None`. A hit sends nothing and takes no quota
            slot; only successes are stored; a call's `cache_ttl=` overrides
            the cache's TTL (`0` bypasses it). Never closed by the client.

    Raises:
        InputError: No uuid, or an invalid argument (a server-side
            `ssl_context` included), or a malformed proxy variable in the
            environment (named, its credentials hidden).

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
        timeout: float | httpx.Timeout | httpx2.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        http_client: httpx.AsyncClient | httpx2.AsyncClient | None = None,
        deadline: float | None = DEFAULT_DEADLINE,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_retry_after: float = 60.0,
        allow_insecure_http: bool = False,
        transport: TransportKind | None = None,
        ssl_context: ssl.SSLContext | None = None,
        rate_limit: float | None = None,
        quota: Quota | None = None,
        currency: str | None = None,
        order_journal: str | os.PathLike[str] | None = None,
        cache: Cache | None = None,
    ) -> None:
        secret = check_uuid(uuid)
        self._base_url = check_base_url(base_url, allow_insecure_http=allow_insecure_http)
        language = check_language(language)
        check_http_client(http_client)
        check_int("max_connections", max_connections, minimum=1)
        if deadline is not None:
            check_positive("deadline", deadline)
        check_positive("max_retry_after", max_retry_after)
        check_int("max_response_bytes", max_response_bytes, minimum=1)
        self._language = language
        self._max_connections = max_connections
        self._currency = None if currency is None else check_currency(currency)
        if order_journal is not None and not isinstance(order_journal, str | os.PathLike):
            raise InputError(
                f"order_journal must be a file path, not {type(order_journal).__name__}"
            )
        self._orders = OrderGuard(None if order_journal is None else OrderJournal(order_journal))
        kind = check_transport(transport)
        self._transport = HttpTransport(
            base_url=self._base_url,
            timeout=make_timeout(timeout),
            max_connections=max_connections,
            max_response_bytes=max_response_bytes,
            http_client=http_client,
            kind=kind,
            user_agent=f"hiobuy-async/{__version__}",
            secret=secret,
            ssl_context=check_ssl_context(ssl_context),
            allow_insecure_http=allow_insecure_http,
        )
        self._lifecycle = Lifecycle()
        self._pipeline = Pipeline(
            self._transport,
            uuid=Secret(secret),
            retry_policy=RetryPolicy(max_retries=max_retries, max_retry_after=max_retry_after),
            deadline=deadline,
            quota=_check_quota(rate_limit, quota),
            lifecycle=self._lifecycle,
            cached=_cached_calls(cache, secret, self._base_url, max_response_bytes),
        )
        self._opened_quota: RedisQuota | None = None

    def __repr__(self) -> str:
        state = "closed" if self.is_closed else "open"
        return f"<AsyncHiobuy base_url={self._base_url!r} {state}, {self._lifecycle.describe()}>"

    def with_options(
        self,
        *,
        timeout: float | httpx.Timeout | httpx2.Timeout = _UNSET,
        max_retries: int = _UNSET,
        deadline: float | None = _UNSET,
        language: str | None = _UNSET,
        currency: str | None = _UNSET,
        max_retry_after: float = _UNSET,
        cache_ttl: float | timedelta | None = _UNSET,
    ) -> AsyncHiobuy:
        """Return a view of this client whose calls use other options.

        The view shares everything else: the connection pool, the quota (its
        pacing and `429` pauses), the order guard and journal, the event
        loop. It is cheap enough to make per request (docs/performance.md),
        e.g. `client.with_options(deadline=2)` in a web route with a 2-second
        budget. Every method works on it: single calls, pagers, batches.
        Closing a view (`aclose()`, `async with`) does nothing; closing the
        client closes (and cancels the calls of) every view. Arguments not
        given keep this client's (or this view's) setting.

        Args:
            timeout: Per-attempt timeout, as for `AsyncHiobuy`.
            max_retries: Retries after a failed attempt.
            deadline: Seconds one call may take across all its attempts and
                waits, or `None` for no total deadline.
            language: The default locale for searches, or `None` for the API's.
            currency: The `Currency` `create_order` sends, or `None`.
            max_retry_after: The longest `Retry-After` slept for.
            cache_ttl: With a client `cache`: how long the view's reads are
                kept (seconds or a `timedelta`), in place of the cache's
                `ttl`; `0` bypasses the cache; `None` for the cache's `ttl`.
                A call's own `cache_ttl=` wins; `preview_order` is cached
                only when its call asks.

        Returns:
            The view (an `AsyncHiobuy`).

        Raises:
            InputError: An argument is invalid (checked as the constructor does).
            ClientClosedError: This client is closed.
        """
        if self.is_closed:
            raise closed_error()
        pipeline = self._pipeline
        policy = pipeline.retry_policy
        if max_retries is not _UNSET or max_retry_after is not _UNSET:
            if max_retry_after is not _UNSET:
                check_positive("max_retry_after", max_retry_after)
            policy = attrs.evolve(
                policy,
                max_retries=policy.max_retries if max_retries is _UNSET else max_retries,
                max_retry_after=(
                    policy.max_retry_after if max_retry_after is _UNSET else max_retry_after
                ),
            )
        if deadline is _UNSET:
            deadline = pipeline.deadline
        elif deadline is not None:
            check_positive("deadline", deadline)
        ttl = pipeline.cache_ttl if cache_ttl is _UNSET else check_cache_ttl(cache_ttl)
        view = object.__new__(_ClientView)
        view.__dict__.update(self.__dict__)
        view._pipeline = pipeline.view(
            retry_policy=policy,
            deadline=deadline,
            timeout=pipeline.timeout if timeout is _UNSET else make_timeout(timeout),
        )
        view._pipeline.cache_ttl = ttl
        if language is not _UNSET:
            view._language = check_language(language)
        if currency is not _UNSET:
            view._currency = None if currency is None else check_currency(currency)
        return view

    @property
    def quota(self) -> Quota:
        """What paces this client's requests (a `LocalQuota` unless one was given)."""
        return self._pipeline.quota

    @property
    def cache(self) -> Cache | None:
        """The response cache this client reads and fills, or `None`."""
        return None if self._pipeline.cached is None else self._pipeline.cached.cache

    @property
    def base_url(self) -> str:
        """The API base URL requests go to."""
        return self._base_url

    @property
    def max_connections(self) -> int:
        """The connection pool size, and so the most requests in flight at once."""
        return self._max_connections

    @property
    def transport(self) -> TransportKind | None:
        """The HTTP engine in use (`"httpx"`, `"httpx2"` or `"aiohttp"`), or None before opening.

        The engine is chosen when the client opens (`async with`, or the first
        request), for the running event loop; with `http_client`, it is that
        client's library.
        """
        return self._transport.kind_in_use

    @property
    def is_closed(self) -> bool:
        """True once `aclose()` has run."""
        return self._lifecycle.closed or self._transport.closed

    def __enter__(self) -> NoReturn:
        raise TypeError(
            "AsyncHiobuy is an async context manager: use 'async with AsyncHiobuy() as client:' "
            "inside an async function, not 'with'"
        )

    def __exit__(self, *exc_info: object) -> None:
        # Never reached (__enter__ raises); defined so that `with` gets to __enter__.
        raise TypeError("use 'async with AsyncHiobuy()', not 'with'")

    async def __aenter__(self) -> AsyncHiobuy:
        """Open the connection pool, on this event loop, which the client then belongs to.

        Returns:
            The client.

        Raises:
            WrongEventLoopError: The client was first used on another event loop or thread.
            ClientClosedError: The client is closed.
        """
        self._lifecycle.check()
        self._transport.open()
        quota = self._pipeline.quota
        if isinstance(quota, RedisQuota) and quota._unopened():
            # Opened here, closed by aclose(): AsyncHiobuy(quota=RedisQuota(...)).
            try:
                await quota.__aenter__()
            except BaseException:
                await self.aclose()
                raise
            self._opened_quota = quota
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (unless it is your own `http_client`); idempotent.

        Calls still waiting or in flight are cancelled first: each raises
        `ClientClosedError`.

        Raises:
            WrongEventLoopError: Called from another event loop or thread than
                the one the client was first used on (nothing is closed).
        """
        if await self._lifecycle.close():
            try:
                await self._transport.aclose()
            finally:
                quota, self._opened_quota = self._opened_quota, None
                if quota is not None:
                    await quota.__aexit__(None, None, None)

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
        platform: Marketplace | PlatformName,
        language: str | None = None,
        use_platform: bool = False,
        filters: Iterable[str] | None = None,
        cache_ttl: float | timedelta | None = None,
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
            cache_ttl: With a client `cache`: how long this answer is kept
                (seconds or a `timedelta`); `0` neither reads nor fills the
                cache; `None` for the cache's TTL.

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
            language=self._language_for(language),
            use_platform=use_platform,
            filters=filters,
        )
        ttl = check_cache_ttl(cache_ttl)
        return await self._pipeline.call(query.request(), cache_ttl=ttl)

    def _language_for(self, language: str | None) -> str | None:
        return language if language is not None else self._language

    async def keyword_search(
        self,
        keyword: str,
        *,
        platform: Marketplace | PlatformName,
        language: str | None = None,
        page: int = 1,
        page_size: int = 20,
        sort: Sort | SortName | None = None,
        price_min: Price | None = None,
        price_max: Price | None = None,
        use_platform: bool = False,
        filters: Iterable[str] | None = None,
        cache_ttl: float | timedelta | None = None,
    ) -> KeywordSearchPage:
        """Search products by keyword: one page of results.

        For every page in turn, use `keyword_search_pages()`.

        Args:
            keyword: The search words (1 to 200 characters).
            platform: `"taobao"` or `"1688"` (or a `Marketplace`).
            language: The locale for titles; defaults to the client's, then
                the API's (`zh_CN`). Must be valid for the marketplace.
            page: The page, from 1.
            page_size: Products per page, 1 to 50 (the API's cap).
            sort: A `Sort`, its name as the command line spells it
                (`"price-asc"`, `"price-desc"`, `"sales-asc"`, `"sales-desc"`)
                or its code (`"bid"`, `"bid2"`, `"sale"`, `"sale2"`), in any
                letter case, or `None` for the API's order.
            price_min: The lowest price, inclusive: a `Decimal`, an `int` or
                a plain decimal string such as `"9.90"` (not a float).
            price_max: The highest price, inclusive, likewise.
            use_platform: 1688 only: 1688-native fields.
            filters: 1688 only: filter values such as `"certifiedFactory"`.
            cache_ttl: With a client `cache`: how long this page is kept;
                `0` bypasses the cache (see `image_search`).

        Returns:
            The page.

        Raises:
            InputError: An argument is invalid (no request is sent).
            HiobuyError: The call failed; see `image_search` for the errors.
        """
        query = resolve_keyword_query(
            keyword,
            platform=platform,
            language=self._language_for(language),
            page_size=page_size,
            sort=sort,
            price_min=price_min,
            price_max=price_max,
            use_platform=use_platform,
            filters=filters,
        )
        ttl = check_cache_ttl(cache_ttl)
        return await self._pipeline.call(query.request(check_page(page)), cache_ttl=ttl)

    def keyword_search_pages(
        self,
        keyword: str,
        *,
        platform: Marketplace | PlatformName,
        language: str | None = None,
        page_size: int = 20,
        sort: Sort | SortName | None = None,
        price_min: Price | None = None,
        price_max: Price | None = None,
        use_platform: bool = False,
        filters: Iterable[str] | None = None,
        start: int | PagePosition = 1,
        max_pages: int | None = None,
        max_items: int | None = None,
        cache_ttl: float | timedelta | None = None,
    ) -> KeywordPager:
        """Page through a keyword search: `async for page in ...` or `.items()`.

        Arguments are checked now, before any request; each page is fetched
        only when iteration asks for it, and none past the end of the results.

        Args:
            keyword: The search words.
            platform: `"taobao"` or `"1688"`.
            language: The locale for titles.
            page_size: Products per page, 1 to 50.
            sort: The order (see `keyword_search`).
            price_min: The lowest price, inclusive.
            price_max: The highest price, inclusive.
            use_platform: 1688 only: 1688-native fields.
            filters: 1688 only: filter values.
            start: The first page, or a `PagePosition` (a previous pager's
                `resume_from`) to continue with the product after the last one
                handed out.
            max_pages: Fetch at most this many pages.
            max_items: Hand out at most this many products.
            cache_ttl: With a client `cache`: how long each page is kept;
                `0` bypasses the cache (see `image_search`).

        Returns:
            The pager; after iteration, its `stop_reason` says why it ended
            and `resume_from` where to continue.

        Raises:
            InputError: An argument is invalid.

        Example:
            ```python
            pager = client.keyword_search_pages("lamp", platform="1688", max_items=100)
            async for product in pager.items():
                print(product.num_iid, product.price)
            rest = client.keyword_search_pages("lamp", platform="1688", start=pager.resume_from)
            ```
        """
        query = resolve_keyword_query(
            keyword,
            platform=platform,
            language=self._language_for(language),
            page_size=page_size,
            sort=sort,
            price_min=price_min,
            price_max=price_max,
            use_platform=use_platform,
            filters=filters,
        )

        ttl = check_cache_ttl(cache_ttl)

        async def fetch(page: int) -> KeywordSearchPage:
            return await self._pipeline.call(query.request(page), cache_ttl=ttl)

        return KeywordPager(
            fetch, start=start, max_pages=max_pages, max_items=max_items, page_size=query.page_size
        )

    async def product_details(
        self,
        product: ProductRef,
        *,
        platform: Marketplace | PlatformName | None = None,
        language: str | None = None,
        use_platform: bool = False,
        cache_ttl: float | timedelta | None = None,
    ) -> ProductDetails:
        """Fetch a product's details: titles, prices, SKUs, shop and description.

        Args:
            product: The product: its id (an `int` or a digit string), a
                `Product` from a search, or its URL. URLs on
                `detail.1688.com`, `m.1688.com` (1688), `item.taobao.com` and
                `detail.tmall.com` (Taobao) are sent as their id; any other
                http(s) URL is sent as given.
            platform: The marketplace; inferred from a known product URL or a
                `Product`'s `detail_url` when `None`, and required otherwise.
                A platform contradicting the URL's is an `InputError`.
            language: The locale for titles; defaults to the client's.
            use_platform: 1688 only: 1688-native fields.
            cache_ttl: With a client `cache`: how long these details are
                kept; `0` bypasses the cache, e.g. for a live stock check.

        Returns:
            The details.

        Raises:
            InputError: A bad id or URL, or no platform where none can be
                inferred (no request is sent).
            APIError: The API does not know the product (`ret != 1`).
            HiobuyError: The call failed; see `image_search` for the errors.
        """
        query = resolve_details_query(
            product,
            platform=platform,
            language=self._language_for(language),
            use_platform=use_platform,
        )
        ttl = check_cache_ttl(cache_ttl)
        return await self._pipeline.call(query.request(), cache_ttl=ttl)

    async def shop_nick(
        self, shop_id: str, *, cache_ttl: float | timedelta | None = None
    ) -> ShopNick:
        """Look up a 1688 seller's Wangwang nick from its anonymised `shop_id`.

        The upstream marks this look-up as risk-controlled: it is meant for
        opening a chat with one seller, not for resolving shops in bulk, so
        the SDK offers no bulk helper for it. Call it when a user asks.

        Args:
            shop_id: `ProductDetails.shop_id` (printable ASCII, no whitespace,
                at most 128 characters); URL-encoded into the query.
            cache_ttl: With a client `cache`: how long this nick is kept;
                `0` bypasses the cache.

        Returns:
            The nick.

        Raises:
            InputError: The shop id is invalid (no request is sent).
            APIError: The API does not know the shop (`ret != 1`).
            HiobuyError: The call failed; see `image_search` for the errors.
        """
        request = shop_nick_request(shop_id)
        return await self._pipeline.call(request, cache_ttl=check_cache_ttl(cache_ttl))

    async def preview_order(
        self,
        *,
        platform: Marketplace | PlatformName,
        lines: Iterable[OrderLine],
        address: Address,
        cache_ttl: float | timedelta | None = None,
    ) -> OrderPreview:
        """Ask HioBuy what an order would cost: goods, domestic shipping, total.

        A quote with no side effect: it is retried like a search. Everything
        is checked before any request.

        Args:
            platform: `"taobao"` or `"1688"`.
            lines: The lines, at least one; `OrderLine.from_sku(details, sku)`
                builds one from a product's details. 1688 lines need a
                `spec_id` (`"0"` for a product without variants).
            address: The delivery address (personal data: never shown in an
                error or a log line).
            cache_ttl: A quote is live, so it is not cached unless asked:
                with a client `cache`, keep this quote for `cache_ttl`
                (seconds or a `timedelta`) and answer the same preview from
                it meanwhile. The key holds the address only as a hash.

        Returns:
            The fees, as exact `Decimal`s.

        Raises:
            InputError: An argument is invalid (no request is sent).
            APIError: The API refused the preview (`ret != 1`).
            HiobuyError: The call failed; see `image_search` for the errors.
        """
        request = preview_order_request(platform=platform, lines=lines, address=address)
        ttl = check_cache_ttl(cache_ttl)
        texts = personal_texts((request.json or {})["address"])
        return await self._call_hiding(request, texts, cache_ttl=ttl)

    async def create_order(
        self,
        order: Order | Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        currency: str | None = None,
        client_reference: str | None = None,
    ) -> OrderSubmission:
        """Submit a purchasing-agent order: real money, sent at most once per key.

        HioBuy documents no idempotency key and no order lookup, so the SDK
        guards the key itself: the same key after a success returns the
        stored submission without a request; after a lost answer it raises
        `OrderOutcomeUnknownError` again, without a request, until
        `resolve_order()` settles it; concurrent calls with one key share one
        request. The request is resent only when it provably never left, or
        after a `429`/`408`. Never batched, cached or merged with other calls.

        Args:
            order: An `Order`, or a mapping of the documented fields (a
                JSON file's content); scalars are sent as strings, fields the
                SDK does not know are sent as given. `address` is an `Address`
                or a mapping sent as given.
            idempotency_key: The key of this order (printable ASCII, at most
                128 characters); a fresh one per call by default. Keep it to
                repeat the call safely.
            currency: The `Currency` header for this call (three letters);
                defaults to the client's `currency`.
            client_reference: Your reference (printable ASCII), written into
                `remark` so that the order can be found in the merchant console.

        Returns:
            The submission: `data` as HioBuy sent it (undocumented), the
            request id, the key and the reference.

        Raises:
            InputError: The order is invalid (no request is sent), or the key
                was used for a different order.
            OrderOutcomeUnknownError: The order may or may not have been
                placed; see docs/orders-without-duplicates.md.
            APIError: HioBuy rejected the order (`ret != 1`); none was placed.
            HiobuyError: The call failed before the order could reach HioBuy.
        """
        key = (
            new_key() if idempotency_key is None else check_key("idempotency_key", idempotency_key)
        )
        reference = (
            None if client_reference is None else check_key("client_reference", client_reference)
        )
        chosen = self._currency if currency is None else check_currency(currency)
        body = order_body(order, client_reference=reference)
        request = create_order_request(
            body, idempotency_key=key, currency=chosen, client_reference=reference
        )
        self._lifecycle.check()

        hidden = personal_texts(body["address"])

        async def send() -> OrderSubmission:
            return await self._call_hiding(request, hidden)

        return await self._orders.submit(key, fingerprint(body, chosen), reference, send)

    async def _call_hiding(
        self, request: ApiRequest[T], texts: tuple[str, ...], *, cache_ttl: float | None = None
    ) -> T:
        """Run `request` with `texts` (an address) redacted from every error it raises."""
        with ExitStack() as stack:
            for text in texts:
                stack.enter_context(redacting(text))
            return await self._pipeline.call(request, cache_ttl=cache_ttl)

    async def resolve_order(
        self,
        idempotency_key: str,
        *,
        placed: bool,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        """Settle an order whose outcome was unknown, from what the merchant console shows.

        After `OrderOutcomeUnknownError`, find the order by its
        `client_reference` in the merchant console, then call this: with
        `placed=True`, `create_order` with that key returns a submission
        (holding `data`) without a request; with `placed=False`, the key may
        be sent again. Recorded in the `order_journal` too.

        Args:
            idempotency_key: The key from the error.
            placed: Whether the order exists.
            data: What to keep as the submission's `data` when it does.

        Raises:
            InputError: No order with this key awaits resolution.
            ClientStateError: The key's order is still in flight.
        """
        if not isinstance(placed, bool):
            raise InputError(f"placed must be True or False, got {type(placed).__name__}")
        key = check_key("idempotency_key", idempotency_key)
        await self._orders.resolve(key, placed=placed, data=data)

    def _image_fanout(
        self,
        platform: Marketplace | PlatformName | None,
        language: str | None,
        use_platform: bool,
        filters: Iterable[str] | None,
        *,
        stacklevel: int,
        cache_ttl: float | None = None,
    ) -> _batch.Fanout[ImageQuery, ImageQuery, ResolvedQuery, ImageSearchResult]:
        inputs = ImageBatch.build(
            platform,
            self._language_for(language),
            use_platform,
            filters,
            stacklevel=stacklevel + 1,
        )
        pipeline = self._pipeline

        async def search(
            query: ResolvedQuery,
            hooks: RetryHooks,
            on_retry: _batch.OnRetry,
            on_body: _batch.OnBody,
        ) -> ImageSearchResult:
            return await pipeline.call(
                query.request(),
                hooks=hooks,
                on_retry=on_retry,
                on_body=on_body,
                cache_ttl=cache_ttl,
            )

        return _batch.Fanout(
            inputs.resolve,
            inputs.unresolved,
            search,
            self._max_connections,
            "images",
            check=inputs.require_platform if inputs.template is None else None,
        )

    def _details_fanout(
        self,
        platform: Marketplace | str | None,
        language: str | None,
        use_platform: bool,
        cache_ttl: float | None = None,
    ) -> _batch.Fanout[DetailsQuery, ProductRef | DetailsQuery, DetailsQuery, ProductDetails]:
        inputs = DetailsBatch.build(platform, self._language_for(language), use_platform)
        pipeline = self._pipeline

        async def details(
            query: DetailsQuery,
            hooks: RetryHooks,
            on_retry: _batch.OnRetry,
            on_body: _batch.OnBody,
        ) -> ProductDetails:
            return await pipeline.call(
                query.request(),
                hooks=hooks,
                on_retry=on_retry,
                on_body=on_body,
                cache_ttl=cache_ttl,
            )

        return _batch.Fanout(
            inputs.resolve, inputs.unresolved, details, self._max_connections, "products"
        )

    async def search_many(
        self,
        images: Iterable[str | ImageQuery] | AsyncIterable[str | ImageQuery],
        *,
        platform: Marketplace | PlatformName | None = None,
        language: str | None = None,
        use_platform: bool = False,
        filters: Iterable[str] | None = None,
        concurrency: int = 8,
        rate_limit: float | None = None,
        on_error: Literal["collect", "raise"] = "collect",
        progress: Callable[[Progress], object] | None = None,
        retry_budget: float = 0.2,
        cache_ttl: float | timedelta | None = None,
    ) -> list[Outcome[ImageQuery, ImageSearchResult]]:
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
            cache_ttl: With a client `cache`: how long each answer is kept
                (seconds or a `timedelta`); `0` bypasses the cache for the
                batch; `None` for the cache's TTL.

        Returns:
            One `Ok` or `Failed` per input, in input order (duplicates share
            one request and get equal results).

        Raises:
            InputError: Invalid batch arguments.
            AuthenticationError: The uuid was refused (the batch stops).
            HiobuyError: With `on_error="raise"`, the first failure.
        """
        ttl = check_cache_ttl(cache_ttl)
        fanout = self._image_fanout(
            platform, language, use_platform, filters, stacklevel=3, cache_ttl=ttl
        )
        return await _batch.many(
            fanout,
            images,
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
        platform: Marketplace | PlatformName | None = None,
        language: str | None = None,
        use_platform: bool = False,
        filters: Iterable[str] | None = None,
        concurrency: int = 8,
        rate_limit: float | None = None,
        on_error: Literal["collect", "raise"] = "collect",
        progress: Callable[[Progress], object] | None = None,
        retry_budget: float = 0.2,
        cache_ttl: float | timedelta | None = None,
    ) -> AbstractAsyncContextManager[_batch.BatchStream[Outcome[ImageQuery, ImageSearchResult]]]:
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
            cache_ttl: With a client `cache`: how long each answer is kept;
                `0` bypasses the cache for the batch.

        Returns:
            An async context manager whose value is an async iterator of `Ok`
            and `Failed` outcomes, each with its input `index`. Iterating it
            without `async with` is a `TypeError`.

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
        ttl = check_cache_ttl(cache_ttl)

        def fanout() -> _batch.Fanout[ImageQuery, ImageQuery, ResolvedQuery, ImageSearchResult]:
            return self._image_fanout(
                platform, language, use_platform, filters, stacklevel=5, cache_ttl=ttl
            )

        return _batch.stream(
            fanout,
            images,
            method="search_stream",
            concurrency=concurrency,
            rate_limit=rate_limit,
            on_error=on_error,
            progress=progress,
            retry_budget=retry_budget,
        )

    async def details_many(
        self,
        products: Iterable[ProductRef | DetailsQuery] | AsyncIterable[ProductRef | DetailsQuery],
        *,
        platform: Marketplace | PlatformName | None = None,
        language: str | None = None,
        use_platform: bool = False,
        concurrency: int = 8,
        rate_limit: float | None = None,
        on_error: Literal["collect", "raise"] = "collect",
        progress: Callable[[Progress], object] | None = None,
        retry_budget: float = 0.2,
        cache_ttl: float | timedelta | None = None,
    ) -> list[Ok[DetailsQuery, ProductDetails] | Failed[DetailsQuery | ProductRef]]:
        """Fetch many products' details with bounded concurrency; results in input order.

        The same batch as `details_stream`, collected and sorted by `index`.
        Every input gets exactly one outcome; inputs naming the same product
        on the same marketplace (`123`, `"123"`, a `Product` and a URL of it)
        are fetched once and share theirs.

        Args:
            products: Ids (`int` or digit strings), product URLs, `Product`s
                from a search, or `DetailsQuery` objects: a list, any
                iterable, or an async iterable.
            platform: The marketplace for inputs that do not name their own
                (a known product URL, or a `Product` whose `detail_url` is
                one, names its own).
            language: The locale for titles.
            use_platform: 1688 only: 1688-native fields.
            concurrency: Requests in flight at once; at most `max_connections`.
            rate_limit: Requests started per second across the batch (evenly
                spaced, no bursts), or `None`.
            on_error: `"collect"`: each `HiobuyError` becomes a `Failed` and
                the rest go on; `"raise"`: the first failure stops the batch
                and is raised.
            progress: Called with a `Progress` snapshot after each input.
            retry_budget: Retries allowed across the batch, as a fraction of
                first attempts (0.2: a failing API sees at most ~1.2x load).
            cache_ttl: With a client `cache`: how long each answer is kept
                (seconds or a `timedelta`); `0` bypasses the cache for the
                batch; `None` for the cache's TTL.

        Returns:
            One `Ok` or `Failed` per input, in input order. Each `query` is
            the `DetailsQuery` sent; a `Failed` for an input that is not a
            valid id, URL or `Product` (an `InputError`, never sent) carries
            the input as given. An unknown product is a `Failed` with an
            `APIError`.

        Raises:
            InputError: Invalid batch arguments.
            AuthenticationError: The uuid was refused (the batch stops).
            HiobuyError: With `on_error="raise"`, the first failure.
        """
        fanout = self._details_fanout(platform, language, use_platform, check_cache_ttl(cache_ttl))
        return await _batch.many(
            fanout,
            products,
            concurrency=concurrency,
            rate_limit=rate_limit,
            on_error=on_error,
            progress=progress,
            retry_budget=retry_budget,
        )

    def details_stream(
        self,
        products: Iterable[ProductRef | DetailsQuery] | AsyncIterable[ProductRef | DetailsQuery],
        *,
        platform: Marketplace | PlatformName | None = None,
        language: str | None = None,
        use_platform: bool = False,
        concurrency: int = 8,
        rate_limit: float | None = None,
        on_error: Literal["collect", "raise"] = "collect",
        progress: Callable[[Progress], object] | None = None,
        retry_budget: float = 0.2,
        cache_ttl: float | timedelta | None = None,
    ) -> AbstractAsyncContextManager[
        _batch.BatchStream[Ok[DetailsQuery, ProductDetails] | Failed[DetailsQuery | ProductRef]]
    ]:
        """Fetch many products' details; yield outcomes as they complete.

        Input is read lazily, like `search_stream`'s, and a fixed set of
        `concurrency` workers pulls from it; duplicates in flight (and among
        the last finished ones) are fetched once.

        Args:
            products: Ids (`int` or digit strings), product URLs, `Product`s
                or `DetailsQuery` objects.
            platform: The marketplace for inputs that do not name their own.
            language: The locale for titles.
            use_platform: 1688 only: 1688-native fields.
            concurrency: Requests in flight at once; at most `max_connections`.
            rate_limit: Requests started per second across the batch, or `None`.
            on_error: `"collect"` or `"raise"`, as for `search_stream`.
            progress: Called with a `Progress` snapshot after each input.
            retry_budget: Retries allowed across the batch, as a fraction of
                first attempts.
            cache_ttl: With a client `cache`: how long each answer is kept;
                `0` bypasses the cache for the batch.

        Returns:
            An async context manager whose value is an async iterator of `Ok`
            and `Failed` outcomes, each with its input `index` (see
            `details_many` for their `query`).

        Raises:
            InputError: Invalid batch arguments, on entering the context.
            AuthenticationError: The uuid was refused (the batch stops).
            HiobuyError: With `on_error="raise"`, the first failure.
            Exception: An exception raised by the input iterable or the
                `progress` callback stops the batch and is raised as is.

        Example:
            ```python
            async with client.details_stream(ids, platform="1688") as stream:
                async for outcome in stream:
                    if isinstance(outcome, Ok):
                        print(outcome.index, outcome.result.title)
            ```
        """
        ttl = check_cache_ttl(cache_ttl)

        def fanout() -> _batch.Fanout[
            DetailsQuery, ProductRef | DetailsQuery, DetailsQuery, ProductDetails
        ]:
            return self._details_fanout(platform, language, use_platform, ttl)

        return _batch.stream(
            fanout,
            products,
            method="details_stream",
            concurrency=concurrency,
            rate_limit=rate_limit,
            on_error=on_error,
            progress=progress,
            retry_budget=retry_budget,
        )


def _cached_calls(
    cache: Cache | None, uuid: str, base_url: str, max_bytes: int
) -> CachedCalls | None:
    if _check_cache(cache) is None:
        return None
    assert cache is not None
    namespace = merchant_namespace(uuid, base_url)
    return CachedCalls(cache, namespace=namespace, max_bytes=max_bytes)


class _ClientView(AsyncHiobuy):
    """What `AsyncHiobuy.with_options` returns: the client's pool and state, other options.

    Made without `__init__`: its attributes are the client's, but for its
    own pipeline (retries, deadline, timeout), language and currency.
    Closing it does nothing; the client it came from owns the pool.
    """

    def __repr__(self) -> str:
        state = "closed" if self.is_closed else "open"
        return f"<AsyncHiobuy view base_url={self._base_url!r} {state}>"

    async def __aenter__(self) -> AsyncHiobuy:
        """Check the client is open (the view opens nothing of its own).

        Returns:
            The view.

        Raises:
            WrongEventLoopError: The client was first used on another event loop or thread.
            ClientClosedError: The client is closed.
        """
        self._lifecycle.check()
        return self

    async def aclose(self) -> None:
        """Do nothing: the client the view came from owns the pool (closing it closes the view)."""

    def __del__(self) -> None:
        pass
