"""Servers that misbehave on the wire, over real loopback sockets (issue #13, points 1, 13, 14).

Each test runs a small raw-socket server that sends exactly the misbehaviour,
on asyncio and trio, through the SDK's httpx transport and its aiohttp one
(asyncio only: under trio the SDK falls back to httpx). The `upstream` tests
pin the raw library behaviour the SDK works around, without the SDK: if one
starts failing, the library fixed it and the workaround can be revisited.
"""

from __future__ import annotations

import functools
import gzip
import json
import socket
import struct
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

import anyio
import anyio.abc
import attrs
import helpers
import httpx
import httpx2
import pytest
from helpers import ENGINES, serve_tcp

from hiobuy_async import APIConnectionError, AsyncHiobuy, ResponseValidationError

pytestmark = pytest.mark.anyio

IMAGE = "https://cbu01.alicdn.com/img/ibank/wire.jpg"
STRAY = 99


def search_body(num_iid: int) -> bytes:
    """A valid search answer whose only item tells which response it is."""
    item = {
        "num_iid": num_iid,
        "title": "t",
        "price": "1.00",
        "pic_url": "https://img.test/p.jpg",
        "detail_url": "https://item.test/p",
    }
    data = {"api_type": "taobao", "items": {"item": [item], "total_results": 1}}
    return json.dumps({"ret": 1, "msg": "success", "data": data}).encode()


def http_response(body: bytes, *, headers: tuple[str, ...] = ()) -> bytes:
    head = ["HTTP/1.1 200 OK", "Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join([*head, *headers]) + "\r\n\r\n").encode() + body


@attrs.define
class Conn:
    """One accepted connection, with a buffered request reader."""

    stream: anyio.abc.SocketStream
    index: int
    buffer: bytes = b""

    async def read_request(self) -> bool:
        """Read one whole request; False if the client closed the connection first."""
        while b"\r\n\r\n" not in self.buffer:
            try:
                self.buffer += await self.stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                return False
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            rest += await self.stream.receive()
        self.buffer = rest[length:]
        return True

    def reset_on_close(self) -> None:
        """Make closing send a TCP RST rather than a FIN."""
        sock = self.stream.extra(anyio.abc.SocketAttribute.raw_socket)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


@attrs.define
class Server:
    """What the raw server saw."""

    base_url: str = ""
    connections: int = 0
    requests: int = 0


Handler = Callable[[Conn, Server], Awaitable[None]]


@asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[Server]:
    """Serve `handler` on 127.0.0.1 (one call per accepted connection)."""
    server = Server()

    async def serve(stream: anyio.abc.SocketStream) -> None:
        server.connections += 1
        async with stream:
            with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                await handler(Conn(stream, server.connections), server)

    async with serve_tcp(serve) as port:
        server.base_url = f"http://127.0.0.1:{port}"
        yield server


make_client = functools.partial(helpers.make_client, timeout=2.0, max_connections=1, max_retries=0)


async def found(client: AsyncHiobuy) -> int:
    result = await client.image_search(IMAGE, platform="1688")
    return result.items[0].num_iid


async def let_the_client_loop_read() -> None:
    # Not a timing assertion: gives the client's event loop the time to take
    # in bytes the server has already sent, as an idle pool would.
    await anyio.sleep(0.05)


# --- point 1: a second, unasked-for response -------------------------------------------------


def two_responses(*, same_segment: bool, sent: anyio.Event) -> Handler:
    """Answer every request; the first one on the first connection twice."""

    async def handle(conn: Conn, server: Server) -> None:
        while await conn.read_request():
            server.requests += 1
            answer = http_response(search_body(server.requests))
            if conn.index == 1 and server.requests == 1:
                stray = http_response(search_body(STRAY))
                if same_segment:
                    await conn.stream.send(answer + stray)
                else:
                    await conn.stream.send(answer)
                    await anyio.sleep(0.02)
                    await conn.stream.send(stray)
                sent.set()
            else:
                await conn.stream.send(answer)

    return handle


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("same_segment", [True, False], ids=["same-segment", "while-idle"])
async def test_point01_stray_response_never_answers_a_later_request(
    engine: str, same_segment: bool
) -> None:
    sent = anyio.Event()
    async with (
        raw_server(two_responses(same_segment=same_segment, sent=sent)) as server,
        make_client(server.base_url, engine) as client,
    ):
        assert await found(client) == 1
        await sent.wait()
        await let_the_client_loop_read()
        assert await found(client) == 2
        assert await found(client) == 3
        # The connection that carried the stray response was not reused.
        assert server.connections == 2


@pytest.mark.parametrize("library", [httpx, httpx2], ids=["httpx", "httpx2"])
async def test_point01_upstream_httpx_hands_a_buffered_response_to_the_next_request(
    library: Any,
) -> None:
    sent = anyio.Event()
    async with (
        raw_server(two_responses(same_segment=True, sent=sent)) as server,
        library.AsyncClient(base_url=server.base_url) as raw,
    ):
        first = await raw.post("/", content=b"{}")
        second = await raw.post("/", content=b"{}")
    assert first.json()["data"]["items"]["item"][0]["num_iid"] == 1
    # Upstream behaviour (h11 keeps the bytes, httpcore reuses the connection):
    # the second request gets the response the server sent to the first.
    assert second.json()["data"]["items"]["item"][0]["num_iid"] == STRAY


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # aiohttp runs on asyncio only
async def test_point01_upstream_aiohttp_hands_an_idle_stray_response_to_the_next_request(
    anyio_backend: str,
) -> None:
    aiohttp = pytest.importorskip("aiohttp")
    sent = anyio.Event()
    async with (
        raw_server(two_responses(same_segment=False, sent=sent)) as server,
        aiohttp.ClientSession(base_url=server.base_url) as raw,
    ):
        async with raw.post("/", data=b"{}") as first:
            first_id = (await first.json())["data"]["items"]["item"][0]["num_iid"]
        await sent.wait()
        await let_the_client_loop_read()
        async with raw.post("/", data=b"{}") as second:
            second_id = (await second.json())["data"]["items"]["item"][0]["num_iid"]
    assert first_id == 1
    # Upstream behaviour: the pool hands out the connection with the bytes
    # that arrived while it was idle, queued as the next response.
    assert second_id == STRAY


# --- point 13: a compressed body that ends before its stream does -----------------------------


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data)


