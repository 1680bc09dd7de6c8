# SPDX-License-Identifier: MIT
"""`FakeTransport`: an httpx transport that hands requests to a `FakeHiobuy` in process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

import anyio
import httpx

from ._wire import FakeRequest, FakeResponse

__all__ = ["FakeTransport", "SupportsHandle"]


class SupportsHandle(Protocol):
    """Anything that answers a `FakeRequest`, such as a `FakeHiobuy`."""

    async def handle(self, request: FakeRequest) -> FakeResponse:
        """Answer one request."""


class _BodyStream(httpx.AsyncByteStream):
    """A response body that may break part-way, like a reset connection."""

    def __init__(self, body: bytes, cut_at: int | None, request: httpx.Request) -> None:
        self._body = body
        self._cut_at = cut_at
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._cut_at is None:
            if self._body:
                yield self._body
            return
        if self._cut_at:
            yield self._body[: self._cut_at]
        raise httpx.ReadError("connection reset by the fake (Fault.reset)", request=self._request)


class FakeTransport(httpx.AsyncBaseTransport):
    """Answer httpx requests from a `FakeHiobuy`, without sockets.

    Bodies are streamed, so clients read them as they would from the network.
    The request's read timeout bounds the wait for an answer (latency and
    stalls included), raising `httpx.ReadTimeout` as a real server would.

    Args:
        fake: The fake to answer from (anything with `FakeHiobuy.handle`).
    """

    def __init__(self, fake: SupportsHandle) -> None:
        self._fake = fake

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer one request.

        Args:
            request: The request.

        Returns:
            The response, its body streamed.

        Raises:
            httpx.ReadTimeout: The answer took longer than the read timeout.
        """
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
            raise httpx.ReadTimeout("the fake did not answer in time", request=request) from None
        headers = [*response.headers, ("content-length", str(len(response.body)))]
        return httpx.Response(
            response.status,
            headers=headers,
            stream=_BodyStream(response.body, response.cut_at, request),
            request=request,
        )
