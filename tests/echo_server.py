"""A raw-socket HTTP/1.1 server on 127.0.0.1 that answers with exactly the bytes a test gives."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio
import anyio.abc
from helpers import serve_tcp

Reply = Callable[[bytes], Awaitable[bytes | None]]
"""Given one request (head and body), return the response bytes, or None to close unanswered.

A reply may also never return (`anyio.sleep_forever()`) to stall the connection.
"""


def http_response(
    status: int,
    body: bytes = b"",
    *,
    reason: str = "Whatever",
    headers: dict[str, str] | None = None,
) -> bytes:
    """Build one complete HTTP/1.1 response with a `Content-Length`.

    Args:
        status: The status code.
        body: The body.
        reason: The reason phrase.
        headers: Extra headers.

    Returns:
        The response bytes.
    """
    lines = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_request(stream: anyio.abc.ByteStream, buffer: bytearray) -> bytes | None:
    while b"\r\n\r\n" not in buffer:
        try:
            buffer += await stream.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            return None
    head, _, _ = bytes(buffer).partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    total = len(head) + 4 + length
    while len(buffer) < total:
        try:
            buffer += await stream.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            return None
    request = bytes(buffer[:total])
    del buffer[:total]
    return request


@asynccontextmanager
async def echo_server(reply: Reply) -> AsyncIterator[tuple[str, list[bytes]]]:
    """Serve `reply` on 127.0.0.1 (keep-alive: many requests per connection).

    Args:
        reply: Makes the answer to each request.

    Yields:
        The base URL, and the list of requests received so far.
    """
    requests: list[bytes] = []

    async def handle(stream: anyio.abc.SocketStream) -> None:
        buffer = bytearray()
        async with stream:
            while True:
                request = await _read_request(stream, buffer)
                if request is None:
                    return
                requests.append(request)
                answer = await reply(request)
                if answer is None:
                    return
                try:
                    await stream.send(answer)
                except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                    return

    async with serve_tcp(handle) as port:
        yield f"http://127.0.0.1:{port}", requests
