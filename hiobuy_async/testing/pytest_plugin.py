# SPDX-License-Identifier: MIT
"""pytest fixtures for code that uses hiobuy_async.

Enable them in your `conftest.py` (nothing is registered automatically):

```python
pytest_plugins = ["hiobuy_async.testing.pytest_plugin"]
```

Then, with anyio's pytest plugin (installed with anyio):

```python
@pytest.mark.anyio
async def test_search(hiobuy_client, fake_hiobuy):
    result = await hiobuy_client.image_search(fake_hiobuy.sample_images()[0], platform="1688")
    assert len(fake_hiobuy.requests) == 1
```

The fixtures are plain (sync) ones, so pytest-asyncio's tests can use them
too: `@pytest.mark.asyncio` in its strict mode, any async test in its auto
mode. Two mistakes get a message saying what to do instead of pytest's
generic one: an async test that no plugin runs (no `@pytest.mark.anyio`),
and an anyio test on trio that pytest-asyncio's auto mode would run on
asyncio without saying so.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import pytest

from .._client import AsyncHiobuy
from ._backoff import no_backoff
from ._fake import FakeHiobuy

__all__ = ["fake_hiobuy", "hiobuy_client", "pytest_pyfunc_call", "pytest_runtest_call"]

_FIXTURES = frozenset({"fake_hiobuy", "hiobuy_client"})

_NOT_RUN = (
    "{name} is an async test using the hiobuy_async fixtures, but no plugin runs it. Mark it "
    "@pytest.mark.anyio (anyio's plugin, installed with anyio; parametrise the anyio_backend "
    "fixture to run it on trio too), or, with pytest-asyncio, @pytest.mark.asyncio (or set "
    'asyncio_mode = "auto")'
)

_HIJACKED = (
    "{name} is an anyio test on {backend}, but pytest-asyncio runs it (its auto mode takes "
    "every async test, or the test is also marked @pytest.mark.asyncio), and would run it on "
    'asyncio instead. Use pytest-asyncio\'s strict mode (asyncio_mode = "strict", its default) '
    "and mark its tests @pytest.mark.asyncio, or run this test on asyncio only (an anyio_backend "
    'fixture returning "asyncio")'
)


@pytest.fixture
def fake_hiobuy() -> FakeHiobuy:
    """A fresh `FakeHiobuy` accepting `FakeHiobuy.DEFAULT_UUID`.

    Returns:
        The fake.
    """
    return FakeHiobuy()


@pytest.fixture
def hiobuy_client(fake_hiobuy: FakeHiobuy) -> Iterator[AsyncHiobuy]:
    """An `AsyncHiobuy` wired in process to `fake_hiobuy`, with retry backoff off.

    A plain (sync) fixture, so that any plugin running async tests can use
    it: anyio's (`@pytest.mark.anyio`, on asyncio and trio) or pytest-asyncio
    (`@pytest.mark.asyncio`, or its auto mode). The client opens on the test's
    event loop at its first call; it holds no sockets, so nothing is left to
    close after the test.

    Args:
        fake_hiobuy: The fake it talks to.

    Yields:
        The client.
    """
    with no_backoff():
        yield fake_hiobuy.client()


def _uses_fixtures(item: pytest.Item) -> bool:
    return not _FIXTURES.isdisjoint(getattr(item, "fixturenames", ()))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """Fail an anyio test on trio that pytest-asyncio would run on asyncio.

    Args:
        item: The test.
    """
    if not _uses_fixtures(item) or item.get_closest_marker("asyncio") is None:
        return
    backend = getattr(item, "funcargs", {}).get("anyio_backend")
    name = backend[0] if isinstance(backend, tuple) and backend else backend
    if isinstance(name, str) and name != "asyncio":
        pytest.fail(_HIJACKED.format(name=item.name, backend=name), pytrace=False)


def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> None:
    """Fail an async test no plugin ran with a message saying how to run it.

    Runs after the plugins that run async tests (anyio's comes first and
    stops the hook; pytest-asyncio has made the test sync by now) and before
    pytest's own call, which would fail with a generic message.

    Args:
        pyfuncitem: The test.
    """
    if _uses_fixtures(pyfuncitem) and inspect.iscoroutinefunction(pyfuncitem.obj):
        pytest.fail(_NOT_RUN.format(name=pyfuncitem.name), pytrace=False)
