"""A client belongs to its first event loop; a closed client ends its calls with ClientClosedError.

The cross-loop tests drive their event loops themselves (two `asyncio.run()`,
`trio.run()` after asyncio, two threads), so they are plain functions; the
fake API they talk to runs on its own loop in a portal thread, which outlives
theirs.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import pytest
import trio
from helpers import ENGINES

import hiobuy_async
import hiobuy_async._exceptions
from hiobuy_async import (
    AsyncHiobuy,
    ClientClosedError,
    ClientStateError,
    HiobuyError,
    WrongEventLoopError,
)
from hiobuy_async.testing import FakeHiobuy

LoopbackClient = Callable[..., AsyncHiobuy]  # the conftest's loopback_client fixture
IMAGE = FakeHiobuy.sample_images()[0]


@pytest.fixture
def portal_served() -> Iterator[tuple[FakeHiobuy, str]]:
    """A FakeHiobuy served on 127.0.0.1 from a loop in another thread."""
    fake = FakeHiobuy()
    with (
        anyio.from_thread.start_blocking_portal() as portal,
        portal.wrap_async_context_manager(fake.serve()) as base_url,
    ):
        yield fake, base_url


def make(base_url: str, engine: str) -> AsyncHiobuy:
    return AsyncHiobuy(FakeHiobuy.DEFAULT_UUID, base_url=base_url, transport=engine)  # type: ignore[arg-type]


def searcher(client: AsyncHiobuy) -> Callable[[], Coroutine[Any, Any, int]]:
    async def search() -> int:
        return len((await client.image_search(IMAGE, platform="1688")).items)

    return search


def test_error_family() -> None:
    for cls in (ClientClosedError, WrongEventLoopError):
        assert issubclass(cls, ClientStateError)
        assert issubclass(cls, HiobuyError)
        assert issubclass(cls, RuntimeError)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_module_level_client_used_by_two_asyncio_runs(
    portal_served: tuple[FakeHiobuy, str], engine: str
) -> None:
    fake, base_url = portal_served
    client = make(base_url, engine)
    search = searcher(client)

    async def main() -> int:
        async with client:
            return await search()

    assert asyncio.run(main()) == 20
    with pytest.raises(WrongEventLoopError) as info:
        asyncio.run(main())
    message = str(info.value)
    assert "first used on an asyncio event loop in thread 'MainThread' (now closed)" in message
    assert "lifespan" in message
    assert "one client per event loop and thread" in message
    assert info.value.endpoint is None  # refused before a request was built into a call
    assert len(fake.requests) == 1


@pytest.mark.parametrize("engine", ENGINES)
def test_another_asyncio_loop_is_refused_and_the_first_still_works(
    portal_served: tuple[FakeHiobuy, str], engine: str
) -> None:
    fake, base_url = portal_served
    client = make(base_url, engine)
    search = searcher(client)
    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(search()) == 20
        with pytest.raises(WrongEventLoopError, match="now used on an asyncio event loop"):
            asyncio.run(search())
        with pytest.raises(WrongEventLoopError):
            asyncio.run(client.__aenter__())
        with pytest.raises(WrongEventLoopError):
            asyncio.run(client.aclose())
        assert not client.is_closed
        assert loop.run_until_complete(search()) == 20
        loop.run_until_complete(client.aclose())
    finally:
        loop.close()
    assert client.is_closed
    assert len(fake.requests) == 2


@pytest.mark.parametrize("engine", ENGINES)
def test_trio_after_asyncio_is_refused_and_asyncio_still_works(
    portal_served: tuple[FakeHiobuy, str], engine: str
) -> None:
    fake, base_url = portal_served
    client = make(base_url, engine)
    search = searcher(client)
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(client.__aenter__())
        assert loop.run_until_complete(search()) == 20
        with pytest.raises(WrongEventLoopError, match="now used on a trio run"):
            trio.run(search)
        assert loop.run_until_complete(search()) == 20
        loop.run_until_complete(client.aclose())
    finally:
        loop.close()
    assert len(fake.requests) == 2


def test_asyncio_after_trio_is_refused(portal_served: tuple[FakeHiobuy, str]) -> None:
    fake, base_url = portal_served
    client = make(base_url, "httpx")
    search = searcher(client)

    async def main() -> int:
        async with client:
            return await search()

    assert trio.run(main) == 20
    with pytest.raises(WrongEventLoopError, match="first used on a trio run"):
        asyncio.run(main())
    assert len(fake.requests) == 1


@pytest.mark.parametrize("engine", ENGINES)
def test_another_thread_is_refused_and_the_first_still_works(
    portal_served: tuple[FakeHiobuy, str], engine: str
) -> None:
    fake, base_url = portal_served
    client = make(base_url, engine)
    search = searcher(client)
    errors: list[BaseException] = []

    def other_thread() -> None:
        try:
            asyncio.run(search())
        except BaseException as error:
            errors.append(error)

    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(search()) == 20
        thread = threading.Thread(target=other_thread, name="worker-2")
        thread.start()
        thread.join()
        assert loop.run_until_complete(search()) == 20
        loop.run_until_complete(client.aclose())
    finally:
        loop.close()
    [error] = errors
    assert isinstance(error, WrongEventLoopError)
    assert "in thread 'MainThread'" in str(error)
    assert "in thread 'worker-2'" in str(error)
    assert len(fake.requests) == 2


def test_one_client_per_thread_works(portal_served: tuple[FakeHiobuy, str]) -> None:
    _fake, base_url = portal_served
    counts: list[int] = []

    async def own_client() -> None:
        async with make(base_url, "httpx") as client:
            counts.append(await searcher(client)())

    threads = [threading.Thread(target=asyncio.run, args=(own_client(),)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counts == [20, 20]


def test_sync_with_says_to_use_async_with() -> None:
    client = AsyncHiobuy(FakeHiobuy.DEFAULT_UUID, base_url="http://127.0.0.1:1")
    with pytest.raises(TypeError, match=r"use 'async with AsyncHiobuy\(\) as client:'"), client:
        pass  # pragma: no cover


# --- aclose ---------------------------------------------------------------------------


@pytest.fixture
def engine_client(
    engine: str, served: tuple[FakeHiobuy, str], loopback_client: LoopbackClient
) -> tuple[FakeHiobuy, AsyncHiobuy]:
    """A served fake and a client on the test's `engine`."""
    fake, base_url = served
    if engine == "in-process":
        return fake, fake.client()
    return fake, loopback_client(base_url, transport=engine, max_connections=1)


