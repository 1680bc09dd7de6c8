# SPDX-License-Identifier: MIT
"""The httpx-family backend: httpx or httpx2 (the SDK's sharded pool), or the caller's client.

httpx2 keeps httpx's API under another name (and httpcore's as httpcore2), so
one backend serves both: it is parametrised by an `HttpxLibrary` (`HTTPX`
here, `HTTPX2` in `_httpx2`). Two guards reach below httpx's public API, into
httpcore and h11 (pinned by tests/test_hostile_wire.py on both libraries,
which fails if these internals move):

- after a complete response, bytes h11 has already read past its end (a
  second response the server should not have sent) make the connection
  unusable: h11 would otherwise parse them as the answer to the next request;
- the SDK's own pools watch, per attempt, the connection written to, so a
  failed request that never wrote a byte is known not sent (see
  `HttpxBackend.delivery`); nothing is resent here: the pipeline decides.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import select
import ssl
import sys
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from types import ModuleType
from typing import Any, Literal

import anyio
import attrs
import h11
import httpcore
import httpx

from .._exceptions import Delivery, InputError, ResponseValidationError
from ._body import BoundedBody, RawResponse, cap_whole_body

__all__ = ["HTTPX", "SHARD_SIZE", "HttpxBackend", "HttpxLibrary", "make_timeout"]

_CAN_POLL = hasattr(select, "poll")

SHARD_SIZE = 16
"""The most connections one httpx client of the SDK's pool holds."""

_PARSED_URLS = 64
"""Parsed URLs a backend keeps (one per endpoint path, in practice)."""

ErrorKind = Literal["timeout", "connection"]


@attrs.frozen
class HttpxLibrary:
    """One library of the httpx family: its name and its two modules.

    Attributes:
        name: `"httpx"` or `"httpx2"`, as `AsyncHiobuy.transport` reports it.
        httpx: The client module (`httpx` or `httpx2`).
        httpcore: The connection-pool module under it (`httpcore` or `httpcore2`).
    """

    name: Literal["httpx", "httpx2"]
    httpx: ModuleType
    httpcore: ModuleType

    @functools.cached_property
    def body_stream(self) -> type:
        """The request body class: the library's `AsyncByteStream`, sent as one chunk."""
        return type("_BodyStream", (_OneShotBody, self.httpx.AsyncByteStream), {})


HTTPX = HttpxLibrary("httpx", httpx, httpcore)
"""httpx 0.28 and httpcore 1."""


def make_timeout(timeout: object) -> httpx.Timeout:
    """Normalise the `timeout` argument.

    Args:
        timeout: Seconds for every phase (connect capped at 10 s), or an
            `httpx.Timeout` or `httpx2.Timeout`.

    Returns:
        An `httpx.Timeout` (the SDK's own form; each backend converts it).

    Raises:
        InputError: The value is not a positive number or a `Timeout`.
    """
    if isinstance(timeout, httpx.Timeout):
        return timeout
    # An httpx2.Timeout can only come from a program that has imported httpx2.
    httpx2 = sys.modules.get("httpx2")
    if httpx2 is not None and isinstance(timeout, httpx2.Timeout):
        return httpx.Timeout(**timeout.as_dict())
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not 0 < timeout < float("inf")
    ):
        raise InputError(f"timeout must be a positive number of seconds, got {timeout!r}")
    return httpx.Timeout(float(timeout), connect=min(float(timeout), 10.0))


class _Shard:
    """One client of the pool, its size, and how many requests it carries now."""

    __slots__ = ("client", "in_flight", "size")

    def __init__(self, client: Any, size: int) -> None:
        self.client = client
        self.size = size
        self.in_flight = 0


