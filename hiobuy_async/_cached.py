# SPDX-License-Identifier: MIT
"""The client's side of a response cache: which calls, the key, hits, single-flight, storing.

The pipeline hands a cacheable call here before its send gate, so a hit
sends nothing and takes no quota slot (the client's, a batch's or a shared
one). What is cached: the four reads, and `preview_order` only when the call
asks with `cache_ttl=`; `create_order` never. What is stored: the envelope's
validated `data` of a success (2xx, `ret == 1`, parsed without error),
re-encoded as JSON; a hit is parsed again by the endpoint's own parser, so it
is the same type as a fresh result, with `from_cache=True` and `cached_at`
(on the result and in its `meta`).

Concurrent identical calls on one client make one request (single-flight):
the others wait for it and get its result, or its error; nothing is stored
on an error. A cache that fails (raises, is down, holds a damaged entry) is a
miss: the call goes on uncached, with one warning per outage.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

import anyio
import attrs

from ._convert import decode_json, decode_json_exact
from ._exceptions import HiobuyError, ResponseValidationError
from ._meta import ResponseMeta, with_meta
from ._request import ApiRequest
from .cache import Cache, CacheEntry
from .cache._key import cache_key
from .cache._record import Outage, ttl_seconds

__all__ = ["CACHED_READS", "OPT_IN", "CachedCalls", "check_cache_ttl"]

logger = logging.getLogger("hiobuy_async")

T = TypeVar("T")

CACHED_READS = frozenset({"image_search", "keyword_search", "product_details", "shop_nick"})
"""Endpoints cached by default when the client has a cache."""

OPT_IN = frozenset({"preview_order"})
"""Endpoints cached only when the call passes a `cache_ttl` (a live quote)."""


def check_cache_ttl(cache_ttl: object) -> float | None:
    """Check a call's `cache_ttl`: `None`, or seconds / a `timedelta` (`0` bypasses the cache).

    Args:
        cache_ttl: What the caller passed.

    Returns:
        `None` or the TTL in seconds.

    Raises:
        InputError: If it is not `None`, a number of seconds >= 0 or a `timedelta`.
    """
    if cache_ttl is None:
        return None
    return ttl_seconds("cache_ttl", cache_ttl, allow_zero=True)  # type: ignore[arg-type]


def _exact(value: object) -> float:
    # An exact Decimal (preview_order's fees) is written as the float with the
    # same text, and read back as a Decimal; any other is not stored.
    if isinstance(value, Decimal):
        as_float = float(value)
        if Decimal(repr(as_float)) == value:
            return as_float
    raise TypeError(f"{type(value).__name__} is not stored in a cache")


def encode_data(data: object, request_id: str | None) -> bytes | None:
    """JSON bytes of an envelope's `data` and its request id, or `None` when not stored exactly.

    Args:
        data: The envelope's `data`, as the parser received it.
        request_id: The response's request id (redacted), kept so a hit equals the fresh result.

    Returns:
        The bytes, or `None`.
    """
    try:
        text = json.dumps(
            {"request_id": request_id, "data": data},
            ensure_ascii=False,
            separators=(",", ":"),
            allow_nan=False,
            default=_exact,
        )
    except (TypeError, ValueError):
        return None
    return text.encode()


def decode_data(data: bytes, *, exact_numbers: bool) -> tuple[Mapping[str, Any], str | None] | None:
    """Read stored `data` and request id back, or `None` when they are not what was stored.

    Args:
        data: The stored bytes.
        exact_numbers: Read numbers with a fraction as `Decimal`.

    Returns:
        The envelope's `data` and the request id, or `None`.
    """
    try:
        # The pipeline's own decoder (orjson when installed), so a hit reads as a fresh answer.
        value = decode_json_exact(data) if exact_numbers else decode_json(data)
    except (ValueError, UnicodeDecodeError, RecursionError, ResponseValidationError):
        return None
    if not isinstance(value, dict) or set(value) != {"request_id", "data"}:
        return None
    stored, request_id = value["data"], value["request_id"]
    if not isinstance(stored, dict) or not isinstance(request_id, str | None):
        return None
    return stored, request_id


class _Flight(Generic[T]):
    """One request in flight for a key, and what its waiters get."""

    __slots__ = ("done", "error", "result", "settled")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.settled = False
        self.result: T | None = None
        self.error: HiobuyError | None = None


class CachedCalls:
    """A client's use of its cache: lookups before the gate, single-flight, stores after success.

    Args:
        cache: The cache (any `Cache`).
        namespace: The merchant's namespace (a keyed hash of base URL and uuid).
        max_bytes: The largest `data` stored (the client's `max_response_bytes`).
    """

    def __init__(self, cache: Cache, *, namespace: str, max_bytes: int) -> None:
        self.cache = cache
        self._namespace = namespace
        self._max_bytes = max_bytes
        self._flights: dict[str, _Flight[Any]] = {}
        self._outage = Outage(f"cache {type(cache).__name__}", 0.0)

    def ttl_for(
        self, request: ApiRequest[Any], cache_ttl: float | None, default: float | None = None
    ) -> float | None:
        """The TTL to cache this call with, or `None` when it is not cached.

        Args:
            request: The call.
            cache_ttl: The call's `cache_ttl` (checked), or `None`.
            default: A client view's `cache_ttl` (checked), standing in for
                the cache's TTL on the cached reads, or `None`.

        Returns:
            Seconds, or `None`.
        """
        if request.endpoint in CACHED_READS:
            if cache_ttl is None:
                cache_ttl = self.cache.ttl if default is None else default
            ttl = cache_ttl
        elif request.endpoint in OPT_IN and cache_ttl is not None:
            ttl = cache_ttl
        else:
            return None
        return ttl if ttl > 0 else None

    def key(self, request: ApiRequest[Any]) -> str:
        """The cache key of a call (no secret in it).

        Args:
            request: The call.

        Returns:
            The key.
        """
        return cache_key(
            namespace=self._namespace,
            endpoint=request.endpoint,
            method=request.method,
            path=request.path,
            json_body=request.json,
            params=request.params,
            language=request.language,
            currency=request.currency,
        )

    async def _safely(self, action: Callable[[], Awaitable[T]]) -> T | None:
        try:
            result = await action()
        except Exception as error:  # noqa: BLE001 - a cache never fails a call
            self._outage.failed(error)
            return None
        self._outage.succeeded()
        return result

    async def lookup(self, request: ApiRequest[T], key: str, engine: str | None = None) -> T | None:
        """A hit rebuilt through the endpoint's parser, or `None` (a damaged entry is dropped).

        Args:
            request: The call.
            key: Its key.
            engine: The client's HTTP engine, for the hit's `meta`.

        Returns:
            The result, marked `from_cache` (its `meta` too), or `None`.
        """
        started = time.perf_counter()
        entry: CacheEntry | None = await self._safely(lambda: self.cache.get(key))
        if entry is None:
            return None
        stored = decode_data(entry.data, exact_numbers=request.exact_numbers)
        result: T | None = None
        if stored is not None:
            try:
                result = _mark(
                    await request.parse(*stored), entry.cached_at, stored[1], engine, started
                )
            except HiobuyError:  # the parser refuses it (ResponseValidationError): damaged
                result = None
        if result is None:
            await self._safely(lambda: self.cache.delete(key))
            return None
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s: cache hit", request.endpoint, extra={"hiobuy_endpoint": request.endpoint}
            )
        return result

    async def call(
        self,
        request: ApiRequest[T],
        ttl: float,
        send: Callable[[ApiRequest[T]], Awaitable[T]],
        engine: str | None = None,
    ) -> T:
        """Serve `request` from the cache, from an identical call in flight, or by `send`.

        Args:
            request: The call.
            ttl: Seconds a success is stored for.
            send: Sends a request through the gate (the uncached pipeline).
            engine: The client's HTTP engine, for a hit's `meta`.

        Returns:
            The result.

        Raises:
            HiobuyError: What `send` raised (to this caller, or to the one
                whose request this call waited for).
        """
        key = self.key(request)
        while True:
            hit = await self.lookup(request, key, engine)
            if hit is not None:
                return hit
            flight: _Flight[T] | None = self._flights.get(key)
            if flight is None:
                break
            await flight.done.wait()
            if flight.settled:
                if flight.error is not None:
                    raise _shared(flight.error)
                assert flight.result is not None
                return flight.result
            # The call it waited for was cancelled: look again, or send.
        flight = self._flights[key] = _Flight()
        kept: list[bytes | None] = []
        parse = request.parse

        async def keeping(data: Mapping[str, Any], request_id: str | None) -> T:
            encoded = encode_data(data, request_id)  # before the parser could touch it
            result = await parse(data, request_id)
            kept.append(encoded)
            return result

        try:
            result = await send(attrs.evolve(request, parse=keeping))
            data = kept[-1] if kept else None
            if data is not None and len(data) <= self._max_bytes:
                # Stored before the flight ends: a call arriving next finds it.
                await self._safely(lambda: self.cache.set(key, data, ttl=ttl))
        except HiobuyError as error:
            flight.error = error
            flight.settled = True
            raise
        else:
            flight.result = result
            flight.settled = True
        finally:
            del self._flights[key]
            flight.done.set()
        return result


def _shared(error: HiobuyError) -> HiobuyError:
    """A copy of the error a waiter raises (its own traceback), or the error itself."""
    try:
        return copy.copy(error)
    except Exception:  # noqa: BLE001 - an error class whose copy fails is raised as is
        return error


def _mark(
    result: T, cached_at: float, request_id: str | None, engine: str | None, started: float
) -> T | None:
    """`result` marked a hit (`from_cache`, `cached_at`, `meta`); `None` for a time not a date."""
    kind: Any = type(result)
    fields = attrs.fields_dict(kind) if attrs.has(kind) else {}
    if "from_cache" not in fields or "cached_at" not in fields:
        return result
    try:
        when = datetime.fromtimestamp(cached_at, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
    marked: T = attrs.evolve(result, from_cache=True, cached_at=when)  # type: ignore[misc]
    meta = ResponseMeta(
        status_code=200,  # only 2xx answers are stored, and 200 is the API's
        request_id=request_id,
        attempts=0,
        elapsed=time.perf_counter() - started,
        engine=engine,
        from_cache=True,
        cached_at=when,
    )
    return with_meta(marked, meta)
