"""Which HTTP engine a client uses, and what it costs to open one.

`transport=None` (then `HIOBUY_TRANSPORT`) picks the best engine installed
for the running event loop; `client.transport` tells which; a caller's
`httpx2.AsyncClient` and `httpx2.Timeout` are accepted like httpx's.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from helpers import ENGINES

from hiobuy_async import APITimeoutError, AsyncHiobuy, InputError, __version__
from hiobuy_async._transport import _http, choose_engine, make_timeout
from hiobuy_async._transport._httpx import (
    _PARSED_URLS,
    SHARD_SIZE,
    HttpxBackend,
    _WatchedStream,
)
from hiobuy_async.testing import FakeHiobuy, Fault

pytestmark = pytest.mark.anyio

UUID = FakeHiobuy.DEFAULT_UUID
IMAGE = "https://cbu01.alicdn.com/img/ibank/engines.jpg"


@pytest.fixture
def no_engine_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HIOBUY_TRANSPORT", raising=False)


@pytest.mark.parametrize(
    ("asked", "on_asyncio", "aiohttp_installed", "expected"),
    [
        (None, True, True, "aiohttp"),
        (None, True, False, "httpx2"),
        (None, False, True, "httpx2"),
        ("aiohttp", False, True, "httpx2"),
        ("aiohttp", True, True, "aiohttp"),
        ("httpx", True, True, "httpx"),
        ("httpx", False, True, "httpx"),
        ("httpx2", True, True, "httpx2"),
    ],
)
def test_the_engine_table(
    monkeypatch: pytest.MonkeyPatch,
    asked: Any,
    on_asyncio: bool,
    aiohttp_installed: bool,
    expected: str,
) -> None:
    monkeypatch.setattr(_http, "aiohttp_available", lambda: aiohttp_installed)
    assert choose_engine(asked, on_asyncio=on_asyncio) == expected


@pytest.mark.usefixtures("no_engine_variable")
async def test_the_default_is_the_best_engine_for_the_loop(
    served: tuple[FakeHiobuy, str], anyio_backend: str
) -> None:
    _fake, base_url = served
    client = AsyncHiobuy(UUID, base_url=base_url)
    assert client.transport is None  # chosen when it opens, inside the loop
    async with client:
        assert client.transport == ("aiohttp" if anyio_backend == "asyncio" else "httpx2")
        await client.image_search(IMAGE, platform="1688")


@pytest.mark.parametrize("transport", ENGINES)
async def test_client_transport_names_the_engine_in_use(
    served: tuple[FakeHiobuy, str], transport: str, anyio_backend: str
) -> None:
    _fake, base_url = served
    async with AsyncHiobuy(UUID, base_url=base_url, transport=transport) as client:  # type: ignore[arg-type]
        result = await client.image_search(IMAGE, platform="1688")
        assert client.transport == transport
    assert len(result.items) == 20


def test_engine_variable_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIOBUY_TRANSPORT", "requests")
    with pytest.raises(InputError, match="httpx, httpx2, aiohttp"):
        AsyncHiobuy(UUID, base_url="http://127.0.0.1:9")
    monkeypatch.setenv("HIOBUY_TRANSPORT", "")
    assert AsyncHiobuy(UUID, base_url="http://127.0.0.1:9").transport is None


@pytest.mark.parametrize("library", [httpx, httpx2], ids=["httpx", "httpx2"])
async def test_a_caller_client_of_either_library_and_its_timeout(
    library: Any, anyio_backend: str
) -> None:
    fake = FakeHiobuy()
    fake.fail_matching("slow", Fault.stall(5.0))
    async with library.AsyncClient(transport=fake.transport()) as http_client:
        async with AsyncHiobuy(
            UUID,
            base_url="https://api.test",
            http_client=http_client,
            timeout=library.Timeout(2.0, read=0.05),
            max_retries=0,
        ) as client:
            assert client.transport == library.__name__
            result = await client.image_search(IMAGE, platform="1688")
            assert len(result.items) == 20
            with pytest.raises(APITimeoutError):
                await client.image_search("https://cdn.test/slow.jpg", platform="1688")
        assert not http_client.is_closed


def test_either_timeout_is_normalised() -> None:
    assert make_timeout(httpx2.Timeout(3.0, read=1.5)) == httpx.Timeout(3.0, read=1.5)
    assert make_timeout(httpx.Timeout(2.0)) == httpx.Timeout(2.0)
    with pytest.raises(InputError):
        make_timeout("3")


def test_a_sync_client_of_either_library_is_refused() -> None:
    for library in (httpx, httpx2):
        with (
            library.Client() as sync_client,
            pytest.raises(InputError, match=r"httpx\.AsyncClient or an httpx2\.AsyncClient"),
        ):
            AsyncHiobuy(UUID, base_url="http://127.0.0.1:9", http_client=sync_client)


# --- a cheap client -------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ENGINES)
async def test_opening_a_huge_pool_creates_one_client(transport: str, anyio_backend: str) -> None:
    client = AsyncHiobuy(
        UUID,
        base_url="http://127.0.0.1:9",
        transport=transport,  # type: ignore[arg-type]
        max_connections=100_000,
    )
    async with client:
        backend = client._transport._backend
        if isinstance(backend, HttpxBackend):
            assert backend.shards == 1


async def search(client: AsyncHiobuy, image: str) -> None:
    await client.image_search(image, platform="1688")


@pytest.mark.parametrize("transport", ["httpx", "httpx2"])
async def test_shards_are_added_only_when_the_ones_there_are_full(
    served: tuple[FakeHiobuy, str], transport: str, anyio_backend: str
) -> None:
    fake, base_url = served
    fake.hold()
    async with AsyncHiobuy(
        UUID,
        base_url=base_url,
        transport=transport,  # type: ignore[arg-type]
        max_connections=4 * SHARD_SIZE,
    ) as client:
        backend = client._transport._backend
        assert isinstance(backend, HttpxBackend)
        async with anyio.create_task_group() as tg:
            for i in range(SHARD_SIZE + 1):
                tg.start_soon(search, client, f"https://cdn.test/held/{i}.jpg")
            with anyio.fail_after(10):
                await fake.wait_for_in_flight(SHARD_SIZE + 1)
            assert backend.shards == 2
            fake.release()
    assert fake.stats.connections == SHARD_SIZE + 1


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_many_short_lived_clients_in_a_row_log_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, anyio_backend: str
) -> None:
    clock = FakeClock()
    churn = _http._Churn
    monkeypatch.setattr(churn, "clock", clock)
    monkeypatch.setattr(churn, "short_in_a_row", 0)
    monkeypatch.setattr(churn, "warned", False)

    async def open_and_close(lifetime: float) -> None:
        async with AsyncHiobuy(UUID, base_url="http://127.0.0.1:9"):
            clock.now += lifetime

    caplog.set_level(logging.WARNING, logger="hiobuy_async")
    for _ in range(churn.IN_A_ROW - 1):
        await open_and_close(0.01)
    await open_and_close(60.0)  # a long-lived one starts the count again
    for _ in range(churn.IN_A_ROW - 1):
        await open_and_close(0.01)
    assert caplog.records == []
    for _ in range(3 * churn.IN_A_ROW):
        await open_and_close(0.01)
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert "web-apps" in record.getMessage()
    assert "one client per process" in record.getMessage()


class _SocketOnly:
    """The part of an httpcore stream that `_WatchedStream` asks for the socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.lookups = 0

    def get_extra_info(self, info: str) -> object:
        self.lookups += 1
        return self.sock if info == "socket" else None

    async def aclose(self) -> None:
        self.sock.close()


