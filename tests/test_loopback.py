"""The client over real loopback sockets: what only a real connection shows.

Each fault is followed by plain requests on the same client, to check that
the pool still serves requests afterwards.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import anyio
import httpx
import pytest

from hiobuy_async import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AsyncHiobuy,
    QuotaExhaustedError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
)
from hiobuy_async.testing import FakeHiobuy, Fault

pytestmark = pytest.mark.anyio

LoopbackClient = Callable[..., AsyncHiobuy]  # the conftest's loopback_client fixture

IMAGE = "https://cbu01.alicdn.com/img/ibank/loopback.jpg"


@pytest.fixture
def make_client(loopback_client: LoopbackClient) -> LoopbackClient:
    return functools.partial(loopback_client, timeout=2.0, max_connections=4)


async def assert_pool_healthy(client: AsyncHiobuy, fake: FakeHiobuy, n: int = 8) -> None:
    before = len(fake.requests)
    async with anyio.create_task_group() as tg:
        for i in range(n):
            tg.start_soon(_search_ok, client, f"https://cdn.test/healthy/{i}.jpg")
    assert len(fake.requests) == before + n


async def _search_ok(client: AsyncHiobuy, img: str) -> None:
    result = await client.image_search(img, platform="1688")
    assert len(result.items) == 20


async def test_success_over_sockets_reuses_connections(
    served: tuple[FakeHiobuy, str], make_client: LoopbackClient
) -> None:
    fake, base_url = served
    async with make_client(base_url) as client:
        result = await client.image_search(IMAGE, platform="1688", language="en_US")
        for _ in range(10):
            await client.image_search(IMAGE, platform="1688")
    assert len(result.items) == 20
    assert result.request_id is not None
    assert result.request_id.startswith("fake-")
    assert fake.stats.connections == 1  # keep-alive: one connection for 11 sequential calls


async def test_503_then_success_is_retried(
    served: tuple[FakeHiobuy, str], make_client: LoopbackClient
) -> None:
    fake, base_url = served
    fake.fail_next(1, Fault.status(503))
    async with make_client(base_url) as client:
        result = await client.image_search(IMAGE, platform="1688")
        assert result.items
        assert len(fake.requests) == 2
        await assert_pool_healthy(client, fake)


async def test_429_retry_after_is_honoured_then_succeeds(
    served: tuple[FakeHiobuy, str], make_client: LoopbackClient
) -> None:
    fake, base_url = served
    fake.fail_next(1, Fault.rate_limit(retry_after=0.05))
    async with make_client(base_url) as client:
        started = anyio.current_time()
        await client.image_search(IMAGE, platform="1688")
        waited = anyio.current_time() - started
        assert waited >= 0.045  # a lower bound: it slept at least Retry-After
        await assert_pool_healthy(client, fake)


async def test_429_beyond_max_retry_after_fails_at_once(
    served: tuple[FakeHiobuy, str], make_client: LoopbackClient
) -> None:
    fake, base_url = served
    fake.fail_next(1, Fault.rate_limit(retry_after=30))
    async with make_client(base_url, max_retry_after=1.0) as client:
        with pytest.raises(RateLimitError) as info:
            await client.image_search(IMAGE, platform="1688")
        assert isinstance(info.value, QuotaExhaustedError)
        assert info.value.retry_after == 30
        assert info.value.request_id is not None
        assert len(fake.requests) == 1
        # The client's quota is exhausted for 30 s: calls fail without a request.
        with pytest.raises(QuotaExhaustedError):
            await client.image_search(IMAGE, platform="1688")
        assert len(fake.requests) == 1


async def test_connection_reset_mid_body(
    served: tuple[FakeHiobuy, str], make_client: LoopbackClient
) -> None:
    fake, base_url = served
    fake.fail_matching("reset", Fault.reset())
    async with make_client(base_url, max_retries=1) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.image_search("https://cdn.test/reset.jpg", platform="1688")
        assert not isinstance(info.value, APITimeoutError)
        assert len(fake.requests) == 2  # retried once
        await assert_pool_healthy(client, fake)


async def test_stall_past_the_timeout(
    served: tuple[FakeHiobuy, str], make_client: LoopbackClient
) -> None:
    fake, base_url = served
    fake.fail_matching("stall", Fault.stall(5.0))
    async with make_client(base_url, timeout=httpx.Timeout(2.0, read=0.1), max_retries=1) as client:
        with pytest.raises(APITimeoutError):
            await client.image_search("https://cdn.test/stall.jpg", platform="1688")
        assert len(fake.requests) == 2
        await assert_pool_healthy(client, fake)


async def test_deadline_bounds_all_attempts(
    served: tuple[FakeHiobuy, str], make_client: LoopbackClient
) -> None:
    fake, base_url = served
    fake.fail_matching("stall", Fault.stall(5.0))
    async with make_client(base_url, timeout=2.0, deadline=0.2, max_retries=5) as client:
        with pytest.raises(APITimeoutError, match="deadline"):
            await client.image_search("https://cdn.test/stall.jpg", platform="1688")
        # The pool, not the 0.2 s deadline, is under test now: 8 calls queue on 4
        # connections, which a loaded machine can take longer than 0.2 s to serve.
        await assert_pool_healthy(client.with_options(deadline=None), fake)


async def test_html_502_page(served: tuple[FakeHiobuy, str], make_client: LoopbackClient) -> None:
    fake, base_url = served
    fake.fail_matching("proxy", Fault.status(502))
    async with make_client(base_url, max_retries=0) as client:
        with pytest.raises(ServerError) as info:
            await client.image_search("https://cdn.test/proxy.jpg", platform="1688")
        assert info.value.status_code == 502
        assert info.value.body_excerpt is not None
        assert "Bad Gateway" in info.value.body_excerpt
        assert "\n" not in info.value.body_excerpt
        await assert_pool_healthy(client, fake)


async def test_truncated_json_is_not_retried(
    served: tuple[FakeHiobuy, str], make_client: LoopbackClient
) -> None:
    fake, base_url = served
    fake.fail_matching("broken", Fault.malformed())
    async with make_client(base_url) as client:
        with pytest.raises(ResponseValidationError) as info:
            await client.image_search("https://cdn.test/broken.jpg", platform="1688")
        assert info.value.request_id is not None
        assert len(fake.requests) == 1
        await assert_pool_healthy(client, fake)


async def test_ret_not_1_is_an_api_error(
    served: tuple[FakeHiobuy, str], make_client: LoopbackClient
) -> None:
    fake, base_url = served
    async with make_client(base_url) as client:
        with pytest.raises(APIError) as info:
            await client.image_search("https://cdn.test/unfetchable.jpg", platform="1688")
        assert info.value.ret != 1
        assert info.value.msg
        assert len(fake.requests) == 1
        await assert_pool_healthy(client, fake)


async def test_body_cap_over_sockets(
    served: tuple[FakeHiobuy, str], make_client: LoopbackClient
) -> None:
    fake, base_url = served
    async with make_client(base_url, max_response_bytes=1024) as client:
        with pytest.raises(ResponseValidationError, match="1024"):
            await client.image_search(IMAGE, platform="1688")
    async with make_client(base_url) as client:
        await assert_pool_healthy(client, fake)


async def test_caller_supplied_http_client_is_left_open(
    served: tuple[FakeHiobuy, str], make_client: LoopbackClient
) -> None:
    _fake, base_url = served
    async with httpx.AsyncClient(follow_redirects=True) as http_client:
        async with make_client(base_url, http_client=http_client) as client:
            await client.image_search(IMAGE, platform="taobao")
        assert not http_client.is_closed
        response = await http_client.get(base_url + "/")
        assert response.status_code >= 400  # still usable by its owner
