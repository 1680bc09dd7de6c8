# SPDX-License-Identifier: MIT
"""All HTTP plumbing: building requests, sending them, reading bodies.

This is the only module that talks to httpx (the testing kit aside), so the
transport can change without touching the rest of the SDK. It turns every
httpx failure into an SDK error, never follows redirects, and reads bodies in
bounded memory: the size cap applies to the *decoded* body, and compressed
bodies are inflated chunk by chunk with a bound on the output of each step,
so a gzip bomb is refused without being inflated.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import time
import zlib
from collections.abc import AsyncIterator, Mapping
from typing import Any, Literal

import anyio
import attrs
import httpx

from ._exceptions import (
    APIConnectionError,
    APITimeoutError,
    HiobuyError,
    InputError,
    ResponseValidationError,
)

__all__ = [
    "ERROR_BODY_LIMIT",
    "TRANSPORT_KINDS",
    "HttpTransport",
    "RawResponse",
    "TransportKind",
    "aiohttp_transport_available",
    "make_timeout",
]

SHARD_SIZE = 16
"""The most connections one httpx client of the SDK's pool holds."""

ERROR_BODY_LIMIT = 64 * 1024
"""How much of a non-2xx body is read, for the error's excerpt."""

_ACCEPT_ENCODING = "gzip, deflate"

TransportKind = Literal["httpx", "aiohttp"]
TRANSPORT_KINDS: tuple[TransportKind, ...] = ("httpx", "aiohttp")


def aiohttp_transport_available() -> bool:
    """Tell whether the optional `httpx-aiohttp` transport is installed.

    Returns:
        True when `httpx_aiohttp` can be imported.
    """
    return importlib.util.find_spec("httpx_aiohttp") is not None


def _running_on_asyncio() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def make_timeout(timeout: float | httpx.Timeout) -> httpx.Timeout:
    """Normalise the `timeout` argument.

    Args:
        timeout: Seconds for every phase (connect capped at 10 s), or an
            `httpx.Timeout`.

    Returns:
        An `httpx.Timeout` with no unbounded phase.

    Raises:
        InputError: The value is not a positive number or a `Timeout`.
    """
    if isinstance(timeout, httpx.Timeout):
        return timeout
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not 0 < timeout < float("inf")
    ):
        raise InputError(f"timeout must be a positive number of seconds, got {timeout!r}")
    return httpx.Timeout(float(timeout), connect=min(float(timeout), 10.0))


@attrs.frozen
class RawResponse:
    """What the transport hands back: status, the few headers used, and the body."""

    status_code: int
    body: bytes
    request_id: str | None
    retry_after: str | None
    elapsed: float


class _BoundedDecoder:
    """Inflate gzip/deflate chunk by chunk, never producing more than the cap."""

    def __init__(self, encoding: str) -> None:
        self._raw_deflate_fallback = encoding == "deflate"
        self._decompressor = zlib.decompressobj(
            zlib.MAX_WBITS | 16 if encoding == "gzip" else zlib.MAX_WBITS
        )
        self._started = False

    def feed(self, chunk: bytes, room: int) -> bytes:
        # max_length bounds the output of this one call: at most `room` bytes
        # are ever inflated beyond what the caller already accepted.
        try:
            out = self._decompressor.decompress(chunk, room)
        except zlib.error:
            if self._raw_deflate_fallback and not self._started:
                # "deflate" is sometimes sent without the zlib wrapper.
                self._raw_deflate_fallback = False
                self._decompressor = zlib.decompressobj(-zlib.MAX_WBITS)
                return self.feed(chunk, room)
            raise
        self._started = True
        return out


class _Shard:
    """One `httpx.AsyncClient` of the pool, and how many requests it carries now."""

    __slots__ = ("client", "in_flight")

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.in_flight = 0


