# SPDX-License-Identifier: MIT
"""`HttpTransport`: one request API over the httpx or the aiohttp backend."""

from __future__ import annotations

import asyncio
import json as _json
import logging
import ssl
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import quote, urlencode

import anyio
import httpx

from .._exceptions import (
    APIConnectionError,
    APITimeoutError,
    CertificateError,
    Delivery,
    HiobuyError,
    redact_error,
    redact_text,
)
from .._lifecycle import closed_error
from ._aiohttp import aiohttp_available
from ._body import ACCEPT_ENCODING, RawResponse
from ._httpx import HTTPX, HttpxBackend, HttpxLibrary
from ._proxy import EnvironmentProxy, environment_proxy
from ._tls import certificate_failure, shared_ssl_context

if TYPE_CHECKING:
    from ._aiohttp import ErrorKind

__all__ = [
    "TRANSPORT_KINDS",
    "HttpTransport",
    "TransportKind",
    "aiohttp_transport_available",
    "choose_engine",
]

TransportKind = Literal["httpx", "httpx2", "aiohttp"]
TRANSPORT_KINDS: tuple[TransportKind, ...] = ("httpx", "httpx2", "aiohttp")

logger = logging.getLogger("hiobuy_async")

# Built once: json.dumps() with any option builds a new encoder per call.
_JSON_BODY = _json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


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


def choose_engine(asked: TransportKind | None, *, on_asyncio: bool) -> TransportKind:
    """The engine a client uses, for what was asked and the running event loop.

    | event loop | asked `None` | asked `"aiohttp"` | asked `"httpx"` / `"httpx2"` |
    |---|---|---|---|
    | asyncio | aiohttp if installed, else httpx2 | aiohttp | as asked |
    | trio | httpx2 | httpx2 | as asked |

    Args:
        asked: The `transport` argument (or `HIOBUY_TRANSPORT`), None for the best.
        on_asyncio: Whether the running loop is asyncio's.

    Returns:
        The engine.
    """
    if asked is None:
        return "aiohttp" if on_asyncio and aiohttp_available() else "httpx2"
    if asked == "aiohttp" and not on_asyncio:
        return "httpx2"
    return asked


def _library(kind: TransportKind) -> HttpxLibrary:
    if kind == "httpx2":
        from ._httpx2 import HTTPX2  # noqa: PLC0415 - imported only when used

        return HTTPX2
    return HTTPX


def _library_of(http_client: object) -> HttpxLibrary:
    """Httpx or httpx2, by the class of a caller's client."""
    if isinstance(http_client, httpx.AsyncClient):
        return HTTPX
    return _library("httpx2")


class _Churn:
    """Notices a process that opens many short-lived clients in a row (once per process).

    A client lives for the process or the app (see docs/web-apps.md); one per
    request pays the pool's set-up every time and loses keep-alive.
    """

    SHORT_SECONDS = 1.0
    IN_A_ROW = 20
    clock = staticmethod(time.monotonic)
    short_in_a_row = 0
    warned = False

    @classmethod
    def closed(cls, opened_at: float) -> None:
        if cls.clock() - opened_at >= cls.SHORT_SECONDS:
            cls.short_in_a_row = 0
            return
        cls.short_in_a_row += 1
        if cls.short_in_a_row >= cls.IN_A_ROW and not cls.warned:
            cls.warned = True
            logger.warning(
                "%d AsyncHiobuy clients in a row were opened and closed within %.0f s each: "
                "create one client per process (e.g. in a FastAPI lifespan) and share it; "
                "see the 'Web apps' page of the hiobuy-async docs (docs/web-apps.md)",
                cls.short_in_a_row,
                cls.SHORT_SECONDS,
            )


class _Backend(Protocol):
    @property
    def kind(self) -> TransportKind: ...

    @property
    def sends_default_headers(self) -> bool:
        """True when its clients add the transport's static headers themselves."""

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
    ) -> RawResponse: ...

    def classify(self, exc: Exception) -> ErrorKind | None: ...

    def delivery(self, exc: Exception) -> Delivery: ...

    async def aclose(self) -> None: ...


