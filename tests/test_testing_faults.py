"""Scripted faults give the SDK's errors, in process and over real sockets alike."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from hiobuy_async import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AsyncHiobuy,
    RateLimitError,
    ResponseValidationError,
    ServerError,
)
from hiobuy_async._retry import backoff_disabled
from hiobuy_async.testing import FakeHiobuy, Fault, no_backoff

IMG = FakeHiobuy.sample_images()[0]
CARRIERS = ["in_process", "socket"]


@asynccontextmanager
async def connect(fake: FakeHiobuy, via: str, **kwargs: Any) -> AsyncIterator[AsyncHiobuy]:
    """An SDK client talking to `fake` in process or over a real socket."""
    if via == "in_process":
        async with fake.client(**kwargs) as client:
            yield client
        return
    async with (
        fake.serve() as base_url,
        AsyncHiobuy(FakeHiobuy.DEFAULT_UUID, base_url=base_url, **kwargs) as client,
    ):
        yield client


@pytest.mark.anyio
@pytest.mark.parametrize("via", CARRIERS)
async def test_5xx_beyond_retries_is_a_server_error(via: str) -> None:
    fake = FakeHiobuy()
    fake.fail_next(3, Fault.status(503))
    with no_backoff():
        async with connect(fake, via, max_retries=2) as client:
            with pytest.raises(ServerError) as caught:
                await client.image_search(IMG, platform="1688")
    assert caught.value.status_code == 503
    assert caught.value.request_id == "fake-000003"
    assert len(fake.requests) == 3
    assert [r.fault for r in fake.requests] == [Fault.status(503)] * 3


@pytest.mark.anyio
@pytest.mark.parametrize("via", CARRIERS)
async def test_a_502_sends_a_proxy_html_page(via: str) -> None:
    fake = FakeHiobuy()
    fake.fail_next(1, Fault.status(502))
    async with connect(fake, via, max_retries=0) as client:
        with pytest.raises(ServerError) as caught:
            await client.image_search(IMG, platform="1688")
    assert caught.value.status_code == 502
    assert caught.value.body_excerpt is not None
    assert "502 Bad Gateway" in caught.value.body_excerpt


@pytest.mark.anyio
@pytest.mark.parametrize("via", CARRIERS)
async def test_one_503_then_success_recovers(via: str) -> None:
    fake = FakeHiobuy()
    fake.fail_next(1, Fault.status(503))
    with no_backoff():
        async with connect(fake, via, max_retries=1) as client:
            result = await client.image_search(IMG, platform="1688")
    assert len(result.items) == 20
    assert result.request_id == "fake-000002"
    assert [r.fault is None for r in fake.requests] == [False, True]


@pytest.mark.anyio
@pytest.mark.parametrize("via", CARRIERS)
async def test_429_is_a_rate_limit_error_with_retry_after(via: str) -> None:
    fake = FakeHiobuy()
    fake.fail_next(1, Fault.rate_limit(retry_after=0.05))
    async with connect(fake, via, max_retries=0) as client:
        with pytest.raises(RateLimitError) as caught:
            await client.image_search(IMG, platform="1688")
    assert caught.value.retry_after == pytest.approx(0.05)


@pytest.mark.anyio
async def test_429_without_retry_after_sends_no_header() -> None:
    fake = FakeHiobuy()
    fake.fail_next(1, Fault.rate_limit(retry_after=None))
    async with fake.client(max_retries=0) as client:
        with pytest.raises(RateLimitError) as caught:
            await client.image_search(IMG, platform="1688")
    assert caught.value.retry_after is None


@pytest.mark.anyio
@pytest.mark.parametrize("via", CARRIERS)
async def test_stall_past_the_client_timeout_is_a_timeout(via: str) -> None:
    fake = FakeHiobuy()
    fake.fail_next(1, Fault.stall(5.0))
    async with connect(fake, via, max_retries=0, timeout=0.05) as client:
        with pytest.raises(APITimeoutError):
            await client.image_search(IMG, platform="1688")


@pytest.mark.anyio
async def test_a_short_stall_still_answers() -> None:
    fake = FakeHiobuy()
    fake.fail_next(1, Fault.stall(0.01))
    async with fake.client(max_retries=0) as client:
        result = await client.image_search(IMG, platform="1688")
    assert len(result.items) == 20


@pytest.mark.anyio
@pytest.mark.parametrize("via", CARRIERS)
async def test_latency_counts_against_the_timeout(via: str) -> None:
    fake = FakeHiobuy(latency=5.0)
    async with connect(fake, via, max_retries=0, timeout=0.05) as client:
        with pytest.raises(APITimeoutError):
            await client.image_search(IMG, platform="1688")


@pytest.mark.anyio
@pytest.mark.parametrize("via", CARRIERS)
async def test_reset_mid_body_is_a_connection_error(via: str) -> None:
    fake = FakeHiobuy()
    fake.fail_next(1, Fault.reset())
    async with connect(fake, via, max_retries=0) as client:
        with pytest.raises(APIConnectionError) as caught:
            await client.image_search(IMG, platform="1688")
        assert not isinstance(caught.value, APITimeoutError)
        # The client recovers on a fresh connection.
        result = await client.image_search(IMG, platform="1688")
    assert len(result.items) == 20


@pytest.mark.anyio
@pytest.mark.parametrize("via", CARRIERS)
async def test_malformed_json_is_a_validation_error(via: str) -> None:
    fake = FakeHiobuy()
    fake.fail_next(1, Fault.malformed())
    async with connect(fake, via, max_retries=2) as client:
        with pytest.raises(ResponseValidationError):
            await client.image_search(IMG, platform="1688")
    assert len(fake.requests) == 1


@pytest.mark.anyio
@pytest.mark.parametrize("via", CARRIERS)
async def test_api_error_carries_ret_and_msg(via: str) -> None:
    fake = FakeHiobuy()
    fake.fail_next(1, Fault.api_error(ret=-3, msg="quota exhausted"))
    async with connect(fake, via, max_retries=2) as client:
        with pytest.raises(APIError) as caught:
            await client.image_search(IMG, platform="1688")
    assert caught.value.ret == -3
    assert caught.value.msg == "quota exhausted"
    assert len(fake.requests) == 1


@pytest.mark.anyio
async def test_fail_matching_hits_only_matching_images_and_counts_down() -> None:
    fake = FakeHiobuy()
    bad, good = FakeHiobuy.sample_images()[4], FakeHiobuy.sample_images()[5]
    fake.fail_matching("Sample05", Fault.api_error(msg="nope"), times=2)
    async with fake.client(max_retries=0) as client:
        await client.image_search(good, platform="1688")
        for _ in range(2):
            with pytest.raises(APIError):
                await client.image_search(bad, platform="1688")
        result = await client.image_search(bad, platform="1688")
    assert len(result.items) == 20
    assert fake.stats.faults == 2


@pytest.mark.anyio
async def test_fail_matching_without_times_always_fails_and_beats_fail_next() -> None:
    fake = FakeHiobuy()
    fake.fail_matching("Sample01", Fault.status(500))
    fake.fail_next(1, Fault.api_error())
    async with fake.client(max_retries=0) as client:
        for _ in range(3):
            with pytest.raises(ServerError):
                await client.image_search(IMG, platform="1688")
        with pytest.raises(APIError):
            await client.image_search(FakeHiobuy.sample_images()[1], platform="1688")
        await client.image_search(FakeHiobuy.sample_images()[1], platform="1688")


@pytest.mark.anyio
async def test_fail_next_queues_in_order() -> None:
    fake = FakeHiobuy()
    fake.fail_next(1, Fault.status(503))
    fake.fail_next(1, Fault.malformed())
    async with fake.client(max_retries=0) as client:
        with pytest.raises(ServerError):
            await client.image_search(IMG, platform="1688")
        with pytest.raises(ResponseValidationError):
            await client.image_search(IMG, platform="1688")
        await client.image_search(IMG, platform="1688")


def test_fault_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="status"):
        Fault.status(999)
    fake = FakeHiobuy()
    with pytest.raises(ValueError, match="n must"):
        fake.fail_next(-1, Fault.reset())
    with pytest.raises(ValueError, match="times"):
        fake.fail_matching("x", Fault.reset(), times=-1)


def test_status_body_may_be_given() -> None:
    assert Fault.status(500, body="oops").body == b"oops"
    assert Fault.status(404).body.startswith(b"{")


def test_no_backoff_restores_the_previous_state() -> None:
    assert not backoff_disabled()
    with no_backoff():
        assert backoff_disabled()
        with no_backoff():
            assert backoff_disabled()
        assert backoff_disabled()
    assert not backoff_disabled()
