# SPDX-License-Identifier: MIT
"""The httpx backend: httpx's own transport (sharded pool), or the caller's client.

Two guards reach below httpx's public API, into httpcore and h11 (pinned by
tests/test_hostile_wire.py, which fails if these internals move):

- after a complete response, bytes h11 has already read past its end (a
  second response the server should not have sent) make the connection
  unusable: h11 would otherwise parse them as the answer to the next request;
- the SDK's own pools count, per attempt, what is read from the socket, so a
  request that finds its reused keep-alive connection closed, before any byte
  of response, is sent once more at once (see `HttpxBackend.send`).
"""

from __future__ import annotations

import contextvars
import ssl
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any, Literal

import anyio
import h11
import httpcore
import httpx

from .._exceptions import InputError, ResponseValidationError
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


class _Attempt:
    """What one attempt saw of its connection: reused or new, and bytes read."""

    __slots__ = ("received", "reused", "stream")

    def __init__(self) -> None:
        self.stream: _WatchedStream | None = None
        self.reused = False
        self.received = 0


_ATTEMPT: contextvars.ContextVar[_Attempt | None] = contextvars.ContextVar(
    "hiobuy_attempt", default=None
)
"""The attempt in progress in this task (httpcore does its I/O in the caller's task)."""


class _WatchedStream(httpcore.AsyncNetworkStream):
    """A connection's stream that tells the attempt using it whether it is reused."""

    __slots__ = ("_stream", "_used")

    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self._stream = stream
        self._used = False

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        data = await self._stream.read(max_bytes, timeout)
        attempt = _ATTEMPT.get()
        if attempt is not None:
            attempt.received += len(data)
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        attempt = _ATTEMPT.get()
        if attempt is not None and attempt.stream is not self:
            attempt.stream = self
            attempt.reused = self._used
            self._used = True
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
    ) -> httpcore.AsyncNetworkStream:
        return _WatchedStream(await self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _WatchedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, handing out `_WatchedStream`s."""

    def __init__(self, backend: httpcore.AsyncNetworkBackend) -> None:
        self._backend = backend

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._backend.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )
        return _WatchedStream(stream)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:  # pragma: no cover - the SDK connects over TCP
        stream = await self._backend.connect_unix_socket(
            path, timeout=timeout, socket_options=socket_options
        )
        return _WatchedStream(stream)

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


def _watch_connections(client: httpx.AsyncClient) -> None:
    """Make the pools of a client the SDK created hand out `_WatchedStream`s."""
    transports = [client._transport, *client._mounts.values()]  # see the module doc
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if backend is None:  # pragma: no cover - only if httpcore changes
            continue
        pool._network_backend = _WatchedBackend(backend)  # type: ignore[union-attr]


def _h11_state(response: httpx.Response) -> h11.Connection | None:
    """The h11 state of the connection a streamed response came on (None if not found)."""
    # httpx's BoundAsyncStream -> AsyncResponseStream -> httpcore's PoolByteStream
    # -> HTTP11ConnectionByteStream -> AsyncHTTP11Connection.
    stream: object = response.stream
    for name in ("_stream", "_httpcore_stream", "_stream", "_connection", "_h11_state"):
        stream = getattr(stream, name, None)
    return stream if isinstance(stream, h11.Connection) else None


def _drop_if_data_follows(response: httpx.Response) -> None:
    """Keep the connection from being reused if h11 holds bytes past the response's end."""
    state = _h11_state(response)
    if state is not None and state.their_state is h11.DONE and state.trailing_data[0]:
        # Our side fails: httpcore then closes the connection instead of
        # starting a new cycle on it, where h11 would parse those bytes as
        # the response to the next request.
        state.send_failed()


def _resendable(exc: Exception, attempt: _Attempt) -> bool:
    """A reused connection failed before any byte of response: a stale keep-alive."""
    return (
        attempt.reused
        and attempt.received == 0
        and isinstance(exc, httpx.TransportError)
        and not isinstance(exc, httpx.TimeoutException)
    )


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
            for shard in self._shards:
                _watch_connections(shard.client)
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
        method: str,
        url: str,
        content: bytes | None,
        headers: Mapping[str, str],
        *,
        max_bytes: int,
        started: float,
    ) -> RawResponse:
        """Send a request and read the response in bounded memory.

        Called with a slot of the transport's limiter held, so no shard is
        given more requests than it has connections. A request whose reused
        keep-alive connection fails before any byte of response arrives (the
        server closed it as the request went out: it never reached the
        application) is sent once more at once, on the connection the pool
        gives next (a new one when that was its only idle connection); that
        second send is never repeated. Only the SDK's own pools can tell
        this (not a caller's client).

        Args:
            method: The HTTP method.
            url: The full URL, query included.
            content: The request body, or `None`.
            headers: All request headers.
            max_bytes: The cap on a decoded 2xx body.
            started: When the transport took the request (`time.perf_counter()`).

        Returns:
            The response.
        """
        shard = self._pick_shard()
        shard.in_flight += 1
        attempt = _Attempt()
        token = _ATTEMPT.set(attempt)
        try:
            try:
                return await self._send_once(
                    shard.client,
                    method,
                    url,
                    content,
                    headers,
                    max_bytes=max_bytes,
                    started=started,
                )
            except Exception as exc:
                if not _resendable(exc, attempt):
                    raise
            # Outside the except block, so a failure of the second send does
            # not carry the first one as its context.
            _ATTEMPT.set(_Attempt())  # so its connection counts this request
            return await self._send_once(
                shard.client, method, url, content, headers, max_bytes=max_bytes, started=started
            )
        finally:
            _ATTEMPT.reset(token)
            shard.in_flight -= 1

    async def _send_once(
        self,
        client: httpx.AsyncClient,
        method: str,
        url: str,
        content: bytes | None,
        headers: Mapping[str, str],
        *,
        max_bytes: int,
        started: float,
    ) -> RawResponse:
        request = client.build_request(
            method, url, content=content, headers=headers, timeout=self._timeout
        )
        if content is not None:
            request.stream = _BodyStream(content)
        response = await client.send(request, stream=True, follow_redirects=False)
        try:
            response_headers = response.headers
            request_id = response_headers.get("x-request-id")
            ok = 200 <= response.status_code < 300
            body = await _read_body(response, strict=ok, max_bytes=max_bytes, request_id=request_id)
        finally:
            await response.aclose()
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
        return reader.finish()
    stream = response.stream
    if not isinstance(stream, httpx.AsyncByteStream):  # pragma: no cover - sync client
        raise TypeError("an async httpx client is required")
    # The stream's iterator is closed explicitly when reading stops early
    # (cap reached, error): left to the garbage collector, httpx's async
    # generators make trio warn (encode/httpx#3686).
    chunks = stream.__aiter__()
    failure: ResponseValidationError | None = None
    try:
        async for received in chunks:
            if failure is not None:
                # One more read, in case the refused chunk was the last: then
                # httpx's nested generators end by themselves instead of being
                # left to the garbage collector (which trio reports).
                break
            try:
                reader.feed(received)
            except ResponseValidationError as error:
                failure = error
                continue
            if reader.done:
                break
        else:
            if failure is None:
                _drop_if_data_follows(response)
    finally:
        await _close_iterator(chunks)
    if failure is not None:
        raise failure
    return reader.finish()