class HttpTransport:
    """Send JSON requests over one pool of keep-alive connections.

    The engine is chosen when the pool is created, inside the running event
    loop (`choose_engine`): httpx2 or httpx (the pool split over clients of
    at most 16 connections, see `HttpxBackend`) or,
    under asyncio, one `aiohttp.ClientSession`, used directly. A
    caller-supplied httpx or httpx2 client is used as is. Every backend reads
    bodies in bounded memory, never follows redirects, verifies certificates
    with one SSL context shared by the whole process, and fails with SDK errors only.

    Args:
        base_url: The API's base URL, without a trailing slash.
        timeout: The per-attempt timeout.
        max_connections: The pool size (connections kept alive too).
        max_response_bytes: The cap on a decoded 2xx body.
        http_client: A caller-supplied `httpx.AsyncClient` or
            `httpx2.AsyncClient`, used as is and never closed.
        kind: The engine asked for, or None for the best one installed.
        user_agent: The `User-Agent` header.
        secret: A value to redact from every error message (the uuid).
        ssl_context: The trust store and TLS settings, instead of the default
            (certifi, or `SSL_CERT_FILE` / `SSL_CERT_DIR`).
        allow_insecure_http: The client's `allow_insecure_http`: a plain-http
            base URL goes through an environment proxy only with it (see `_proxy`).

    Raises:
        InputError: The environment's proxy variable is malformed, or names a
            proxy the engine asked for cannot use.
    """

    def __init__(
        self,
        *,
        base_url: str,
        timeout: httpx.Timeout,
        max_connections: int,
        max_response_bytes: int,
        http_client: Any | None,
        kind: TransportKind | None = None,
        user_agent: str,
        secret: str,
        ssl_context: ssl.SSLContext | None = None,
        allow_insecure_http: bool = False,
    ) -> None:
        self._base_url = base_url
        self._timeout = timeout
        self._max_connections = max_connections
        self._max_response_bytes = max_response_bytes
        self._secret = secret
        self._ssl_context = ssl_context
        self._static_headers = {
            "Accept": "application/json",
            "Accept-Encoding": ACCEPT_ENCODING,
            "User-Agent": user_agent,
        }
        self._kind = kind
        self._backend: _Backend | None = None
        # Read once, here: a malformed variable fails the construction, and
        # the proxy's credentials are redacted like the uuid from then on.
        self._proxy: EnvironmentProxy | None = None
        if http_client is None:
            self._proxy = environment_proxy(base_url, allow_insecure_http=allow_insecure_http)
        self.proxy_secrets: tuple[str, ...] = self._proxy.secrets if self._proxy else ()
        """The proxy's credentials: every error text is redacted of them, as of the uuid."""
        self._secrets = (secret, *self.proxy_secrets)
        if http_client is not None:
            self._backend = HttpxBackend(
                library=_library_of(http_client),
                timeout=timeout,
                max_connections=max_connections,
                http_client=http_client,
                ssl_context=None,
            )
        elif kind is not None and self._proxy is not None:
            # A proxy the engine cannot use is a configuration error: report
            # it now, at construction, not as a failure of every request.
            self._proxy.check_engine(kind)
        self._owns_client = http_client is None
        self._closed = False
        self._opened_at = 0.0
        # Requests wait here, in anyio, rather than inside the backend's pool:
        # no PoolTimeout storms, and cancelling a waiting request cannot
        # corrupt the pool (encode/httpcore#1093).
        self._slots: anyio.CapacityLimiter | None = None

    @property
    def base_url(self) -> str:
        """The API's base URL (no credentials: the constructor refuses them)."""
        return self._base_url

    @property
    def kind_in_use(self) -> TransportKind | None:
        """The engine in use: `"httpx"`, `"httpx2"`, `"aiohttp"`, or None before the first use."""
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
            self._opened_at = _Churn.clock()

    def _make_backend(self) -> _Backend:
        kind = choose_engine(self._kind, on_asyncio=_running_on_asyncio())
        ssl_context = shared_ssl_context(self._base_url, self._ssl_context)
        proxy = self._proxy
        if proxy is not None:
            proxy.check_engine(kind)
        if kind == "aiohttp":
            from ._aiohttp import AiohttpBackend  # noqa: PLC0415 - imports the optional extra

            return AiohttpBackend(
                proxy=None if proxy is None else proxy.url,
                timeout=self._timeout,
                max_connections=self._max_connections,
                ssl_context=ssl_context,
            )
        return HttpxBackend(
            library=_library(kind),
            timeout=self._timeout,
            max_connections=self._max_connections,
            http_client=None,
            ssl_context=ssl_context,
            default_headers=self._static_headers,
            proxy=None if proxy is None else proxy.url,
        )

    async def aclose(self) -> None:
        """Close the pool if this transport created it; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._backend is not None:
            if self._owns_client:
                _Churn.closed(self._opened_at)
            await self._backend.aclose()

    def _redact(self, text: str) -> str:
        return redact_text(text, self._secrets)

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str],
        attempt_timeout: httpx.Timeout | None = None,
    ) -> RawResponse:
        """Send one request and read the response in bounded memory.

        Args:
            method: The HTTP method.
            path: The endpoint path, starting with `/`.
            json: The JSON body, if any (`Content-Type` is sent only with one).
            params: The query string's parameters, URL-encoded here.
            headers: Extra request headers (credentials, `Language`).
            attempt_timeout: This request's timeout, instead of the transport's
                (a client view's `with_options(timeout=...)`).

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
        if backend.sends_default_headers:
            request_headers = dict(headers)
        else:
            request_headers = {**self._static_headers, **headers}
        if json is not None:
            content = _JSON_BODY.encode(json).encode()
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
                    attempt_timeout=attempt_timeout,
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
            for secret in self._secrets:
                redact_error(exc, secret)
            return exc
        kind = backend.classify(exc)
        if kind == "connection":
            failure = certificate_failure(exc)
            if failure is not None:
                return CertificateError(
                    self._describe(
                        "TLS certificate verification failed: the server's certificate is not "
                        "trusted or not for this host (pass ssl_context= for a private CA)",
                        failure,
                    ),
                    delivery="not_sent",
                )
        if kind == "timeout":
            return APITimeoutError(
                self._describe("request timed out", exc), delivery=backend.delivery(exc)
            )
        if kind == "connection":
            return APIConnectionError(
                self._describe("connection failed", exc), delivery=backend.delivery(exc)
            )
        return None

    def _describe(self, what: str, exc: BaseException) -> str:
        detail = str(exc) or "no detail"
        # Redacted before it is cut, so no part of the secret can survive the cut.
        return self._redact(f"{what} ({type(exc).__name__}: {detail})")[:300]
