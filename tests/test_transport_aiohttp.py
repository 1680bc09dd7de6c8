"""The aiohttp transport over real loopback sockets: same requests, errors and limits as httpx.

aiohttp runs on asyncio only, so these tests do too, except the one that
checks that `transport="aiohttp"` falls back to httpx2 under
trio. Where a behaviour is shared, the same scenario runs on every
transport (httpx, httpx2, aiohttp) and must end in the same SDK error.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import gzip
import json
import ssl
import subprocess
import sys
import warnings
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.lowlevel
import helpers
import httpx
import pytest
from helpers import ENGINES

from hiobuy_async import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AsyncHiobuy,
    AuthenticationError,
    HiobuyError,
    InputError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
)
from hiobuy_async.testing import FakeHiobuy, Fault

aiohttp = pytest.importorskip("aiohttp")

from hiobuy_async._transport._aiohttp import (  # noqa: E402 - after the importorskip
    AiohttpBackend,
    client_timeout,
)

IMAGE = "https://cbu01.alicdn.com/img/ibank/aiohttp.jpg"
UUID = FakeHiobuy.DEFAULT_UUID
MiB = 1024 * 1024
SEARCH_PATH = "/api/client/third-purchase/image/query"


@pytest.fixture
def anyio_backend() -> str:
    """aiohttp is asyncio-only: the trio fallback has its own test below."""
    return "asyncio"


pytestmark = pytest.mark.anyio


make_client = functools.partial(
    helpers.make_client, uuid=UUID, timeout=2.0, max_connections=4, max_retries=0
)


async def assert_pool_healthy(client: AsyncHiobuy, n: int = 8) -> None:
    results: list[int] = []

    async def one(i: int) -> None:
        result = await client.image_search(f"https://cdn.test/healthy/{i}.jpg", platform="1688")
        results.append(len(result.items))

    async with anyio.create_task_group() as tg:
        for i in range(n):
            tg.start_soon(one, i)
    assert results == [20] * n


def session_of(client: AsyncHiobuy) -> Any:
    backend = client._transport._backend
    assert isinstance(backend, AiohttpBackend)
    return backend._session


def check_clean(error: HiobuyError) -> None:
    """The error keeps no chained exception and never shows the uuid."""
    assert error.__context__ is None
    assert error.__cause__ is None
    assert UUID not in str(error)


# --- the fake API over sockets --------------------------------------------------------


async def test_requests_go_through_one_kept_alive_aiohttp_connection(
    served: tuple[FakeHiobuy, str],
) -> None:
    fake, base_url = served
    client = make_client(base_url, "aiohttp")
    assert client._transport.kind_in_use is None  # nothing is created before use
    async with client:
        assert client._transport.kind_in_use == "aiohttp"
        result = await client.image_search(IMAGE, platform="1688", language="en_US")
        for _ in range(5):
            await client.image_search(IMAGE, platform="1688")
    assert len(result.items) == 20
    assert result.request_id is not None
    assert result.request_id.startswith("fake-")
    assert fake.stats.connections == 1


async def test_every_transport_sends_the_same_request(served: tuple[FakeHiobuy, str]) -> None:
    fake, base_url = served
    for transport in ENGINES:
        async with make_client(base_url, transport) as client:
            await client.image_search(
                IMAGE, platform="1688", language="en_US", filters=["certifiedFactory"]
            )
    via_httpx, *others = fake.requests
    assert len(others) == len(ENGINES) - 1
    for other in others:
        assert other.method == via_httpx.method == "POST"
        assert other.path == via_httpx.path == SEARCH_PATH
        assert other.body == via_httpx.body
        names = ("content-type", "accept", "accept-encoding", "user-agent", "language", "x-uuid")
        for name in names:
            assert other.headers[name] == via_httpx.headers[name], name
        assert other.headers["accept-encoding"] == "gzip, deflate"
        assert "cookie" not in other.headers


FAULTS: list[tuple[Fault, type[HiobuyError], dict[str, Any]]] = [
    (Fault.status(503), ServerError, {}),
    (Fault.status(403), AuthenticationError, {}),
    (Fault.status(404), APIStatusError, {}),
    (Fault.rate_limit(retry_after=0.05), RateLimitError, {"max_retries": 0}),
    (Fault.stall(5.0), APITimeoutError, {"timeout": httpx.Timeout(2.0, read=0.1)}),
    (Fault.reset(), APIConnectionError, {}),
    (Fault.malformed(), ResponseValidationError, {}),
    (Fault.api_error(ret=0, msg="system busy"), APIError, {}),
]


@pytest.mark.parametrize(
    ("fault", "expected", "options"),
    FAULTS,
    ids=[f.kind + str(f.status_code) for f, _, _ in FAULTS],
)
async def test_each_fault_is_the_same_sdk_error_on_every_transport(
    served: tuple[FakeHiobuy, str],
    fault: Fault,
    expected: type[HiobuyError],
    options: dict[str, Any],
) -> None:
    fake, base_url = served
    seen: dict[str, type[HiobuyError]] = {}
    for transport in ENGINES:
        fake.fail_matching("faulty", fault, times=1)
        async with make_client(base_url, transport, **options) as client:
            with pytest.raises(HiobuyError) as info:
                await client.image_search("https://cdn.test/faulty.jpg", platform="1688")
            seen[transport] = type(info.value)
            check_clean(info.value)
            await assert_pool_healthy(client)
    assert seen == dict.fromkeys(ENGINES, expected)


async def test_reset_is_a_connection_error_and_is_retried(
    served: tuple[FakeHiobuy, str],
) -> None:
    fake, base_url = served
    fake.fail_matching("reset", Fault.reset())
    async with make_client(base_url, "aiohttp", max_retries=1) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.image_search("https://cdn.test/reset.jpg", platform="1688")
        assert not isinstance(info.value, APITimeoutError)
        assert len(fake.requests) == 2
        await assert_pool_healthy(client)


async def test_503_then_success_and_429_retry_after(served: tuple[FakeHiobuy, str]) -> None:
    fake, base_url = served
    fake.fail_next(1, Fault.status(503))
    fake.fail_next(1, Fault.rate_limit(retry_after=0.01))
    async with make_client(base_url, "aiohttp", max_retries=2) as client:
        result = await client.image_search(IMAGE, platform="1688")
    assert result.items
    assert len(fake.requests) == 3


async def test_connection_refused_is_a_connection_error_with_the_uuid_redacted() -> None:
    with socket_bound() as port:
        # The uuid is the port number, so the connector's message ("Cannot
        # connect to host 127.0.0.1:<port>") would show it if not redacted.
        client = AsyncHiobuy(
            str(port),
            base_url=f"http://127.0.0.1:{port}",
            transport="aiohttp",
            max_retries=0,
            timeout=2.0,
        )
        async with client:
            with pytest.raises(APIConnectionError) as info:
                await client.image_search(IMAGE, platform="taobao")
    assert not isinstance(info.value, APITimeoutError)
    assert info.value.__context__ is None
    assert str(port) not in str(info.value)
    assert "***" in str(info.value)


async def held_search(client: AsyncHiobuy, img: str) -> None:
    await client.image_search(img, platform="1688")


async def test_cancelled_mid_request_leaves_the_session_healthy(
    served: tuple[FakeHiobuy, str],
) -> None:
    fake, base_url = served
    fake.hold()
    async with make_client(base_url, "aiohttp", max_connections=2) as client:
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                for name in ("held", "held-too"):
                    tg.start_soon(held_search, client, f"https://cdn.test/{name}.jpg")
                with anyio.fail_after(5):
                    await fake.wait_for_in_flight(2)
                scope.cancel()
        assert scope.cancelled_caught
        fake.release()
        assert not session_of(client).closed
        # Both slots of the limiter were given back, and the pool still works.
        await assert_pool_healthy(client)


async def test_the_session_is_created_on_enter_and_closed_once(
    served: tuple[FakeHiobuy, str],
) -> None:
    _fake, base_url = served
    client = make_client(base_url, "aiohttp")
    assert not client._transport.owns_open_client
    async with client:
        session = session_of(client)
        assert not session.closed
        assert client._transport.owns_open_client
    assert session.closed
    assert client.is_closed
    await client.aclose()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        await client.image_search(IMAGE, platform="1688")


async def test_no_resource_warning_after_faults_and_close(
    served: tuple[FakeHiobuy, str],
) -> None:
    fake, base_url = served
    fake.fail_matching("reset", Fault.reset())
    fake.fail_matching("stall", Fault.stall(5.0))
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        client = make_client(base_url, "aiohttp", timeout=httpx.Timeout(2.0, read=0.1))
        async with client:
            for image in ("reset", "stall"):
                with pytest.raises(APIConnectionError):
                    await client.image_search(f"https://cdn.test/{image}.jpg", platform="1688")
            await assert_pool_healthy(client)
        del client
        await anyio.lowlevel.checkpoint()  # let the closed sockets finish closing
        gc.collect()
    assert [str(w.message) for w in record if issubclass(w.category, ResourceWarning)] == []


async def test_caller_supplied_http_client_wins_over_transport(
    served: tuple[FakeHiobuy, str],
) -> None:
    _fake, base_url = served
    async with httpx.AsyncClient() as http_client:
        async with make_client(base_url, "aiohttp", http_client=http_client) as client:
            await client.image_search(IMAGE, platform="taobao")
            assert client.transport == "httpx"
        assert not http_client.is_closed


# --- what only a hand-written server can send -------------------------------------------

Reply = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class RawServer:
    """A tiny HTTP/1.1 server on 127.0.0.1: reads each request, answers with `reply`."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.request_lines: list[str] = []
        self.connections = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                self.request_lines.append(lines[0])
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                await reader.readexactly(length)
                await self.reply(reader, writer)
                if writer.is_closing():
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    @asynccontextmanager
    async def serve(self) -> AsyncIterator[str]:
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.close()
            await server.wait_closed()