ALL_ENGINES = pytest.mark.parametrize("engine", [*ENGINES, "in-process"])


@pytest.mark.anyio
@ALL_ENGINES
async def test_calls_after_aclose_raise_client_closed(
    engine_client: tuple[FakeHiobuy, AsyncHiobuy],
) -> None:
    fake, client = engine_client
    async with client:
        await client.image_search(IMAGE, platform="1688")
    with pytest.raises(ClientClosedError, match=r"closed \(aclose\(\) ran") as info:
        await client.image_search(IMAGE, platform="1688")
    assert info.value.endpoint is None
    with pytest.raises(ClientClosedError):
        await client.keyword_search("lamp", platform="1688")
    with pytest.raises(ClientClosedError):
        await client.__aenter__()
    await client.aclose()  # idempotent
    assert len(fake.requests) == 1


@pytest.mark.anyio
@ALL_ENGINES
async def test_calls_in_flight_or_queued_when_aclose_runs_raise_client_closed(
    engine_client: tuple[FakeHiobuy, AsyncHiobuy],
) -> None:
    fake, client = engine_client
    # The loopback clients hold one connection: the second call queues for it.
    errors: list[BaseException] = []

    async def call() -> None:
        try:
            await client.image_search(IMAGE, platform="1688")
        except BaseException as error:
            errors.append(error)

    await client.__aenter__()
    fake.hold()
    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            group.start_soon(call)
            group.start_soon(call)
            await fake.wait_for_in_flight(1)
            await client.aclose()
    fake.release()
    assert len(errors) == 2
    for error in errors:
        assert isinstance(error, ClientClosedError), repr(error)
        assert "while the call was waiting or in flight" in str(error)
        assert error.endpoint == "image_search"
    assert client.is_closed
    # Nothing was retried against the closed pool.
    assert len(fake.requests) <= 2


@pytest.mark.anyio
@ALL_ENGINES
async def test_a_batch_stops_with_client_closed_alone(
    engine_client: tuple[FakeHiobuy, AsyncHiobuy],
) -> None:
    fake, client = engine_client
    images = FakeHiobuy.sample_images()[:4]
    fake.hold()

    async def close_when_busy() -> None:
        await fake.wait_for_in_flight(1)
        await client.aclose()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            group.start_soon(close_when_busy)
            with pytest.raises(ClientClosedError):
                await client.search_many(images, platform="1688", concurrency=1)
    fake.release()
    with pytest.raises(ClientClosedError):
        await client.search_many(images, platform="1688", concurrency=1)


@pytest.mark.anyio
async def test_repr_names_the_loop(anyio_backend: str) -> None:
    client = FakeHiobuy().client()
    assert "not used yet" in repr(client)
    async with client:
        kind = "a trio run" if anyio_backend == "trio" else "an asyncio event loop"
        assert f"open, used on {kind} in thread 'MainThread'" in repr(client)
    assert "closed" in repr(client)


def test_both_error_trees_list_every_exported_error() -> None:
    root = Path(__file__).resolve().parent.parent
    trees = {
        "_exceptions.py": hiobuy_async._exceptions.__doc__ or "",
        "docs/errors.md": (root / "docs" / "errors.md").read_text(encoding="utf-8"),
    }
    errors = [
        name
        for name in hiobuy_async.__all__
        if isinstance(getattr(hiobuy_async, name), type)
        and issubclass(getattr(hiobuy_async, name), HiobuyError)
    ]
    assert {"ClientStateError", "ClientClosedError", "WrongEventLoopError"} <= set(errors)
    for where, text in trees.items():
        missing = [n for n in errors if not re.search(rf"(^|[└├]── ){n}\b", text, re.MULTILINE)]
        assert missing == [], where
