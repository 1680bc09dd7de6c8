# SPDX-License-Identifier: MIT
"""The aiohttp backend: one `aiohttp.ClientSession`, asyncio only, no httpx in between.

aiohttp is an optional extra, so it is imported only when this backend is
built, never at module import. The session reads raw bytes
(`auto_decompress=False`): bodies go through the same bounded reader and
decoder as on httpx, and redirects are never followed.

Its connector refuses to reuse a pooled connection on which bytes arrived
while it was idle (a response no request asked for, which aiohttp would hand
to the next request). Nothing is resent here: a failed request is reported
with what is known of its delivery (see `AiohttpBackend.delivery`).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import importlib.util
import ssl
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, cast

import httpx

from .._exceptions import Delivery
from ._body import BoundedBody, RawResponse

if TYPE_CHECKING:
    import aiohttp

__all__ = ["AiohttpBackend", "aiohttp_available", "client_timeout"]

ErrorKind = Literal["timeout", "connection"]

KEEPALIVE_SECONDS = 5.0
"""How long an idle connection is kept (httpx's default keep-alive expiry)."""


def aiohttp_available() -> bool:
    """Tell whether aiohttp is installed, without importing it.

    Returns:
        True when `aiohttp` can be imported.
    """
    return importlib.util.find_spec("aiohttp") is not None


def client_timeout(timeout: httpx.Timeout) -> aiohttp.ClientTimeout:
    """Map the client's `httpx.Timeout` to aiohttp's phases.

    `connect` bounds opening the socket (TLS included); aiohttp's `connect`
    (waiting for a pooled connection, then opening one) gets `pool + connect`;
    `read` bounds each wait for response bytes. aiohttp has no write phase: its
    read timer starts once the request is written, and a request of a few
    hundred bytes fits the socket buffer. There is no total: like httpx, a
    body that keeps arriving is not cut off.

    Args:
        timeout: The per-attempt timeout.

    Returns:
        The aiohttp timeout.
    """
    import aiohttp  # noqa: PLC0415 - optional extra

    connect = timeout.connect
    pool = timeout.pool
    return aiohttp.ClientTimeout(
        total=None,
        connect=None if connect is None or pool is None else connect + pool,
        sock_connect=connect,
        sock_read=timeout.read,
    )


class _Attempt:
    """One attempt's connection: whether it was reused, and its byte count when taken."""

    __slots__ = ("protocol", "received", "reused")

    def __init__(self) -> None:
        self.protocol: Any = None
        self.reused = False
        self.received = 0


_ATTEMPT: contextvars.ContextVar[_Attempt | None] = contextvars.ContextVar(
    "hiobuy_aiohttp_attempt", default=None
)
"""The attempt in progress in this task (aiohttp takes connections in the caller's task)."""


@functools.cache
def _connector_class() -> type[aiohttp.TCPConnector]:
    import aiohttp  # noqa: PLC0415 - optional extra
    from aiohttp.client_proto import ResponseHandler  # noqa: PLC0415 - optional extra

    class _Handler(ResponseHandler):
        """aiohttp's protocol, counting the bytes received and the requests carried."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.hiobuy_received = 0
            self.hiobuy_requests = 0

        def data_received(self, data: bytes) -> None:
            self.hiobuy_received += len(data)
            super().data_received(data)

    class _Connector(aiohttp.TCPConnector):
        """A `TCPConnector` that never hands out a connection holding unasked-for bytes."""

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._factory = cast(
                "functools.partial[ResponseHandler]", functools.partial(_Handler, loop=self._loop)
            )

        async def connect(
            self,
            req: aiohttp.ClientRequest,
            traces: list[Any],
            timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109 - aiohttp's signature
        ) -> aiohttp.connector.Connection:
            # Each refused connection is closed, so this ends with a new one.
            for _ in range(self.limit + 1):
                connection = await super().connect(req, traces, timeout)
                protocol = connection.protocol
                # `should_close` turns true when bytes arrived on an idle
                # connection (aiohttp queues them as the next response).
                if protocol is None or not protocol.should_close:
                    break
                connection.close()
            attempt = _ATTEMPT.get()
            if attempt is not None and isinstance(protocol, _Handler):
                attempt.protocol = protocol
                attempt.reused = protocol.hiobuy_requests > 0
                attempt.received = protocol.hiobuy_received
                protocol.hiobuy_requests += 1
            return connection

    return _Connector


def _mark_not_sent(exc: Exception, attempt: _Attempt) -> None:
    """Mark `exc` when the request provably never left (see `AiohttpBackend.delivery`)."""
    import aiohttp  # noqa: PLC0415 - optional extra

    # ConnectionTimeoutError (aiohttp >= 3.10): connecting, or waiting for a
    # pooled connection, timed out.
    connect_timeout: Any = getattr(aiohttp, "ConnectionTimeoutError", ())
    if attempt.protocol is None or isinstance(exc, aiohttp.ClientConnectorError | connect_timeout):
        with contextlib.suppress(AttributeError):
            exc._hiobuy_not_sent = True  # type: ignore[attr-defined]


class AiohttpBackend:
    """Requests over one `aiohttp.ClientSession`; build it inside a running asyncio loop.

    Its connector holds `max_connections` keep-alive connections, shared by
    every host (the SDK talks to one). Cookies are not kept.

    Args:
        proxy: The proxy URL, found and checked once for every engine
            (`_proxy.environment_proxy`), or None. aiohttp's own `trust_env`
            is off: it would read the environment (and `~/.netrc`) on every request.
        timeout: The per-attempt timeout.
        max_connections: The pool size.
        ssl_context: The TLS settings (the process's shared context, see `_tls`).
    """

    kind: Literal["aiohttp"] = "aiohttp"
    sends_default_headers = False

    def __init__(
        self,
        *,
        proxy: str | None,
        timeout: httpx.Timeout,
        max_connections: int,
        ssl_context: ssl.SSLContext,
    ) -> None:
        import aiohttp  # noqa: PLC0415 - optional extra

        self._proxy = proxy
        connector = _connector_class()(
            limit=max_connections,
            limit_per_host=0,
            keepalive_timeout=KEEPALIVE_SECONDS,
            ssl=ssl_context,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=client_timeout(timeout),
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            raise_for_status=False,
            trust_env=False,
        )
        # aiohttp silently resends an idempotent request (GET: shop nick) once
        # on any connection failure, fresh connection or not: an attempt the
        # retry policy never sees. The pipeline decides what is sent again.
        self._session._retry_connection = False
        self._connection_errors: tuple[type[BaseException], ...] = (aiohttp.ClientError, OSError)

    async def aclose(self) -> None:
        """Close the session and its connections."""
        await self._session.close()

    def __del__(self) -> None:
        # A leaked client (the SDK's own ResourceWarning says so) or one left on
        # a closed loop: drop the session quietly, as aiohttp's own finaliser
        # would, but without its "Unclosed client session" report of internals.
        session = getattr(self, "_session", None)
        if session is not None and not session.closed:
            connector = session.connector
            if connector is not None:
                connector._close()  # closes the sockets; no await, no loop callback
            session._connector = None

    def classify(self, exc: Exception) -> ErrorKind | None:
        """Tell which SDK error an aiohttp or asyncio failure becomes.

        Args:
            exc: What sending or reading raised.

        Returns:
            `"timeout"` for timeouts (aiohttp's `ServerTimeoutError` family
            included), `"connection"` for other aiohttp and OS errors, or None
            for anything else (a bug).
        """
        # Checked first: TimeoutError is an OSError, and aiohttp's timeouts
        # are ClientErrors.
        if isinstance(exc, asyncio.TimeoutError | TimeoutError):
            return "timeout"
        if isinstance(exc, self._connection_errors):
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

        Sent once: a request whose reused keep-alive connection fails is
        never resent here (the pipeline decides, see `delivery`).

        Args:
            method: The HTTP method.
            url: The full URL, query included.
            content: The request body, or `None`.
            headers: All request headers.
            max_bytes: The cap on a decoded 2xx body.
            started: When the transport took the request (`time.perf_counter()`).
            attempt_timeout: This request's timeout, instead of the session's.

        Returns:
            The response.
        """
        attempt = _Attempt()
        token = _ATTEMPT.set(attempt)
        try:
            return await self._send_once(
                method,
                url,
                content,
                headers,
                max_bytes=max_bytes,
                started=started,
                attempt_timeout=attempt_timeout,
            )
        except Exception as exc:
            _mark_not_sent(exc, attempt)
            raise
        finally:
            _ATTEMPT.reset(token)

    def delivery(self, exc: Exception) -> Delivery:
        """Tell whether a failed request provably never left.

        Not sent: connecting failed (DNS, refused, TLS handshake, proxy),
        connecting or waiting for a pooled connection timed out, or no
        connection was handed to the request. Anything else may have reached
        the server.

        Args:
            exc: What `send` raised.

        Returns:
            `"not_sent"` or `"maybe_delivered"`.
        """
        return "not_sent" if getattr(exc, "_hiobuy_not_sent", False) else "maybe_delivered"

    async def _send_once(
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
        extra: dict[str, Any] = (
            {} if attempt_timeout is None else {"timeout": client_timeout(attempt_timeout)}
        )
        response = await self._session.request(
            method,
            url,
            data=content,
            headers=headers,
            allow_redirects=False,
            proxy=self._proxy,
            **extra,
        )
        try:
            status = response.status
            response_headers = response.headers
            request_id = response_headers.get("x-request-id")
            reader = BoundedBody(
                encoding=response_headers.get("content-encoding"),
                content_length=response_headers.get("content-length"),
                strict=200 <= status < 300,
                max_bytes=max_bytes,
                request_id=request_id,
            )
            stream = response.content
            while not reader.done:
                chunk = await stream.readany()
                if not chunk:
                    break
                reader.feed(chunk)
            body = reader.finish()
        except BaseException:
            # Cancelled or failed midway: the connection cannot be reused.
            response.close()
            raise
        if reader.done:
            # Stopped before the end of the body (error excerpt cut short).
            response.close()
        else:
            response.release()
        return RawResponse(
            status_code=status,
            body=body,
            request_id=request_id,
            retry_after=response_headers.get("retry-after"),
            elapsed=time.perf_counter() - started,
            headers=tuple(response_headers.items()),
        )