def _shard_sizes(max_connections: int) -> tuple[int, int]:
    """How many shards, and the size of each (at most `SHARD_SIZE`, all equal)."""
    count = -(-max_connections // SHARD_SIZE)
    return count, -(-max_connections // count)


def _in_flight(shard: _Shard) -> int:
    return shard.in_flight


class _OneShotBody:
    """A request body sent as one chunk by a plain iterator.

    httpx's own body stream iterates with an async generator; when a send is
    cancelled midway the generator is left for the garbage collector, which
    trio reports as a ResourceWarning. A plain iterator leaves nothing behind.
    Mixed into each library's `AsyncByteStream` (`HttpxLibrary.body_stream`).
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


class _ReadableProbe:
    """Tells whether a socket has bytes (or its end) to read, without reading.

    Built once per connection: its poller holds the socket's descriptor, so
    each probe is one `poll(0)` call. The pool probes every idle connection
    at each request, so the probe's cost is multiplied by the idle ones.
    """

    __slots__ = ("_poll",)

    def __init__(self, sock: Any) -> None:
        self._poll: Any = None
        fd = sock.fileno()
        if fd >= 0:
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            self._poll = poller.poll

    def readable(self) -> bool:
        # A closed socket (no descriptor) reads as "readable": not reusable.
        return self._poll is None or bool(self._poll(0))

    def forget(self) -> None:
        """Stop probing: the socket is closed, and its descriptor may be reused."""
        self._poll = None


class _WatchedStream(httpcore.AsyncNetworkStream):
    """A connection's stream that tells the attempt using it whether it is reused.

    It also answers the pool's "is it readable?" probe (asked of every idle
    connection at each request) from the socket it looks up once: through
    anyio, each lookup builds the stream's whole attribute table.
    """

    __slots__ = ("_probe", "_stream", "_used")

    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self._stream = stream
        self._used = False
        self._probe: _ReadableProbe | None = None

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
        if self._probe is not None:
            self._probe.forget()
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
    ) -> httpcore.AsyncNetworkStream:
        return _WatchedStream(await self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable" and _CAN_POLL:
            probe = self._probe
            if probe is None:
                sock = self._stream.get_extra_info("socket")
                # A socket.socket, or asyncio's TransportSocket around one.
                if not callable(getattr(sock, "fileno", None)):
                    return self._stream.get_extra_info(info)
                probe = self._probe = _ReadableProbe(sock)
            return probe.readable()
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


def _watch_connections(client: Any) -> None:
    """Make the pools of a client the SDK created hand out `_WatchedStream`s."""
    transports = [client._transport, *client._mounts.values()]  # see the module doc
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if backend is None:  # pragma: no cover - only if httpcore changes
            continue
        pool._network_backend = _WatchedBackend(backend)  # type: ignore[union-attr]


def _http11_connection(response: Any) -> object:
    """The httpcore connection object a streamed response came on (None if not found)."""
    # httpx's BoundAsyncStream -> AsyncResponseStream -> httpcore's PoolByteStream
    # -> HTTP11ConnectionByteStream -> AsyncHTTP11Connection.
    stream: object = response.stream
    for name in ("_stream", "_httpcore_stream", "_stream", "_connection"):
        stream = getattr(stream, name, None)
    return stream


def _h11_state(response: Any) -> h11.Connection | None:
    """The h11 state of the connection a streamed response came on (None if not found)."""
    state = getattr(_http11_connection(response), "_h11_state", None)
    return state if isinstance(state, h11.Connection) else None


def _drop_if_data_follows(response: Any) -> None:
    """Keep the connection from being reused if h11 holds bytes past the response's end."""
    state = _h11_state(response)
    if state is not None and state.their_state is h11.DONE and state.trailing_data[0]:
        # Our side fails: httpcore then closes the connection instead of
        # starting a new cycle on it, where h11 would parse those bytes as
        # the response to the next request.
        state.send_failed()


def _mark_not_sent(
    exc: Exception, attempt: _Attempt, library: ModuleType, *, watched: bool
) -> None:
    """Mark `exc` when the request provably never left (see `HttpxBackend.delivery`)."""
    not_sent = isinstance(
        exc,
        library.ConnectError
        | library.ConnectTimeout
        | library.PoolTimeout
        | library.UnsupportedProtocol,
    ) or (watched and attempt.stream is None)
    if not_sent:
        with contextlib.suppress(AttributeError):
            exc._hiobuy_not_sent = True  # type: ignore[attr-defined]


async def _abandon(response: Any, chunks: AsyncIterator[bytes]) -> None:
    """Stop reading a body midway, so that every nested generator ends now.

    Closing the outer generator does not close the ones it iterates. So the
    connection's socket is closed first (it cannot be reused mid-body anyway):
    then each read fails at once, and draining the iterator ends every layer,
    after at most the bytes h11 already holds.
    """
    with anyio.CancelScope(shield=True):
        connection = _http11_connection(response)
        state = getattr(connection, "_h11_state", None)
        network = getattr(connection, "_network_stream", None)
        if isinstance(state, h11.Connection) and network is not None:
            # Failed first, so httpcore closes the connection rather than pool it.
            state.send_failed()
            await network.aclose()
            with contextlib.suppress(Exception):
                async for _ in chunks:
                    pass
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


class HttpxBackend:
    """Requests over httpx or httpx2 clients: the SDK's pool, or one caller-supplied client.

    The pool the SDK creates is sharded: `max_connections` is split over
    clients of at most `SHARD_SIZE` connections each, and each request goes
    to the least busy one. Both pools (httpcore 1 under httpx, httpcore2
    under httpx2) look at every idle connection for each request, and
    httpcore 1 also at every queued request (encode/httpx#3215), so one pool
    of hundreds of kept-alive connections costs CPU that grows with its
    size; small shards keep every connection alive at a flat cost
    (docs/performance.md).

    Args:
        library: httpx or httpx2 (`HTTPX`, `_httpx2.HTTPX2`).
        timeout: The per-attempt timeout.
        max_connections: The pool size, when the SDK creates it.
        http_client: A caller-supplied client of `library`, used as is and never closed.
        ssl_context: The TLS settings of the SDK's own clients (shared, never changed).
        default_headers: Headers every request of the SDK's own clients carries
            (`Accept`, `User-Agent`...), set on the clients once: merging them
            into each request's headers costs httpx a rebuild of its header list.
        proxy: The proxy URL of the SDK's own clients, found and checked once
            for every engine (`_proxy.environment_proxy`), or None; the
            clients do not read the environment themselves (`trust_env=False`).
    """

    def __init__(
        self,
        *,
        library: HttpxLibrary,
        timeout: httpx.Timeout,
        max_connections: int,
        http_client: Any | None,
        ssl_context: ssl.SSLContext | None,
        default_headers: Mapping[str, str] | None = None,
        proxy: str | None = None,
    ) -> None:
        self._library = library.httpx
        self._proxy = proxy
        self._timeout = timeout if library is HTTPX else library.httpx.Timeout(**timeout.as_dict())
        self._body_stream = library.body_stream
        self._owns_clients = http_client is None
        self.kind = library.name
        self._default_headers = dict(default_headers or {})
        self._urls: dict[str, Any] = {}
        self.sends_default_headers = http_client is None and default_headers is not None
        if http_client is not None:
            self._shards = [_Shard(http_client, max_connections)]
            self._shard_count = 1
            return
        self._httpx = library.httpx
        self._tls: dict[str, Any] = {} if ssl_context is None else {"verify": ssl_context}
        self._shard_count, self._shard_size = _shard_sizes(max_connections)
        # Shards are created when the ones there are all full, so opening a
        # client costs one httpx client at any max_connections.
        self._shards = [self._new_shard()]

    def _new_shard(self) -> _Shard:
        size = self._shard_size
        client = self._httpx.AsyncClient(
            timeout=self._timeout,
            limits=self._httpx.Limits(max_connections=size, max_keepalive_connections=size),
            follow_redirects=False,
            headers=self._default_headers,
            proxy=self._proxy,
            trust_env=False,
            **self._tls,
        )
        _watch_connections(client)
        return _Shard(client, size)

    @property
    def shards(self) -> int:
        """How many clients the pool is split over so far."""
        return len(self._shards)

    def _pick_shard(self) -> _Shard:
        shards = self._shards
        if len(shards) == 1 and self._shard_count == 1:
            return shards[0]
        shard = min(shards, key=_in_flight)
        if shard.in_flight >= shard.size and len(shards) < self._shard_count:
            shard = self._new_shard()
            shards.append(shard)
        return shard

    async def aclose(self) -> None:
        """Close the clients this backend created (never the caller's)."""
        if self._owns_clients:
            for shard in self._shards:
                await shard.client.aclose()

    def classify(self, exc: Exception) -> ErrorKind | None:
        """Tell which SDK error an httpx failure becomes.

        Args:
            exc: What sending or reading raised.

        Returns:
            `"timeout"`, `"connection"`, or None for anything else (a bug).
        """
        if isinstance(exc, self._library.TimeoutException):
            return "timeout"
        if isinstance(exc, self._library.HTTPError):
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
        attempt_timeout: httpx.Timeout | None = None,
    ) -> RawResponse:
        """Send a request and read the response in bounded memory.

        Called with a slot of the transport's limiter held, so no shard is
        given more requests than it has connections. Sent once: a request
        whose reused keep-alive connection fails is never resent here (the
        pipeline decides, and counts it as an attempt unless it provably
        never left, see `delivery`).

        Args:
            method: The HTTP method.
            url: The full URL, query included.
            content: The request body, or `None`.
            headers: All request headers.
            max_bytes: The cap on a decoded 2xx body.
            started: When the transport took the request (`time.perf_counter()`).
            attempt_timeout: This request's timeout, instead of the backend's.

        Returns:
            The response.
        """
        shard = self._pick_shard()
        shard.in_flight += 1
        attempt = _Attempt()
        token = _ATTEMPT.set(attempt)
        try:
            return await self._send_once(
                shard.client,
                method,
                url,
                content,
                headers,
                max_bytes=max_bytes,
                started=started,
                attempt_timeout=self._timeout
                if attempt_timeout is None
                else self._library.Timeout(**attempt_timeout.as_dict()),
            )
        except Exception as exc:
            _mark_not_sent(exc, attempt, self._library, watched=self._owns_clients)
            raise
        finally:
            _ATTEMPT.reset(token)
            shard.in_flight -= 1

    def delivery(self, exc: Exception) -> Delivery:
        """Tell whether a failed request provably never left.

        Not sent: connecting failed or timed out (DNS, refused, TLS
        handshake), no pooled connection came in time, or (on the SDK's own
        pools, which watch their connections) no byte of the request was
        written. Anything else may have reached the server.

        Args:
            exc: What `send` raised.

        Returns:
            `"not_sent"` or `"maybe_delivered"`.
        """
        return "not_sent" if getattr(exc, "_hiobuy_not_sent", False) else "maybe_delivered"

    def _parsed(self, url: str) -> Any:
        """The library's `URL` for a URL without a query, parsed once; others as given.

        httpx parses a string URL in Python, more than once per request (about
        half of `build_request`'s cost); the SDK sends a few URLs over and over.
        """
        if "?" in url:
            return url
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) >= _PARSED_URLS:
                self._urls.clear()
            parsed = self._urls[url] = self._library.URL(url)
        return parsed

    async def _send_once(
        self,
        client: Any,
        method: str,
        url: str,
        content: bytes | None,
        headers: Mapping[str, str],
        *,
        max_bytes: int,
        started: float,
        attempt_timeout: Any,
    ) -> RawResponse:
        request = client.build_request(
            method, self._parsed(url), content=content, headers=headers, timeout=attempt_timeout
        )
        if content is not None:
            request.stream = self._body_stream(content)
        response = await client.send(request, stream=True, follow_redirects=False)
        try:
            response_headers = response.headers
            request_id = response_headers.get("x-request-id")
            ok = 200 <= response.status_code < 300
            body = await _read_body(
                response,
                self._library,
                strict=ok,
                max_bytes=max_bytes,
                request_id=request_id,
            )
        finally:
            await response.aclose()
        return RawResponse(
            status_code=response.status_code,
            body=body,
            request_id=request_id,
            retry_after=response_headers.get("retry-after"),
            elapsed=time.perf_counter() - started,
            headers=tuple(response_headers.items()),
        )


async def _read_body(
    response: Any,
    library: ModuleType,
    *,
    strict: bool,
    max_bytes: int,
    request_id: str | None,
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
    if not isinstance(stream, library.AsyncByteStream):  # pragma: no cover - sync client
        raise TypeError("an async httpx client is required")
    # When reading stops early (cap reached, error) the nested async
    # generators of httpx and httpcore must still end: left to the garbage
    # collector, they make trio warn (encode/httpx#3686). See `_abandon`.
    chunks = stream.__aiter__()
    failure: ResponseValidationError | None = None
    ended = False
    try:
        async for received in chunks:
            reader.feed(received)
            if reader.done:
                break
        else:
            ended = True
            _drop_if_data_follows(response)
    except ResponseValidationError as error:
        failure = error
    finally:
        if not ended:
            await _abandon(response, chunks)
    if failure is not None:
        raise failure
    return reader.finish()
