"""The opt-in pytest plugin: fixtures `fake_hiobuy` and `hiobuy_client`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hiobuy_async import AsyncHiobuy, ServerError
from hiobuy_async._retry import backoff_disabled
from hiobuy_async.testing import FakeHiobuy, Fault

pytest_plugins = ["hiobuy_async.testing.pytest_plugin"]


@pytest.mark.anyio
async def test_hiobuy_client_talks_to_fake_hiobuy(
    hiobuy_client: AsyncHiobuy, fake_hiobuy: FakeHiobuy
) -> None:
    fake_hiobuy.fail_next(1, Fault.status(503))
    assert backoff_disabled()
    result = await hiobuy_client.image_search(fake_hiobuy.sample_images()[0], platform="1688")
    assert len(result.items) == 20
    assert len(fake_hiobuy.requests) == 2


@pytest.mark.anyio
async def test_hiobuy_client_still_fails_after_its_retries(
    hiobuy_client: AsyncHiobuy, fake_hiobuy: FakeHiobuy
) -> None:
    fake_hiobuy.fail_matching("", Fault.status(500))
    with pytest.raises(ServerError):
        await hiobuy_client.image_search(fake_hiobuy.sample_images()[0], platform="1688")
    assert len(fake_hiobuy.requests) == 3  # the SDK's default: 1 + 2 retries


def test_fake_hiobuy_is_fresh_per_test(fake_hiobuy: FakeHiobuy) -> None:
    assert fake_hiobuy.requests == []
    assert fake_hiobuy.uuids == (FakeHiobuy.DEFAULT_UUID,)


def test_importing_the_testing_kit_does_not_import_pytest() -> None:
    code = "import sys, hiobuy_async.testing; print('pytest' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
