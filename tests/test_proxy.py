"""`HTTPS_PROXY` / `NO_PROXY` from the environment: the same on every engine, asyncio and trio.

A small loopback CONNECT proxy records each tunnel it opens; the API is a
loopback HTTPS server with a private CA.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.abc
import pytest
import trustme
from echo_server import http_response
from tls_server import client_context, tls_server

from hiobuy_async import AsyncHiobuy
from hiobuy_async.testing import FakeHiobuy

pytestmark = pytest.mark.anyio

TRANSPORTS = ["httpx", "httpx2", "aiohttp"]
IMAGE = "https://cbu01.alicdn.com/img/ibank/proxy.jpg"
ENVELOPE = (
    b'{"ret":1,"msg":"success","data":{"api_type":"taobao","items":{"item":[],"total_results":0}}}'
)
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")


async def ok(_: bytes) -> bytes:
    return http_response(200, ENVELOPE, headers={"Content-Type": "application/json"})


async def _pipe(source: anyio.abc.ByteStream, sink: anyio.abc.ByteStream) -> None:
    try:
        async for chunk in source:
            await sink.send(chunk)
    except Exception:  # either side went away
        pass
    finally:
        await sink.aclose()


@asynccontextmanager
async def connect_proxy() -> AsyncIterator[tuple[str, list[str]]]:
    """An HTTP proxy on 127.0.0.1 that only tunnels (CONNECT), recording each request line."""
    lines: list[str] = []

    async def handle(client: anyio.abc.SocketStream) -> None:
        async with client:
            buffer = b""
            while b"\r\n\r\n" not in buffer:
                try:
                    buffer += await client.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    return
            head, _, rest = buffer.partition(b"\r\n\r\n")
            line = head.split(b"\r\n")[0].decode("latin-1")
            lines.append(line)
            method, target, _ = line.split(" ")
            if method != "CONNECT":
                await client.send(http_response(405, b"tunnels only"))
                return
            host, _, port = target.rpartition(":")
            async with await anyio.connect_tcp(host, int(port)) as upstream:
                await client.send(b"HTTP/1.1 200 Connection established\r\n\r\n")
                if rest:
                    await upstream.send(rest)
                async with anyio.create_task_group() as tg:
                    tg.start_soon(_pipe, client, upstream)
                    tg.start_soon(_pipe, upstream, client)

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, handle)
        try:
            yield f"http://127.0.0.1:{port}", lines
        finally:
            group.cancel_scope.cancel()


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(autouse=True)
def _clean_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_https_proxy_tunnels_and_no_proxy_goes_direct(
    ca: trustme.CA, transport: str, monkeypatch: pytest.MonkeyPatch, anyio_backend: str
) -> None:
    async with tls_server(ok, ca) as served, connect_proxy() as (proxy_url, tunnels):
        target = served.base_url.removeprefix("https://")
        monkeypatch.setenv("HTTPS_PROXY", proxy_url)
        monkeypatch.setenv("NO_PROXY", "api.elsewhere.test")
        for _ in range(2):
            async with AsyncHiobuy(
                FakeHiobuy.DEFAULT_UUID,
                base_url=served.base_url,
                transport=transport,  # type: ignore[arg-type]
                ssl_context=client_context(ca),
                max_retries=0,
            ) as client:
                await client.image_search(IMAGE, platform="taobao")
                await client.image_search(IMAGE, platform="taobao")
        # One tunnel per client, kept alive for both of its requests.
        assert tunnels == [f"CONNECT {target} HTTP/1.1"] * 2
        assert len(served.requests) == 4

        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with AsyncHiobuy(
            FakeHiobuy.DEFAULT_UUID,
            base_url=served.base_url,
            transport=transport,  # type: ignore[arg-type]
            ssl_context=client_context(ca),
            max_retries=0,
        ) as client:
            await client.image_search(IMAGE, platform="taobao")
        assert len(tunnels) == 2  # went direct
        assert len(served.requests) == 5
