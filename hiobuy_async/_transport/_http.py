# SPDX-License-Identifier: MIT
"""`HttpTransport`: one request API over the httpx or the aiohttp backend."""

from __future__ import annotations

import asyncio
import json as _json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import quote, urlencode

import anyio
import httpx

from .._exceptions import (
    APIConnectionError,
    APITimeoutError,
    HiobuyError,
    redact_error,
    redact_text,
)
from .._lifecycle import closed_error
from ._aiohttp import aiohttp_available, environment_proxy
from ._body import ACCEPT_ENCODING, RawResponse
from ._httpx import HttpxBackend

if TYPE_CHECKING:
    from ._aiohttp import ErrorKind

__all__ = ["TRANSPORT_KINDS", "HttpTransport", "TransportKind", "aiohttp_transport_available"]

TransportKind = Literal["httpx", "aiohttp"]
TRANSPORT_KINDS: tuple[TransportKind, ...] = ("httpx", "aiohttp")


def aiohttp_transport_available() -> bool:
    """Tell whether the optional aiohttp transport can be used (aiohttp is installed).

    Returns:
        True when `aiohttp` can be imported.
    """
    return aiohttp_available()


def _running_on_asyncio() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class _Backend(Protocol):
    kind: str

    async def send(
        self,
        method: str,
        url: str,
        content: bytes | None,
        headers: Mapping[str, str],
        *,
        max_bytes: int,
        started: float,
    ) -> RawResponse: ...

    def classify(self, exc: Exception) -> ErrorKind | None: ...

    async def aclose(self) -> None: ...


class HttpTransport:
    """Send JSON requests over one pool of keep-alive connections.

    With `kind="httpx"` the pool is httpx's own transport, split over
    clients of at most 16 connections (see `HttpxBackend`). With
    `kind="aiohttp"` under asyncio it is one `aiohttp.ClientSession`, used
    directly; under trio httpx's own is used instead. A caller-supplied
    httpx client is used as is. Every backend reads bodies in bounded memory,
    never follows redirects, and fails with SDK errors only.

    Args:
        base_url: The API's base URL, without a trailing slash.
        timeout: The per-attempt timeout.
        max_connections: The pool size (connections kept alive too).
        max_response_bytes: The cap on a decoded 2xx body.
        http_client: A caller-supplied client, used as is and never closed.
        kind: `"httpx"` (httpx's own transport, sharded) or `"aiohttp"`
            (aiohttp under asyncio, httpx's own under trio).
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
        self._secret = secret
        self._static_headers = {
            "Accept": "application/json",
            "Accept-Encoding": ACCEPT_ENCODING,
            "User-Agent": user_agent,
        }
        self._kind = kind
        self._backend: _Backend | None = None
        if http_client is not None:
            self._backend = HttpxBackend(
                timeout=timeout, max_connections=max_connections, http_client=http_client
            )
        elif kind == "aiohttp":
            # A proxy aiohttp cannot use is a configuration error: report it
            # now, at construction, not as a failure of every request.
            environment_proxy(base_url)
        self._owns_client = http_client is None
        self._closed = False
        # Requests wait here, in anyio, rather than inside the backend's pool:
        # no PoolTimeout storms, and cancelling a waiting request cannot
        # corrupt the pool (encode/httpcore#1093).
        self._slots: anyio.CapacityLimiter | None = None

    @property
    def kind_in_use(self) -> str | None:
        """The backend in use: `"httpx"`, `"aiohttp"`, `"custom"`, or None before the first use."""
        return None if self._backend is None else self._backend.kind

    @property
    def owns_open_client(self) -> bool:
        """True while this transport has created a client it has not closed yet."""
        return self._owns_client and self._backend is not None and not self._closed

    @property
    def closed(self) -> bool:
        """True once `aclose` has run."""
        return self._closed

    def open(self) -> None:
        """Create the pool now rather than on the first request.

        Raises:
            ClientClosedError: The transport is closed.
        """
        if self._closed:
            raise closed_error()
        if self._backend is None:
            self._backend = self._make_backend()

    def _make_backend(self) -> _Backend:
        # aiohttp runs on asyncio only: under trio, httpx's own transport is used.
        if self._kind == "aiohttp" and _running_on_asyncio():
            from ._aiohttp import AiohttpBackend  # noqa: PLC0415 - imports the optional extra

            return AiohttpBackend(
                base_url=self._base_url,
                timeout=self._timeout,
                max_connections=self._max_connections,
            )
        return HttpxBackend(
            timeout=self._timeout, max_connections=self._max_connections, http_client=None
        )

    async def aclose(self) -> None:
        """Close the pool if this transport created it; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._backend is not None:
            await self._backend.aclose()

    def _redact(self, text: str) -> str:
        return redact_text(text, (self._secret,))

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str],
    ) -> RawResponse:
        """Send one request and read the response in bounded memory.

        Args:
            method: The HTTP method.
            path: The endpoint path, starting with `/`.
            json: The JSON body, if any (`Content-Type` is sent only with one).
            params: The query string's parameters, URL-encoded here.
            headers: Extra request headers (credentials, `Language`).

        Returns:
            The response; its body is complete for 2xx, possibly truncated otherwise.

        Raises:
            APIConnectionError: The connection failed or was cut.
            APITimeoutError: A timeout ran out.
            ResponseValidationError: A 2xx body is too large or badly encoded.
        """
        self.open()
        backend = self._backend
        assert backend is not None
        url = self._base_url + path
        if params:
            url += "?" + urlencode(params, quote_via=quote)
        content: bytes | None = None
        request_headers = {**self._static_headers, **headers}
        if json is not None:
            content = _json.dumps(json, ensure_ascii=False, separators=(",", ":")).encode()
            request_headers["Content-Type"] = "application/json"
        if self._slots is None:
            self._slots = anyio.CapacityLimiter(self._max_connections)
        started = time.perf_counter()
        failure: HiobuyError | None = None
        try:
            async with self._slots:
                return await backend.send(
                    method,
                    url,
                    content,
                    request_headers,
                    max_bytes=self._max_response_bytes,
                    started=started,
                )
        except Exception as exc:
            # A pool closed under a request fails it in the library's own way:
            # all of them mean the same, and none is worth a retry.
            failure = (
                closed_error(during_call=True) if self._closed else self._translate(backend, exc)
            )
            if failure is None:
                raise
        # Raised outside the except block: the SDK error keeps no
        # __context__, which would hold the request and its headers.
        raise failure

    def _translate(self, backend: _Backend, exc: Exception) -> HiobuyError | None:
        """Map a failure while sending or reading to an SDK error (None: a bug, re-raise)."""
        if isinstance(exc, HiobuyError):
            # Its traceback's frames (the backend's) hold the request headers.
            return redact_error(exc, self._secret)
        kind = backend.classify(exc)
        if kind == "timeout":
            return APITimeoutError(self._describe("request timed out", exc))
        if kind == "connection":
            return APIConnectionError(self._describe("connection failed", exc))
        return None

    def _describe(self, what: str, exc: BaseException) -> str:
        detail = str(exc) or "no detail"
        # Redacted before it is cut, so no part of the secret can survive the cut.
        return self._redact(f"{what} ({type(exc).__name__}: {detail})")[:300]