def head(status: str, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


ENVELOPE = json.dumps(
    {"ret": 1, "msg": "success", "data": {"items": {"item": [], "total_results": 0}}}
).encode()


def fixed(status: str, headers: dict[str, str], body: bytes) -> Reply:
    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(head(status, {**headers, "Content-Length": str(len(body))}) + body)
        await writer.drain()

    return reply


@asynccontextmanager
async def both_clients(reply: Reply, **options: Any) -> AsyncIterator[list[AsyncHiobuy]]:
    """One client per transport, on one raw server."""
    server = RawServer(reply)
    async with server.serve() as base_url, contextlib.AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(make_client(base_url, transport, **options))
            for transport in ENGINES
        ]


async def errors_on_both(reply: Reply, **options: Any) -> list[HiobuyError]:
    errors: list[HiobuyError] = []
    async with both_clients(reply, **options) as clients:
        for client in clients:
            with pytest.raises(HiobuyError) as info:
                await client.image_search(IMAGE, platform="taobao")
            check_clean(info.value)
            errors.append(info.value)
    return errors


async def test_gzip_bomb_is_refused_on_both() -> None:
    bomb = gzip.compress(b"\0" * (16 * MiB), compresslevel=9)
    assert len(bomb) < MiB // 8
    reply = fixed("200 OK", {"Content-Encoding": "gzip"}, bomb)
    errors = await errors_on_both(reply, max_response_bytes=MiB)
    for error in errors:
        assert isinstance(error, ResponseValidationError)
        assert str(MiB) in str(error)


