# SPDX-License-Identifier: MIT
"""A small HTTP/1.1 keep-alive server (h11 over anyio sockets) around a request handler.

It runs on asyncio and trio alike. Each accepted connection gets one task
that reads requests with h11, awaits the handler, and writes the answer; a
`FakeResponse.cut_at` sends the headers and part of the body, then closes
the connection, like a server that dies mid-answer.
"""

from __future__ import annotations

import http
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial

import anyio
import h11
from anyio.abc import SocketAttribute, SocketStream

from ._wire import FakeRequest, FakeResponse, Handler

__all__ = ["MAX_REQUEST_BODY", "serve"]

MAX_REQUEST_BODY = 1024 * 1024
"""Larger request bodies are answered with HTTP 413."""

_DISCONNECTED = (anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream)


class _TooLarge(Exception):
    pass


async def _next_event(
    conn: h11.Connection, stream: SocketStream
) -> h11.Event | type[h11.NEED_DATA] | type[h11.PAUSED]:
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event
        try:
            data = await stream.receive(65536)
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            data = b""
        conn.receive_data(data)


async def _read_request(conn: h11.Connection, stream: SocketStream) -> FakeRequest | None:
    """Read one request, or return None when the client closed the connection."""
    event = await _next_event(conn, stream)
    if isinstance(event, h11.ConnectionClosed):
        return None
    if not isinstance(event, h11.Request):
        raise h11.RemoteProtocolError(f"expected a request, got {type(event).__name__}")
    parts: list[bytes] = []
    size = 0
    while True:
        body_event = await _next_event(conn, stream)
        if isinstance(body_event, h11.EndOfMessage):
            break
        if not isinstance(body_event, h11.Data):
            raise h11.RemoteProtocolError("connection closed in the middle of a request")
        size += len(body_event.data)
        if size > MAX_REQUEST_BODY:
            raise _TooLarge
        parts.append(bytes(body_event.data))
    return FakeRequest(
        method=event.method.decode("ascii"),
        target=event.target.decode("ascii"),
        headers=tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers),
        body=b"".join(parts),
    )


def _encode(conn: h11.Connection, response: FakeResponse, *, close: bool = False) -> bytes:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    headers.append((b"content-length", str(len(response.body)).encode()))
    if close:
        headers.append((b"connection", b"close"))
    try:
        reason = http.HTTPStatus(response.status).phrase.encode()
    except ValueError:
        reason = b""
    head = conn.send(h11.Response(status_code=response.status, headers=headers, reason=reason))
    if response.cut_at is not None:
        return (head or b"") + (conn.send(h11.Data(data=response.body[: response.cut_at])) or b"")
    body = conn.send(h11.Data(data=response.body)) if response.body else b""
    return (head or b"") + (body or b"") + (conn.send(h11.EndOfMessage()) or b"")


def _error_response(status: int, msg: str) -> FakeResponse:
    body = f'{{"ret":0,"msg":"{msg}"}}'.encode()
    return FakeResponse(status, (("content-type", "application/json"),), body)


async def _serve_connection(
    handle: Handler, on_connection: Callable[[], None], stream: SocketStream
) -> None:
    on_connection()
    conn = h11.Connection(h11.SERVER)
    async with stream:
        try:
            while True:
                request = await _read_request(conn, stream)
                if request is None:
                    return
                response = await handle(request)
                if response.drop:
                    return  # closed without a byte of answer
                await stream.send(_encode(conn, response))
                if response.cut_at is not None or conn.our_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
        except _DISCONNECTED:
            return
        except (h11.RemoteProtocolError, _TooLarge) as exc:
            if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                status, msg = (
                    (413, "body too large") if isinstance(exc, _TooLarge) else (400, "bad request")
                )
                try:
                    await stream.send(_encode(conn, _error_response(status, msg), close=True))
                except (*_DISCONNECTED, h11.LocalProtocolError):
                    return


def _base_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@asynccontextmanager
async def serve(
    handle: Handler, host: str, port: int, *, on_connection: Callable[[], None]
) -> AsyncIterator[str]:
    """Serve `handle` over HTTP/1.1 on `host:port` while the context is open.

    Args:
        handle: Answers one request.
        host: The address to listen on.
        port: The port, or 0 for an ephemeral one.
        on_connection: Called for each accepted connection.

    Yields:
        The base URL, e.g. `"http://127.0.0.1:54321"`.
    """
    listener = await anyio.create_tcp_listener(local_host=host, local_port=port)
    body_error: Exception | None = None
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, partial(_serve_connection, handle, on_connection), tg)
        try:
            yield _base_url(host, listener.extra(SocketAttribute.local_port))  # noqa: S610
        except Exception as exc:  # noqa: BLE001 - re-raised below, outside the task group
            # Raised inside the task group, the caller's error would come out
            # wrapped in an ExceptionGroup on trio.
            body_error = exc
        finally:
            tg.cancel_scope.cancel()
    if body_error is not None:
        raise body_error