def _shard_sizes(max_connections: int) -> list[int]:
    count = -(-max_connections // SHARD_SIZE)
    size = -(-max_connections // count)
    return [size] * count


def _from_aiohttp(exc: BaseException) -> bool:
    return type(exc).__module__.partition(".")[0] == "aiohttp"


def _is_mislabelled_aiohttp_error(exc: httpx.TimeoutException) -> bool:
    # httpx-aiohttp maps every aiohttp.ClientConnectionError (a reset, a
    # refused connection) to httpx.ConnectTimeout; only real timeouts are
    # TimeoutError subclasses.
    cause = exc.__cause__
    return cause is not None and _from_aiohttp(cause) and not isinstance(cause, TimeoutError)


class _BodyStream(httpx.AsyncByteStream):
    """A request body sent as one chunk by a plain iterator.

    httpx's own body stream iterates with an async generator; when a send is
    cancelled midway the generator is left for the garbage collector, which
    trio reports as a ResourceWarning. A plain iterator leaves nothing behind.
    """

    def __init__(self, body: bytes) -> None:
        self._body = body

    def __aiter__(self) -> AsyncIterator[bytes]:
        return _OneChunk(self._body)


class _OneChunk:
    def __init__(self, body: bytes) -> None:
        self._body: bytes | None = body

    def __aiter__(self) -> _OneChunk:
        return self

    async def __anext__(self) -> bytes:
        if self._body is None:
            raise StopAsyncIteration
        body, self._body = self._body, None
        return body


async def _close_iterator(iterator: object) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        with anyio.CancelScope(shield=True):
            await aclose()


def _in_flight(shard: _Shard) -> int:
    return shard.in_flight


class HttpTransport:
    """Send JSON requests over one pool of keep-alive connections.

    The pool the SDK creates is sharded: `max_connections` is split over
    httpx clients of at most `SHARD_SIZE` connections each, and each request
    goes to the least busy one. httpcore scans its whole pool for every
    request, so one pool of hundreds of kept-alive connections costs CPU that
    grows with its size (encode/httpx#3215); small shards keep every
    connection alive at a flat cost. A caller-supplied client is used as is.

    Args:
        base_url: The API's base URL, without a trailing slash.
        timeout: The per-attempt timeout.
        max_connections: The pool size (connections kept alive too).
        max_response_bytes: The cap on a decoded 2xx body.
        http_client: A caller-supplied client, used as is and never closed.
        kind: `"httpx"` (httpx's own transport, sharded) or `"aiohttp"` (the
            `httpx-aiohttp` transport under asyncio, httpx's under trio).
        user_agent: The `User-Agent` header.
        secret: A value to redact from every error message (the uuid).
    """

    def __init__(
        self,
        *,
        base_url: str,
        timeout: httpx.Timeout,
        max_connections: int,
        max_response_bytes: int,
        http_client: httpx.AsyncClient | None,
        kind: TransportKind = "httpx",
        user_agent: str,
        secret: str,
    ) -> None:
        self._base_url = base_url
        self._timeout = timeout
        self._max_connections = max_connections
        self._max_response_bytes = max_response_bytes
        self._user_agent = user_agent
        self._secret = secret
        self._shards: list[_Shard] = [] if http_client is None else [_Shard(http_client)]
        self._owns_client = http_client is None
        self._kind = kind
        self.kind_in_use: str | None = None if http_client is None else "custom"
        self._closed = False
        # Requests wait here, in anyio, rather than inside httpcore's pool: no
        # PoolTimeout storms, and cancelling a waiting request cannot corrupt
        # the pool (encode/httpcore#1093).
        self._slots: anyio.CapacityLimiter | None = None

    @property
    def owns_open_client(self) -> bool:
        """True while this transport has created a client it has not closed yet."""
        return self._owns_client and bool(self._shards) and not self._closed

    @property
    def closed(self) -> bool:
        """True once `aclose` has run."""
        return self._closed

    def open(self) -> None:
        """Create the pool now rather than on the first request.

        Raises:
            RuntimeError: The transport is closed.
        """
        if self._closed:
            raise RuntimeError("this AsyncHiobuy client is closed")
        if not self._shards:
            self._shards = self._make_shards()

    def _make_shards(self) -> list[_Shard]:
        # aiohttp runs on asyncio only: under trio, httpx's own transport is used.
        if self._kind == "aiohttp" and _running_on_asyncio():
            from httpx_aiohttp import AiohttpTransport  # noqa: PLC0415 - optional extra

            # aiohttp's pool does not rescan itself per request: one pool suffices.
            limits = httpx.Limits(
                max_connections=self._max_connections,
                max_keepalive_connections=self._max_connections,
            )
            client = httpx.AsyncClient(
                transport=AiohttpTransport(limits=limits),
                timeout=self._timeout,
                follow_redirects=False,
            )
            self.kind_in_use = "aiohttp"
            return [_Shard(client)]
        self.kind_in_use = "httpx"
        return [
            _Shard(
                httpx.AsyncClient(
                    timeout=self._timeout,
                    limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
                    follow_redirects=False,
                )
            )
            for size in _shard_sizes(self._max_connections)
        ]

    def _pick_shard(self) -> _Shard:
        shards = self._shards
        if len(shards) == 1:
            return shards[0]
        return min(shards, key=_in_flight)

    async def aclose(self) -> None:
        """Close the pool if this transport created it; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._owns_client:
            for shard in self._shards:
                await shard.client.aclose()

    def _redact(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text

    async def post_json(
        self, path: str, payload: Mapping[str, Any], *, headers: Mapping[str, str]
    ) -> RawResponse:
        """POST `payload` as JSON and read the response in bounded memory.

        Args:
            path: The endpoint path, starting with `/`.
            payload: The JSON body.
            headers: Extra request headers (credentials, `Language`).

        Returns:
            The response; its body is complete for 2xx, possibly truncated otherwise.

        Raises:
            APIConnectionError: The connection failed or was cut.
            APITimeoutError: A timeout ran out.
            ResponseValidationError: A 2xx body is too large or badly encoded.
        """
        self.open()
        content = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        request_headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Accept-Encoding": _ACCEPT_ENCODING,
            "User-Agent": self._user_agent,
            **headers,
        }
        if self._slots is None:
            self._slots = anyio.CapacityLimiter(self._max_connections)
        started = time.perf_counter()
        failure: HiobuyError | None = None
        try:
            async with self._slots:
                # Picked once a slot is held, so no shard is given more
                # requests than it has connections.
                shard = self._pick_shard()
                request = shard.client.build_request(
                    "POST",
                    self._base_url + path,
                    content=content,
                    headers=request_headers,
                    timeout=self._timeout,
                )
                request.stream = _BodyStream(content)
                shard.in_flight += 1
                try:
                    response = await shard.client.send(request, stream=True, follow_redirects=False)
                    try:
                        request_id = response.headers.get("x-request-id")
                        ok = 200 <= response.status_code < 300
                        body = await self._read_body(response, strict=ok, request_id=request_id)
                    finally:
                        await response.aclose()
                finally:
                    shard.in_flight -= 1
        except Exception as exc:
            failure = self._translate(exc)
            if failure is None:
                raise
        if failure is not None:
            # Raised outside the except block: the SDK error keeps no
            # __context__, which would hold the request and its headers.
            raise failure
        return RawResponse(
            status_code=response.status_code,
            body=body,
            request_id=request_id,
            retry_after=response.headers.get("retry-after"),
            elapsed=time.perf_counter() - started,
        )

    def _translate(self, exc: Exception) -> HiobuyError | None:
        """Map a failure while sending or reading to an SDK error (None: a bug, re-raise)."""
        if isinstance(exc, HiobuyError):
            exc.__context__ = None
            return exc
        if isinstance(exc, httpx.TimeoutException) and not _is_mislabelled_aiohttp_error(exc):
            return APITimeoutError(self._describe("request timed out", exc))
        if isinstance(exc, httpx.HTTPError):
            return APIConnectionError(self._describe("connection failed", exc))
        # httpx-aiohttp lets some aiohttp and OS errors through unmapped.
        if isinstance(exc, TimeoutError):
            return APITimeoutError(self._describe("request timed out", exc))
        if isinstance(exc, OSError) or _from_aiohttp(exc):
            return APIConnectionError(self._describe("connection failed", exc))
        return None

    def _describe(self, what: str, exc: BaseException) -> str:
        detail = str(exc) or "no detail"
        return self._redact(f"{what} ({type(exc).__name__}: {detail})"[:300])

    async def _read_body(
        self, response: httpx.Response, *, strict: bool, request_id: str | None
    ) -> bytes:
        limit = self._max_response_bytes if strict else ERROR_BODY_LIMIT

        def too_large() -> HiobuyError:
            return ResponseValidationError(
                f"response body exceeds the {limit} byte limit (max_response_bytes)",
                request_id=request_id,
            )

        if response.is_stream_consumed:
            # In-memory responses (httpx.MockTransport) arrive already read and decoded.
            body = response.content
            if len(body) > limit:
                if not strict:
                    return body[:limit]
                raise too_large()
            return body

        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        decoder: _BoundedDecoder | None = None
        if encoding in ("gzip", "x-gzip", "deflate"):
            decoder = _BoundedDecoder("deflate" if encoding == "deflate" else "gzip")
        elif encoding not in ("", "identity"):
            if not strict:
                return b""
            raise ResponseValidationError(
                f"response uses an unsupported content-encoding {encoding[:40]!r}",
                request_id=request_id,
            )
        declared = response.headers.get("content-length", "")
        if strict and decoder is None and declared.isdigit() and int(declared) > limit:
            raise too_large()

        parts: list[bytes] = []
        size = 0
        stream = response.stream
        if not isinstance(stream, httpx.AsyncByteStream):  # pragma: no cover - sync client
            raise TypeError("an async httpx client is required")
        # The stream's iterator is closed explicitly when reading stops early
        # (cap reached, error): left to the garbage collector, httpx's async
        # generators make trio warn (encode/httpx#3686).
        chunks = stream.__aiter__()
        try:
            async for received in chunks:
                chunk = received
                if decoder is not None:
                    try:
                        chunk = decoder.feed(received, limit - size + 1)
                    except zlib.error:
                        if not strict:
                            break
                        raise ResponseValidationError(
                            "response body is not valid compressed data", request_id=request_id
                        ) from None
                size += len(chunk)
                if size > limit:
                    if not strict:
                        parts.append(chunk[: len(chunk) - (size - limit)])
                        break
                    raise too_large()
                parts.append(chunk)
        finally:
            await _close_iterator(chunks)
        return b"".join(parts)
