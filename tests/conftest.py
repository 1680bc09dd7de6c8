"""Shared fixtures: every async test runs on asyncio and on trio."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from helpers import MakeCache, make_client
from redis_server import RedisServer, start_redis_server

from hiobuy_async import AsyncHiobuy
from hiobuy_async._retry import set_no_backoff
from hiobuy_async.cache import Cache, MemoryCache, SQLiteCache
from hiobuy_async.testing import FakeHiobuy

try:
    import trio  # noqa: F401

    HAVE_TRIO = True
except ImportError:  # pragma: no cover - depends on the environment
    HAVE_TRIO = False

if not HAVE_TRIO and os.environ.get("CI"):  # pragma: no cover
    raise RuntimeError("trio is not installed: CI must run every async test on trio too")

BACKENDS = ["asyncio", "trio"] if HAVE_TRIO else ["asyncio"]


@pytest.fixture(params=BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run each `@pytest.mark.anyio` test once per backend."""
    return str(request.param)


@pytest.fixture(autouse=True)
def _reset_backoff() -> Iterator[None]:
    """Keep the global no-backoff switch from leaking between tests."""
    yield
    set_no_backoff(False)


@pytest.fixture(params=["memory", "sqlite"])
def make_cache(request: pytest.FixtureRequest, tmp_path: Path) -> MakeCache:
    """Make a `MemoryCache`, then (the second run) a `SQLiteCache` in `tmp_path`."""

    def make(**kwargs: object) -> Cache:
        if request.param == "memory":
            return MemoryCache(**kwargs)  # type: ignore[arg-type]
        return SQLiteCache(tmp_path / "cache.db", **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the module, on a free loopback port; stopped at the end."""
    server = start_redis_server(tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def served() -> AsyncIterator[tuple[FakeHiobuy, str]]:
    """A FakeHiobuy served over real HTTP on 127.0.0.1, and its base URL."""
    fake = FakeHiobuy()
    async with fake.serve() as base_url:
        yield fake, base_url


LoopbackClient = Callable[..., AsyncHiobuy]


@pytest.fixture
def loopback_client() -> LoopbackClient:
    """Make clients for a served fake, with a tiny backoff (Retry-After waits stay real)."""

    def make(base_url: str, **kwargs: object) -> AsyncHiobuy:
        return make_client(base_url, initial_backoff=0.001, **kwargs)  # type: ignore[arg-type]

    return make


# aiohttp runs on asyncio only; under trio `transport="aiohttp"` is httpx2,
# which the "httpx2" case of the same test already covers (engine lists are
# helpers.ENGINES, the SDK's own, so every one has that case). So a test
# parametrised over engines has no aiohttp case on trio: it is deselected at
# collection (it does not exist), never skipped at run time.
_ENGINE_PARAMS = ("transport", "engine")


# `nox -s tests` runs the suite once per engine (HIOBUY_TRANSPORT). A test
# parametrised over engines pins its own and runs every engine in each run;
# after the first run nox sets HIOBUY_TESTS_PINNED_DONE=1, and such tests are
# deselected: they already ran, on every engine, and would only repeat.
_PINNED_DONE = os.environ.get("HIOBUY_TESTS_PINNED_DONE") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Drop the (aiohttp, trio) combination of engine-parametrised tests (and repeats)."""
    kept, dropped = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        on_trio = params.get("anyio_backend") == "trio"
        engines = [params[name] for name in _ENGINE_PARAMS if name in params]
        if (on_trio and "aiohttp" in engines) or (_PINNED_DONE and engines):
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
