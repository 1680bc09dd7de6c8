"""Absurd waits cannot lock a fleet sharing a `RedisQuota` (issue #17, point 2).

Against a real redis-server: a server's `Retry-After` is never persisted
beyond 24 hours in the shared keys, and a shared slot or exhaustion no
legitimate schedule could produce (a clock stepped back, a stray writer) is
not slept: the quota warns once and paces locally.
"""

from __future__ import annotations

import logging
import uuid

import anyio
import pytest
from echo_server import echo_server, http_response
from redis_server import RedisServer
from test_quota_redis import pttl, quota

from hiobuy_async import AsyncHiobuy
from hiobuy_async.testing import no_backoff

pytestmark = pytest.mark.anyio

DAY_MS = 24 * 3600 * 1000
NICK_OK = http_response(200, b'{"ret": 1, "msg": "ok", "data": {"wangwangNick": "lamp"}}')


@pytest.fixture
def key() -> str:
    return f"hiobuy-test:{uuid.uuid4().hex}"


async def redis_set_ahead(server: RedisServer, name: str, seconds: float) -> None:
    """Set `name` to the Redis clock's now + `seconds`, in microseconds (as the scripts do)."""
    import coredis  # noqa: PLC0415

    async with coredis.Redis.from_url(server.url, decode_responses=True) as redis:
        moment = await redis.time()  # a datetime
        now = int(moment.timestamp()) * 1_000_000 + moment.microsecond
        await redis.set(name, str(now + int(seconds * 1_000_000)), px=int(seconds * 1000) + 1000)


@pytest.mark.parametrize(
    "retry_after",
    ["1765000000", "Fri, 01 Jan 2100 00:00:00 GMT", "Mon, 01 Jan 2001 00:00:00 GMT"],
    ids=["unix-timestamp", "date-years-ahead", "date-in-the-past"],
)
async def test_an_absurd_retry_after_persists_nothing_in_redis(
    redis_server: RedisServer, key: str, retry_after: str, anyio_backend: str
) -> None:
    answers = [http_response(429, headers={"Retry-After": retry_after})]

    async def reply(_: bytes) -> bytes:
        return answers.pop(0) if answers else NICK_OK

    async with (
        quota(redis_server, key) as shared,
        echo_server(reply) as (base_url, requests),
        AsyncHiobuy("u" * 36, base_url=base_url, quota=shared, max_retries=1) as client,
    ):
        with no_backoff():
            assert (await client.shop_nick("b2b-1")).wangwang_nick == "lamp"
            assert (await client.shop_nick("b2b-1")).wangwang_nick == "lamp"
        assert len(requests) == 3
    assert await pttl(redis_server, f"{{{key}}}:exhausted") == -2  # no such key
    assert await pttl(redis_server, f"{{{key}}}:pause") == -2


async def test_a_shared_exhaustion_or_pause_never_expires_beyond_24_hours(
    redis_server: RedisServer, key: str, anyio_backend: str
) -> None:
    async with quota(redis_server, key) as shared:
        await shared.exhaust_for(57 * 365 * 86400.0)
        await shared.pause_for(57 * 365 * 86400.0)
    assert 0 < await pttl(redis_server, f"{{{key}}}:exhausted") <= DAY_MS + 1000
    assert 0 < await pttl(redis_server, f"{{{key}}}:pause") <= DAY_MS + 1000


async def test_a_tat_an_hour_ahead_does_not_make_calls_sleep(
    redis_server: RedisServer, key: str, anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    await redis_set_ahead(redis_server, f"{{{key}}}:tat", 3600)
    async with quota(redis_server, key, rate=20, expected_processes=4) as shared:
        # A guard, not a timing check: sleeping the shared slot would trip it.
        with anyio.fail_after(10):
            for _ in range(5):
                await shared.acquire()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and key in r.getMessage()]
    assert len(warnings) == 1  # warned once, not per call
    assert "pacing locally" in warnings[0].getMessage()


async def test_a_stray_exhaustion_decades_ahead_does_not_lock_the_fleet(
    redis_server: RedisServer, key: str, anyio_backend: str
) -> None:
    # Written by an older SDK, or by hand: longer than any server wait.
    await redis_set_ahead(redis_server, f"{{{key}}}:exhausted", 57 * 365 * 86400.0)
    async with quota(redis_server, key) as shared:
        with anyio.fail_after(10):
            await shared.acquire()  # does not raise QuotaExhaustedError
