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
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .._client import AsyncHiobuy
from ._backoff import no_backoff
from ._fake import FakeHiobuy

__all__ = ["fake_hiobuy", "hiobuy_client"]


@pytest.fixture
def fake_hiobuy() -> FakeHiobuy:
    """A fresh `FakeHiobuy` accepting `FakeHiobuy.DEFAULT_UUID`.

    Returns:
        The fake.
    """
    return FakeHiobuy()


@pytest.fixture
async def hiobuy_client(fake_hiobuy: FakeHiobuy) -> AsyncIterator[AsyncHiobuy]:
    """An `AsyncHiobuy` wired in process to `fake_hiobuy`, with retry backoff off.

    Needs an async test (`@pytest.mark.anyio`).

    Args:
        fake_hiobuy: The fake it talks to.

    Yields:
        The open client; it is closed after the test.
    """
    with no_backoff():
        async with fake_hiobuy.client() as client:
            yield client
