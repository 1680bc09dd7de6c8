# SPDX-License-Identifier: MIT
"""`FakeTransport`: an httpx or httpx2 transport answering from a `FakeHiobuy` in process."""

from __future__ import annotations

import functools
import sys
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any, Protocol

import anyio
import httpx

from ._wire import FakeRequest, FakeResponse

__all__ = ["FakeTransport", "SupportsHandle"]


class SupportsHandle(Protocol):
    """Anything that answers a `FakeRequest`, such as a `FakeHiobuy`."""

    async def handle(self, request: FakeRequest) -> FakeResponse:
        """Answer one request."""


def _library_of(request: object) -> ModuleType:
    """Httpx or httpx2, whichever made `request` (httpx2 is then imported already)."""
    httpx2 = sys.modules.get("httpx2")
    if httpx2 is not None and isinstance(request, httpx2.Request):
        return httpx2
    return httpx


class _BrokenBody:
    """A response body that may break part-way, like a reset connection."""

    def __init__(self, body: bytes, cut_at: int | None, request: Any, library: ModuleType) -> None:
        self._body = body
        self._cut_at = cut_at
        self._request = request
        self._library = library

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._cut_at is None:
            if self._body:
                yield self._body
            return
        if self._cut_at:
            yield self._body[: self._cut_at]
        raise self._library.ReadError(
            "connection reset by the fake (Fault.reset)", request=self._request
        )


@functools.cache
def _body_stream(library: ModuleType) -> type[_BrokenBody]:
    return type("_BodyStream", (_BrokenBody, library.AsyncByteStream), {})


class FakeTransport(httpx.AsyncBaseTransport):
    """Answer httpx or httpx2 requests from a `FakeHiobuy`, without sockets.

    Pass it to `httpx.AsyncClient(transport=...)` or
    `httpx2.AsyncClient(transport=...)`: it answers each request with that
    library's response. Bodies are streamed, so clients read them as they
    would from the network. The request's read timeout bounds the wait for an
    answer (latency and stalls included), raising the library's `ReadTimeout`
    as a real server would.

    Args:
        fake: The fake to answer from (anything with `FakeHiobuy.handle`).
    """

    def __init__(self, fake: SupportsHandle) -> None:
        self._fake = fake

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer one request.

        Args:
            request: The request (an `httpx.Request` or an `httpx2.Request`).

        Returns:
            The response of the request's library, its body streamed.

        Raises:
            httpx.ReadTimeout: The answer took longer than the read timeout
                (`httpx2.ReadTimeout` for an httpx2 request).
        """
        library = _library_of(request)
        body = await request.aread()
        fake_request = FakeRequest(
            method=request.method,
            target=request.url.raw_path.decode("ascii"),
            headers=tuple(
                (name.decode("latin-1"), value.decode("latin-1"))
                for name, value in request.headers.raw
            ),
            body=body,
        )
        timeouts = request.extensions.get("timeout", {})
        read_timeout = timeouts.get("read") if isinstance(timeouts, dict) else None
        try:
            with anyio.fail_after(read_timeout):
                response = await self._fake.handle(fake_request)
        except TimeoutError:
            raise library.ReadTimeout("the fake did not answer in time", request=request) from None
        if response.drop:
            raise library.RemoteProtocolError(
                "Server disconnected without sending a response (Fault.refuse)", request=request
            )
        headers = [*response.headers, ("content-length", str(len(response.body)))]
        answer: httpx.Response = library.Response(
            response.status,
            headers=headers,
            stream=_body_stream(library)(response.body, response.cut_at, request, library),
            request=request,
        )
        return answer