def test_the_readability_probe_looks_the_socket_up_once() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        inner = _SocketOnly(ours)
        stream = _WatchedStream(inner)  # type: ignore[arg-type]
        assert stream.get_extra_info("is_readable") is False
        theirs.close()  # the server closes the idle connection: its end is readable
        assert stream.get_extra_info("is_readable") is True
        assert stream.get_extra_info("is_readable") is True
        assert inner.lookups == 1


async def test_a_closed_connection_never_reads_as_reusable(anyio_backend: str) -> None:
    ours, theirs = socket.socketpair()
    with theirs:
        stream = _WatchedStream(_SocketOnly(ours))  # type: ignore[arg-type]
        assert stream.get_extra_info("is_readable") is False
        fd = ours.fileno()
        await stream.aclose()
        # The descriptor number is free again: a new socket may get it, and
        # an idle new socket must not make the closed connection look usable.
        reused, other = socket.socketpair()
        with reused, other:
            assert fd in (reused.fileno(), other.fileno())
            assert stream.get_extra_info("is_readable") is True


@pytest.mark.parametrize("transport", ENGINES)
async def test_every_request_of_the_sdks_own_pool_carries_its_headers(
    served: tuple[FakeHiobuy, str], transport: str, anyio_backend: str
) -> None:
    fake, base_url = served
    async with AsyncHiobuy(
        UUID,
        base_url=base_url,
        transport=transport,  # type: ignore[arg-type]
        language="en_US",
    ) as client:
        for i in range(3):
            await search(client, f"https://cdn.test/headers/{i}.jpg")
    assert len(fake.requests) == 3
    for request in fake.requests:
        headers = request.headers
        assert headers["user-agent"] == f"hiobuy-async/{__version__}"
        assert headers["accept"] == "application/json"
        assert "gzip" in headers["accept-encoding"]
        assert headers["content-type"] == "application/json"
        assert "x-uuid" in headers  # recorded redacted; the fake accepted it
        assert headers["language"] == "en_US"


@pytest.mark.parametrize("library", [httpx, httpx2])
def test_urls_are_parsed_once_and_the_parsed_ones_stay_bounded(library: Any) -> None:
    backend = HttpxBackend(
        library=_http._library("httpx2" if library is httpx2 else "httpx"),
        timeout=make_timeout(5),
        max_connections=4,
        http_client=None,
        ssl_context=None,
    )
    url = "https://api.test/api/client/third-purchase/image/query"
    first = backend._parsed(url)
    assert isinstance(first, library.URL)
    assert str(first) == url
    assert backend._parsed(url) is first
    # A query string varies per call: passed on as given, never kept.
    assert backend._parsed(url + "?id=1") == url + "?id=1"
    for n in range(3 * _PARSED_URLS):
        backend._parsed(f"https://api.test/{n}")
    assert len(backend._urls) <= _PARSED_URLS
