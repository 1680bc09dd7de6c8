"""Shared fixtures: every async test runs on asyncio and on trio."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from hiobuy_async._retry import set_no_backoff

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
