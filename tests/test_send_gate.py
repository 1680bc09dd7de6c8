"""One gate for every request on the wire (issue #17, points 1-3), proved at the server.

Arrivals are counted where they land: a loopback server (`echo_server`, which
answers each request with exactly the bytes a test scripts, or a served
`FakeHiobuy`, which records each arrival's time). Every test runs on asyncio
and trio; the engine-parametrised ones on httpx, httpx2 and aiohttp.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from typing import Any

import anyio
import attrs
import pytest
from echo_server import echo_server, http_response
from helpers import ENGINES, unused_port
from test_quota_local import most_in_any_window

from hiobuy_async import (
    APIConnectionError,
    APIError,
    AsyncHiobuy,
    Failed,
    HiobuyError,
    Ok,
    OrderOutcomeUnknownError,
)
from hiobuy_async._endpoints.shop_nick import shop_nick_request
from hiobuy_async._request import ApiRequest
from hiobuy_async.testing import FakeHiobuy, no_backoff

pytestmark = pytest.mark.anyio

UUID = "5b1d7c3e-9a40-4f6e-8d21-0c7f3a9b2e64"
every_engine = pytest.mark.parametrize("engine", ENGINES)

SEARCH_OK = json.dumps(
    {
        "ret": 1,
        "msg": "success",
        "data": {"items": {"item": [{"num_iid": 1, "title": "Lamp", "price": "1.00"}]}},
    }
).encode()
NICK_OK = json.dumps({"ret": 1, "msg": "success", "data": {"wangwangNick": "lamp"}}).encode()


def ok(body: bytes = SEARCH_OK) -> bytes:
    return http_response(200, body, headers={"Content-Type": "application/json"})


def client_for(
    base_url: str, engine: str | None, *, uuid: str = UUID, **kwargs: Any
) -> AsyncHiobuy:
    """A client on `engine` (`None`: the SDK's choice, or `HIOBUY_TRANSPORT`), tiny backoff."""
    client = AsyncHiobuy(uuid, base_url=base_url, transport=engine, **kwargs)  # type: ignore[arg-type]
    client._pipeline.retry_policy = attrs.evolve(
        client._pipeline.retry_policy, initial_backoff=0.001
    )
    return client


def image(i: int) -> str:
    return f"https://cdn.test/gate/{i}.jpg"


def image_of(request: bytes) -> str:
    _, _, body = request.partition(b"\r\n\r\n")
    return str(json.loads(body)["img"])


# --- point 1: the attempt bound holds at the server ------------------------------------

BATCH = 2000


@every_engine
async def test_a_batch_against_resets_5xx_and_stalls_never_exceeds_1_plus_max_retries_arrivals(
    engine: str, anyio_backend: str
) -> None:
    # Faults land on kept-alive connections (each serves many requests before
    # one is dropped). The backends' own stale keep-alive resend used to add
    # an arrival the policy never saw: 4 arrivals with max_retries=2.
    arrivals: Counter[str] = Counter()

    async def reply(request: bytes) -> bytes | None:
        url = image_of(request)
        arrivals[url] += 1
        n = arrivals[url]
        i = int(url.rsplit("/", 1)[1].split(".")[0])
        if n == 1 and i % 4 == 0:
            return None  # read, then closed unanswered: may have been acted on
        if n == 1 and i % 4 == 1:
            return http_response(503, b"<html>busy</html>")
        if n == 1 and i % 50 == 2:
            await anyio.sleep_forever()  # a stall past the timeout
        if n <= 3 and i % 8 == 0:
            return None  # dropped again: this item fails after 1 + max_retries
        return ok()

    async with (
        echo_server(reply) as (base_url, _),
        client_for(base_url, engine, max_retries=2, timeout=2.0, max_connections=32) as client,
    ):
        with no_backoff():
            outcomes = await client.search_many(
                [image(i) for i in range(BATCH)],
                platform="1688",
                concurrency=32,
                retry_budget=10.0,  # the bound under test is max_retries, not the budget
            )
    assert len(arrivals) == BATCH
    assert max(arrivals.values()) == 3  # 1 + max_retries, never more
    dropped_for_good = {i for i in range(BATCH) if i % 8 == 0}
    failed = {o.index for o in outcomes if isinstance(o, Failed)}
    # (On a loaded machine an answer may also miss the timeout now and then.)
    assert dropped_for_good <= failed
    assert all(arrivals[image(i)] == 3 for i in dropped_for_good)
    assert len(outcomes) == BATCH
    assert sum(isinstance(o, Ok) for o in outcomes) == BATCH - len(failed)


# --- point 1: limiters in series hold at the server ------------------------------------


async def test_a_batch_capped_at_8_inside_a_client_at_20_never_exceeds_9_arrivals_a_second(
    anyio_backend: str,
) -> None:
    # The batch's slot used to be taken before the client's wait, so requests
    # queued behind the client's limiter left in a burst: 12-13 a second.
    fake = FakeHiobuy()
    capped = [f"https://cdn.test/capped/{i}.jpg" for i in range(20)]
    other = [f"https://cdn.test/other/{i}.jpg" for i in range(20)]
    async with (
        fake.serve() as base_url,
        client_for(base_url, None, uuid=FakeHiobuy.DEFAULT_UUID, rate_limit=20) as client,
    ):

        async def capped_batch() -> None:
            await client.search_many(capped, platform="1688", concurrency=8, rate_limit=8)

        async def other_batch() -> None:
            await client.search_many(other, platform="1688", concurrency=8)

        async def singles() -> None:
            for i in range(10):
                await client.image_search(f"https://cdn.test/single/{i}.jpg", platform="1688")

        async with anyio.create_task_group() as tg:
            tg.start_soon(other_batch)
            tg.start_soon(singles)
            tg.start_soon(capped_batch)
    times = [
        r.time for r in fake.requests if r.json is not None and "/capped/" in str(r.json["img"])
    ]
    assert len(times) == len(capped)
    assert most_in_any_window(times) <= 9


# --- point 2: server-supplied waits are bounded ----------------------------------------


@pytest.mark.parametrize(
    "retry_after",
    ["1765000000", "Fri, 01 Jan 2100 00:00:00 GMT", "Mon, 01 Jan 2001 00:00:00 GMT"],
    ids=["unix-timestamp", "date-years-ahead", "date-in-the-past"],
)
async def test_an_absurd_retry_after_locks_nothing_locally(
    retry_after: str, anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    answers = [http_response(429, headers={"Retry-After": retry_after}), ok(NICK_OK)]

    async def reply(_: bytes) -> bytes:
        return answers.pop(0) if answers else ok(NICK_OK)

    async with (
        echo_server(reply) as (base_url, requests),
        client_for(base_url, None, max_retries=1) as client,
    ):
        # Treated as absent: retried on the SDK's own backoff, nothing exhausted.
        assert (await client.shop_nick("b2b-1")).wangwang_nick == "lamp"
        assert (await client.shop_nick("b2b-1")).wangwang_nick == "lamp"
        assert len(requests) == 3
        assert client._pipeline.quota._exhausted_until == -float("inf")  # type: ignore[attr-defined]


async def test_no_quota_holds_a_pause_or_exhaustion_beyond_24_hours(anyio_backend: str) -> None:
    from hiobuy_async.quota import LocalQuota  # noqa: PLC0415

    quota = LocalQuota(rate=None)
    now = anyio.current_time()
    await quota.exhaust_for(57 * 365 * 86400.0)
    assert quota._exhausted_until <= now + 86400.0 + 1.0
    await quota.pause_for(57 * 365 * 86400.0)
    assert quota._pause._until <= anyio.current_time() + 86400.0


async def test_a_wait_longer_than_the_deadline_fails_at_once(anyio_backend: str) -> None:
    # A 429 asks 60 s; the call has a 20 s deadline: it fails now, without
    # sleeping to the deadline, and no request is sent in vain.
    answers = [http_response(429, headers={"Retry-After": "60"})]

    async def reply(_: bytes) -> bytes:
        return answers.pop(0) if answers else ok(NICK_OK)

    async with (
        echo_server(reply) as (base_url, requests),
        client_for(base_url, None, max_retries=3, max_retry_after=120, deadline=20.0) as client,
    ):
        # A guard, not a timing check: sleeping to the deadline would trip it.
        with anyio.fail_after(10):
            with pytest.raises(HiobuyError):
                await client.shop_nick("b2b-1")
            # Later calls would wait out the shared pause: they fail at once too.
            with pytest.raises(HiobuyError) as info:
                await client.shop_nick("b2b-2")
        assert "deadline" in str(info.value)
        assert len(requests) == 1


# --- point 3: an operation that must not run twice -------------------------------------


def unsafe_request(**fields: Any) -> ApiRequest[Any]:
    request = shop_nick_request("b2b-22130458a1")
    return attrs.evolve(request, safe_to_repeat=False, **fields)


@every_engine
async def test_unsafe_to_repeat_connect_refused_is_retried_as_not_sent(
    engine: str, anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hiobuy_async")
    port = unused_port()  # nothing listens there: connect refused
    async with client_for(f"http://127.0.0.1:{port}", engine, max_retries=2) as client:
        with no_backoff(), pytest.raises(APIConnectionError) as info:
            await client._pipeline.call(unsafe_request())
    assert type(info.value) is APIConnectionError
    assert info.value.delivery == "not_sent"
    assert len([r for r in caplog.records if "retrying" in r.getMessage()]) == 2


@every_engine
@pytest.mark.parametrize("kind", ["reset-after-read", "5xx", "stall"])
async def test_unsafe_to_repeat_after_it_may_have_left_is_outcome_unknown_with_one_arrival(
    engine: str, kind: str, anyio_backend: str
) -> None:
    async def reply(_: bytes) -> bytes | None:
        if kind == "5xx":
            return http_response(502, b"<html>bad gateway</html>")
        if kind == "stall":
            await anyio.sleep_forever()
        return None

    async with (
        echo_server(reply) as (base_url, requests),
        client_for(base_url, engine, max_retries=3, timeout=0.3) as client,
    ):
        with no_backoff(), pytest.raises(OrderOutcomeUnknownError) as info:
            await client._pipeline.call(
                unsafe_request(idempotency_key="idem-1", client_reference="ref-1")
            )
        assert len(requests) == 1
    error = info.value
    assert error.attempts == 1
    assert error.idempotency_key == "idem-1"
    assert error.client_reference == "ref-1"
    assert error.endpoint == "shop_nick"
    assert isinstance(error.__cause__, HiobuyError)
    assert UUID not in f"{error!r} {error} {error.__cause__}"


@every_engine
async def test_unsafe_to_repeat_429_then_success_is_retried(
    engine: str, anyio_backend: str
) -> None:
    answers = [http_response(429, headers={"Retry-After": "0.01"})]

    async def reply(_: bytes) -> bytes:
        return answers.pop(0) if answers else ok(NICK_OK)

    async with (
        echo_server(reply) as (base_url, requests),
        client_for(base_url, engine, max_retries=2) as client,
    ):
        with no_backoff():
            result = await client._pipeline.call(unsafe_request())
        assert result.wangwang_nick == "lamp"
        assert len(requests) == 2


@every_engine
async def test_unsafe_to_repeat_ret_not_1_is_a_definite_api_error(
    engine: str, anyio_backend: str
) -> None:
    async def reply(_: bytes) -> bytes:
        return ok(b'{"ret": 0, "msg": "refused"}')

    async with (
        echo_server(reply) as (base_url, requests),
        client_for(base_url, engine, max_retries=2) as client,
    ):
        with pytest.raises(APIError):
            await client._pipeline.call(unsafe_request())
        assert len(requests) == 1
