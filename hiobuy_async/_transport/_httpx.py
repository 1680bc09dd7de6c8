# SPDX-License-Identifier: MIT
"""The httpx backend: httpx's own transport (sharded pool), or the caller's client."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from typing import Literal

import anyio
import httpx

from .._exceptions import InputError
from ._body import BoundedBody, RawResponse, cap_whole_body

__all__ = ["SHARD_SIZE", "HttpxBackend", "make_timeout"]

SHARD_SIZE = 16
"""The most connections one httpx client of the SDK's pool holds."""

ErrorKind = Literal["timeout", "connection"]


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


def _in_flight(shard: _Shard) -> int:
    return shard.in_flight


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


class HttpxBackend:
    """Requests over httpx clients: the SDK's sharded pool, or one caller-supplied client.

    The pool the SDK creates is sharded: `max_connections` is split over
    httpx clients of at most `SHARD_SIZE` connections each, and each request
    goes to the least busy one. httpcore scans its whole pool for every
    request, so one pool of hundreds of kept-alive connections costs CPU that
    grows with its size (encode/httpx#3215); small shards keep every
    connection alive at a flat cost.

    Args:
        timeout: The per-attempt timeout.
        max_connections: The pool size, when the SDK creates it.
        http_client: A caller-supplied client, used as is and never closed.
    """

    def __init__(
        self, *, timeout: httpx.Timeout, max_connections: int, http_client: httpx.AsyncClient | None
    ) -> None:
        self._timeout = timeout
        self._owns_clients = http_client is None
        if http_client is not None:
            self._shards = [_Shard(http_client)]
            self.kind = "custom"
        else:
            self._shards = [
                _Shard(
                    httpx.AsyncClient(
                        timeout=timeout,
                        limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
                        follow_redirects=False,
                    )
                )
                for size in _shard_sizes(max_connections)
            ]
            self.kind = "httpx"

    def _pick_shard(self) -> _Shard:
        shards = self._shards
        if len(shards) == 1:
            return shards[0]
        return min(shards, key=_in_flight)

    async def aclose(self) -> None:
        """Close the clients this backend created (never the caller's)."""
        if self._owns_clients:
            for shard in self._shards:
                await shard.client.aclose()

    @staticmethod
    def classify(exc: Exception) -> ErrorKind | None:
        """Tell which SDK error an httpx failure becomes.

        Args:
            exc: What sending or reading raised.

        Returns:
            `"timeout"`, `"connection"`, or None for anything else (a bug).
        """
        if isinstance(exc, httpx.TimeoutException):
            return "timeout"
        if isinstance(exc, httpx.HTTPError):
            return "connection"
        return None

    async def send(
        self,
        url: str,
        content: bytes,
        headers: Mapping[str, str],
        *,
        max_bytes: int,
        started: float,
    ) -> RawResponse:
        """POST `content` and read the response in bounded memory.

        Called with a slot of the transport's limiter held, so no shard is
        given more requests than it has connections.

        Args:
            url: The full URL.
            content: The request body.
            headers: All request headers.
            max_bytes: The cap on a decoded 2xx body.
            started: When the transport took the request (`time.perf_counter()`).

        Returns:
            The response.
        """
        shard = self._pick_shard()
        client = shard.client
        request = client.build_request(
            "POST", url, content=content, headers=headers, timeout=self._timeout
        )
        request.stream = _BodyStream(content)
        shard.in_flight += 1
        try:
            response = await client.send(request, stream=True, follow_redirects=False)
            try:
                response_headers = response.headers
                request_id = response_headers.get("x-request-id")
                ok = 200 <= response.status_code < 300
                body = await _read_body(
                    response, strict=ok, max_bytes=max_bytes, request_id=request_id
                )
            finally:
                await response.aclose()
        finally:
            shard.in_flight -= 1
        return RawResponse(
            status_code=response.status_code,
            body=body,
            request_id=request_id,
            retry_after=response_headers.get("retry-after"),
            elapsed=time.perf_counter() - started,
        )


async def _read_body(
    response: httpx.Response, *, strict: bool, max_bytes: int, request_id: str | None
) -> bytes:
    if response.is_stream_consumed:
        # In-memory responses (httpx.MockTransport) arrive already read and decoded.
        return cap_whole_body(
            response.content, strict=strict, max_bytes=max_bytes, request_id=request_id
        )
    headers = response.headers
    reader = BoundedBody(
        encoding=headers.get("content-encoding"),
        content_length=headers.get("content-length"),
        strict=strict,
        max_bytes=max_bytes,
        request_id=request_id,
    )
    if reader.done:
        return reader.body()
    stream = response.stream
    if not isinstance(stream, httpx.AsyncByteStream):  # pragma: no cover - sync client
        raise TypeError("an async httpx client is required")
    # The stream's iterator is closed explicitly when reading stops early
    # (cap reached, error): left to the garbage collector, httpx's async
    # generators make trio warn (encode/httpx#3686).
    chunks = stream.__aiter__()
    try:
        async for received in chunks:
            reader.feed(received)
            if reader.done:
                break
    finally:
        await _close_iterator(chunks)
    return reader.body()