async def test_gzip_and_raw_deflate_bodies_are_inflated_on_aiohttp() -> None:
    for encoding, data in (
        ("gzip", gzip.compress(ENVELOPE)),
        ("deflate", zlib.compress(ENVELOPE)),
        ("deflate", zlib.compress(ENVELOPE)[2:-4]),  # raw deflate, no zlib wrapper
    ):
        async with both_clients(fixed("200 OK", {"Content-Encoding": encoding}, data)) as clients:
            for client in clients:
                result = await client.image_search(IMAGE, platform="taobao")
                assert result.items == ()


async def test_corrupt_gzip_and_unknown_encoding_are_refused_on_both() -> None:
    for encoding, data in (("gzip", b"not gzip at all"), ("br", b"\x0b\x02\x80")):
        errors = await errors_on_both(fixed("200 OK", {"Content-Encoding": encoding}, data))
        assert [type(e) for e in errors] == [ResponseValidationError] * len(ENGINES)


async def endless_chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(head("200 OK", {"Transfer-Encoding": "chunked"}))
    chunk = b"x" * 65536
    for _ in range(1024):  # 64 MiB at most, should the client not stop
        writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        await writer.drain()
    writer.write(b"0\r\n\r\n")
    await writer.drain()


async def test_endless_chunked_body_stops_at_the_cap_on_both() -> None:
    errors = await errors_on_both(endless_chunked, max_response_bytes=MiB)
    for error in errors:
        assert isinstance(error, ResponseValidationError)
        assert "limit" in str(error)