def _zlib(data: bytes) -> bytes:
    return zlib.compress(data)


CUT_BODIES = {
    # gzip without its 8-byte CRC32 + ISIZE trailer
    "gzip-no-trailer": ("gzip", lambda body: _gzip(body)[:-8]),
    # zlib without its 4-byte Adler-32
    "deflate-no-adler32": ("deflate", lambda body: _zlib(body)[:-4]),
    # a stream cut midway
    "gzip-cut-midway": ("gzip", lambda body: _gzip(body)[: len(_gzip(body)) // 2]),
    "deflate-cut-midway": ("deflate", lambda body: _zlib(body)[: len(_zlib(body)) // 2]),
}


def compressed(encoding: str, make: Callable[[bytes], bytes]) -> Handler:
    async def handle(conn: Conn, server: Server) -> None:
        while await conn.read_request():
            server.requests += 1
            body = search_body(server.requests)
            if server.requests == 1:
                wire = make(body)
                answer = http_response(wire, headers=(f"Content-Encoding: {encoding}",))
            else:
                answer = http_response(_gzip(body), headers=("Content-Encoding: gzip",))
            await conn.stream.send(answer)

    return handle


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", list(CUT_BODIES))
async def test_point13_compressed_body_must_end_with_its_stream(engine: str, case: str) -> None:
    encoding, make = CUT_BODIES[case]
    async with (
        raw_server(compressed(encoding, make)) as server,
        make_client(server.base_url, engine) as client,
    ):
        with pytest.raises(APIConnectionError, match="compressed stream ended before its end"):
            await found(client)
        # A complete gzip body is read whole, and its connection reused.
        assert await found(client) == 2
        assert await found(client) == 3


@pytest.mark.parametrize("engine", ENGINES)
async def test_point13_corrupt_checksum_is_still_invalid_data(
    engine: str, anyio_backend: str
) -> None:
    def bad_crc(body: bytes) -> bytes:
        wire = bytearray(_gzip(body))
        wire[-8] ^= 0xFF
        return bytes(wire)

    async with (
        raw_server(compressed("gzip", bad_crc)) as server,
        make_client(server.base_url, engine) as client,
    ):
        with pytest.raises(ResponseValidationError, match="not valid compressed data"):
            await found(client)


# --- point 14: a reused keep-alive connection the server closes as the request arrives ---------


def stale_after_first(*, reset: bool, partial: bytes = b"", every_fresh: bool = False) -> Handler:
    """Answer each connection's first request, then close it on the next one, unanswered.

    With `every_fresh`, the first request of every connection is dropped instead.
    """

    async def handle(conn: Conn, server: Server) -> None:
        answered = 0
        while await conn.read_request():
            server.requests += 1
            drop = answered == 0 if every_fresh else (conn.index == 1 and answered == 1)
            if drop:
                if partial:
                    await conn.stream.send(partial)
                if reset:
                    conn.reset_on_close()
                return
            await conn.stream.send(http_response(search_body(server.requests)))
            answered += 1

    return handle


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
async def test_point14_stale_keepalive_resend_is_a_counted_retry(engine: str, reset: bool) -> None:
    # Issue #17: request 2 reached the server on the reused connection, which
    # it closed unanswered: it may have been acted on, so sending it again is
    # a retry like any other, never a free resend inside the backend.
    async with (
        raw_server(stale_after_first(reset=reset)) as server,
        make_client(server.base_url, engine, max_retries=0) as client,
    ):
        assert await found(client) == 1
        with pytest.raises(APIConnectionError) as info:
            await found(client)
        assert info.value.delivery == "maybe_delivered"
        assert server.requests == 2
        client._pipeline.retry_policy = attrs.evolve(
            client._pipeline.retry_policy, max_retries=1, initial_backoff=0.001
        )
        assert await found(client) == 3  # on a new connection
    assert server.connections == 2
    assert server.requests == 3


@pytest.mark.parametrize("engine", ENGINES)
async def test_point14_a_fresh_connection_is_never_resent(engine: str) -> None:
    async with (
        raw_server(stale_after_first(reset=False, every_fresh=True)) as server,
        make_client(server.base_url, engine, max_retries=0) as client,
    ):
        with pytest.raises(APIConnectionError):
            await found(client)
    assert server.connections == 1
    assert server.requests == 1


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
async def test_point14_never_resent_after_a_response_byte(engine: str, reset: bool) -> None:
    handler = stale_after_first(reset=reset, partial=b"HTTP/1.1 200 OK\r\nContent-")
    async with (
        raw_server(handler) as server,
        make_client(server.base_url, engine, max_retries=0) as client,
    ):
        assert await found(client) == 1
        with pytest.raises(APIConnectionError):
            await found(client)
    assert server.connections == 1
    assert server.requests == 2


@pytest.mark.parametrize("engine", ENGINES)
async def test_point14_a_dropped_request_reaches_the_server_at_most_1_plus_max_retries_times(
    engine: str,
) -> None:
    async def handle(conn: Conn, server: Server) -> None:
        # Connection 1 answers once, then drops; every later connection drops
        # its first request.
        answered = False
        while await conn.read_request():
            server.requests += 1
            if conn.index > 1 or answered:
                return
            await conn.stream.send(http_response(search_body(server.requests)))
            answered = True

    async with (
        raw_server(handle) as server,
        make_client(server.base_url, engine, max_retries=1) as client,
    ):
        client._pipeline.retry_policy = attrs.evolve(
            client._pipeline.retry_policy, initial_backoff=0.001
        )
        assert await found(client) == 1
        with pytest.raises(APIConnectionError):
            await found(client)
    assert server.requests == 1 + 2  # the first call, then 1 + max_retries