async def test_declared_length_over_the_cap_fails_before_reading() -> None:
    async def declared_then_silent(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        writer.write(head("200 OK", {"Content-Length": str(10 * MiB)}))
        await writer.drain()
        await asyncio.sleep(5)  # no body: only the precheck can end this early

    # The read timeout (1 s) would make it an APITimeoutError had the
    # transport waited for the body.
    errors = await errors_on_both(
        declared_then_silent, max_response_bytes=MiB, timeout=httpx.Timeout(5.0, read=1.0)
    )
    assert [type(e) for e in errors] == [ResponseValidationError] * len(ENGINES)


async def test_redirect_is_returned_not_followed() -> None:
    reply = fixed("302 Found", {"Location": "/elsewhere"}, b"moved")
    server = RawServer(reply)
    async with server.serve() as base_url:
        for transport in ENGINES:
            async with make_client(base_url, transport) as client:
                with pytest.raises(APIStatusError) as info:
                    await client.image_search(IMAGE, platform="taobao")
            assert info.value.status_code == 302
            assert "redirects are not followed" in str(info.value)
    assert server.request_lines == [f"POST {SEARCH_PATH} HTTP/1.1"] * len(ENGINES)


async def test_large_error_body_is_truncated_and_the_pool_goes_on() -> None:
    calls: list[int] = []
    big = b"<html>" + b"e" * (2 * MiB)

    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        calls.append(1)
        if len(calls) == 1:
            await fixed("500 Internal Server Error", {}, big)(reader, writer)
        else:
            await fixed("200 OK", {"Content-Type": "application/json"}, ENVELOPE)(reader, writer)

    server = RawServer(reply)
    async with server.serve() as base_url, make_client(base_url, "aiohttp") as client:
        with pytest.raises(ServerError) as info:
            await client.image_search(IMAGE, platform="taobao")
        assert info.value.body_excerpt is not None
        assert info.value.body_excerpt.startswith("<html>eee")
        result = await client.image_search(IMAGE, platform="taobao")
        assert result.items == ()
    # The cut-short connection was not reused for the next request.
    assert server.connections == 2


async def test_environment_proxy_is_used_as_on_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = RawServer(fixed("200 OK", {}, ENVELOPE))
    async with proxy.serve() as proxy_url:
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        target = "http://127.0.0.1:9"  # never reached: the proxy answers
        # Plain http goes through a proxy only with allow_insecure_http=True.
        for transport in ENGINES:
            async with make_client(target, transport, allow_insecure_http=True) as client:
                await client.image_search(IMAGE, platform="taobao")
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with make_client(target, "aiohttp", allow_insecure_http=True) as client:
            with pytest.raises(APIConnectionError):
                await client.image_search(IMAGE, platform="taobao")
    assert proxy.request_lines == [f"POST {target}{SEARCH_PATH} HTTP/1.1"] * len(ENGINES)


# --- units ------------------------------------------------------------------------------


def test_timeout_maps_to_aiohttp_phases() -> None:
    mapped = client_timeout(httpx.Timeout(2.0, connect=1.0, read=0.25, pool=3.0))
    assert mapped.total is None
    assert mapped.sock_connect == 1.0
    assert mapped.connect == 4.0
    assert mapped.sock_read == 0.25
    assert client_timeout(httpx.Timeout(2.0, pool=None)).connect is None


async def test_aiohttp_and_os_errors_are_classified() -> None:
    backend = AiohttpBackend(
        proxy=None,
        timeout=httpx.Timeout(1.0),
        max_connections=1,
        ssl_context=ssl.create_default_context(),
    )
    try:
        timeouts = [asyncio.TimeoutError(), TimeoutError(), aiohttp.ServerTimeoutError("t")]  # noqa: UP041 - the alias, as old code raises it
        timeouts += [
            getattr(aiohttp, name)("t")
            for name in ("ConnectionTimeoutError", "SocketTimeoutError")
            if hasattr(aiohttp, name)
        ]
        for exc in timeouts:
            assert backend.classify(exc) == "timeout", exc
        for exc in (
            aiohttp.ServerDisconnectedError(),
            aiohttp.ClientPayloadError("cut"),
            aiohttp.ClientConnectionError("closed"),
            ConnectionResetError(),
            ConnectionRefusedError(),
        ):
            assert backend.classify(exc) == "connection", exc
        assert backend.classify(ValueError("a bug")) is None
    finally:
        await backend.aclose()


# --- imports and the trio fallback --------------------------------------------------------

_SUBPROCESS = """
import sys, anyio
from hiobuy_async import AsyncHiobuy
from hiobuy_async.testing import FakeHiobuy

async def main():
    fake = FakeHiobuy()
    async with fake.serve() as base_url:
        uuid = FakeHiobuy.DEFAULT_UUID
        async with AsyncHiobuy(uuid, base_url=base_url, transport="aiohttp") as c:
            result = await c.image_search("https://x.test/a.jpg", platform="1688")
            kind = c._transport.kind_in_use
    print(len(result.items), kind, "aiohttp" in sys.modules, "httpx_aiohttp" in sys.modules)

anyio.run(main, backend=sys.argv[1])
"""


@pytest.mark.parametrize(
    ("backend", "expected"),
    [("asyncio", "20 aiohttp True False"), ("trio", "20 httpx2 False False")],
)
def test_aiohttp_transport_needs_no_httpx_aiohttp_and_trio_falls_back(
    backend: str, expected: str
) -> None:
    pytest.importorskip(backend)
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", _SUBPROCESS, backend],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == expected.split()


def test_under_trio_aiohttp_transport_runs_the_fault_suite_on_httpx2() -> None:
    pytest.importorskip("trio")

    async def main() -> None:
        fake = FakeHiobuy()
        fake.fail_next(1, Fault.status(503))
        fake.fail_matching("reset", Fault.reset())
        async with fake.serve() as base_url, make_client(base_url, "aiohttp") as client:
            with pytest.raises(ServerError):
                await client.image_search(IMAGE, platform="1688")
            with pytest.raises(APIConnectionError):
                await client.image_search("https://cdn.test/reset.jpg", platform="1688")
            assert client.transport == "httpx2"
            await assert_pool_healthy(client)

    anyio.run(main, backend="trio")


class socket_bound:
    """A port nothing listens on (bound, never listening), for refused connections."""

    def __enter__(self) -> int:
        import socket  # noqa: PLC0415

        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        port: int = self._sock.getsockname()[1]
        return port

    def __exit__(self, *exc: object) -> None:
        self._sock.close()


def test_a_proxy_aiohttp_cannot_use_is_refused_at_construction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALL_PROXY", "socks5://127.0.0.1:1")
    with pytest.raises(InputError, match="ALL_PROXY names a SOCKS proxy"):
        AsyncHiobuy("u", base_url="https://api.hiobuy.test", transport="aiohttp")
    monkeypatch.setitem(sys.modules, "socksio", None)  # not installed
    with pytest.raises(InputError, match=r"ALL_PROXY .* needs the socksio package"):
        AsyncHiobuy("u", base_url="https://api.hiobuy.test", transport="httpx")


LEAKS = """
import asyncio, gc, sys
import anyio.from_thread
from hiobuy_async import AsyncHiobuy, WrongEventLoopError
from hiobuy_async.testing import FakeHiobuy

IMAGE = "https://cbu01.alicdn.com/img/ibank/leak.jpg"
with anyio.from_thread.start_blocking_portal() as portal, portal.wrap_async_context_manager(
    FakeHiobuy().serve()
) as base_url:
    def client():
        return AsyncHiobuy(FakeHiobuy.DEFAULT_UUID, base_url=base_url, transport="aiohttp")

    async def leak():  # used, kept alive, never closed
        leaked = client()
        await leaked.image_search(IMAGE, platform="1688")
        del leaked
        gc.collect()
        await asyncio.sleep(0)

    asyncio.run(leak())
    print("--- wrong loop", file=sys.stderr)
    moved = client()

    async def use():
        await moved.image_search(IMAGE, platform="1688")

    asyncio.run(use())
    try:
        asyncio.run(use())
    except WrongEventLoopError:
        print("WrongEventLoopError", file=sys.stderr)
    del moved
    gc.collect()
"""


def test_a_leaked_aiohttp_client_shows_only_the_sdks_warning() -> None:
    done = subprocess.run(
        [sys.executable, "-W", "default::ResourceWarning", "-c", LEAKS],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    leaked, wrong_loop = done.stderr.split("--- wrong loop")
    assert "ResourceWarning: unclosed <AsyncHiobuy" in leaked
    assert "WrongEventLoopError" in wrong_loop
    assert "ResourceWarning: unclosed <AsyncHiobuy" in wrong_loop
    for noise in ("Unclosed client session", "Unclosed connector", "_Handler", "aiohttp"):
        assert noise not in done.stderr, done.stderr
