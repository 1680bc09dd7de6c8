"""RedisCache against a real redis-server: expiry, damaged values, outages, no uuid stored."""

from __future__ import annotations

import gc
import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import pytest
from redis_server import RedisServer
from test_cache import CANARY_UUID, Clock, key_for

from hiobuy_async import AsyncHiobuy, InputError
from hiobuy_async.cache import Cache, CacheEntry, RedisCache
from hiobuy_async.cache._record import SCHEMA_VERSION
from hiobuy_async.testing import FakeHiobuy

if TYPE_CHECKING:
    import coredis

# coredis 6.9 leaves the memory streams of a connection that failed to connect
# unclosed (see test_quota_redis.py): collected under this filter.
COREDIS_FAILED_CONNECT_LEAK = pytest.mark.filterwarnings(
    "ignore:Unclosed <MemoryObject:ResourceWarning"
)


@pytest.fixture
async def restarted(redis_server: RedisServer) -> AsyncIterator[RedisServer]:
    """The module's server, running again after the test even if it stopped it."""
    yield redis_server
    redis_server.start()
    gc.collect()


@pytest.fixture
def prefix() -> str:
    return f"hiobuy-test-cache:{uuid.uuid4().hex}"


def cache(server: RedisServer, prefix: str, **kwargs: object) -> RedisCache:
    # A generous timeout unless a test is about Redis failing (a busy 2-core machine).
    options: dict[str, object] = {"timeout": 2.0, **kwargs}
    return RedisCache(server.url, prefix=prefix, **options)  # type: ignore[arg-type]


async def raw_redis(server: RedisServer) -> coredis.Redis[bytes]:
    import coredis  # noqa: PLC0415 - the module must load without it, to report it missing

    redis: coredis.Redis[bytes] = coredis.Redis.from_url(server.url, decode_responses=False)
    return redis


def test_redis_cache_refuses_bad_arguments_and_hides_its_url(redis_server: RedisServer) -> None:
    with pytest.raises(InputError):
        RedisCache("")
    with pytest.raises(InputError):
        RedisCache(redis_server.url, ttl=0)
    with pytest.raises(InputError):
        RedisCache(redis_server.url, prefix="")
    secret = RedisCache("redis://:hunter2-password@10.1.2.3:6379/0")
    assert "hunter2" not in repr(secret)
    assert "10.1.2.3" not in repr(secret)


@pytest.mark.anyio
async def test_redis_cache_must_be_opened(redis_server: RedisServer, prefix: str) -> None:
    shared = cache(redis_server, prefix)
    with pytest.raises(RuntimeError, match="open the RedisCache"):
        await shared.get("k")
    async with shared:
        assert isinstance(shared, Cache)
    with pytest.raises(RuntimeError, match="closed"):
        await shared.get("k")


@pytest.mark.anyio
async def test_redis_cache_entries_expire_on_the_cache_clock_and_in_redis(
    redis_server: RedisServer, prefix: str
) -> None:
    clock = Clock()
    async with cache(redis_server, prefix, ttl=60, clock=clock) as shared:
        await shared.set("k", b'{"a": 1}')
        assert await shared.get("k") == CacheEntry(
            data=b'{"a": 1}', cached_at=clock.now, expires_at=clock.now + 60
        )
        async with await raw_redis(redis_server) as redis:
            assert 0 < await redis.pttl(f"{prefix}:k") <= 60_000
        # Another instance (another process) sees it.
        async with cache(redis_server, prefix, clock=clock) as other:
            assert await other.get("k") is not None
        clock.now += 60
        assert await shared.get("k") is None
        async with await raw_redis(redis_server) as redis:
            assert await redis.exists([f"{prefix}:k"]) == 0  # dropped


@pytest.mark.anyio
async def test_redis_cache_wrong_typed_truncated_or_other_schema_values_are_misses_and_dropped(
    redis_server: RedisServer, prefix: str
) -> None:
    async with cache(redis_server, prefix) as shared:
        await shared.set("good", b'{"items": [1, 2]}')
        async with await raw_redis(redis_server) as redis:
            record = await redis.get(f"{prefix}:good")
            assert record is not None
            await redis.set(f"{prefix}:truncated", record[:-2])
            other = record[:4] + (SCHEMA_VERSION + 1).to_bytes(2, "big") + record[6:]
            await redis.set(f"{prefix}:other-schema", other)
            await redis.set(f"{prefix}:not-json", b"{not a record")
            await redis.hset(f"{prefix}:a-hash", {"field": "value"})
            await redis.rpush(f"{prefix}:a-list", [b"x"])
            damaged = ["truncated", "other-schema", "not-json", "a-hash", "a-list"]
            for name in damaged:
                assert await shared.get(name) is None
            assert await redis.exists([f"{prefix}:{name}" for name in damaged]) == 0
        assert await shared.get("good") is not None


@pytest.mark.anyio
async def test_redis_cache_entries_over_the_size_cap_are_not_stored(
    redis_server: RedisServer, prefix: str
) -> None:
    async with cache(redis_server, prefix, max_entry_bytes=10) as shared:
        await shared.set("big", b"x" * 11)
        assert await shared.get("big") is None
        await shared.set("k", b"x")
        assert (await shared.stats()).entries == 1
        await shared.delete("k")
        await shared.set("a", b"1")
        await shared.set("b", b"2")
        await shared.clear()
        assert (await shared.stats()).entries == 0


@COREDIS_FAILED_CONNECT_LEAK
@pytest.mark.anyio
async def test_redis_cache_stopped_mid_run_goes_on_uncached_with_one_warning(
    restarted: RedisServer, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hiobuy_async")
    async with cache(restarted, prefix, timeout=0.5, retry_interval=1e-9) as shared:
        await shared.set("k", b"{}")
        assert await shared.get("k") is not None
        restarted.stop()
        with anyio.fail_after(20):
            for _ in range(5):
                assert await shared.get("k") is None  # a miss, never an error
                await shared.set("k", b"{}")
        down = [r for r in caplog.records if "unavailable" in r.getMessage()]
        assert len(down) == 1
        assert down[0].levelno == logging.WARNING
        assert restarted.url not in caplog.text
        assert str(restarted.port) not in caplog.text
        restarted.start()
        with anyio.fail_after(20):
            await shared.set("k", b"{}")
            assert await shared.get("k") is not None
        assert len([r for r in caplog.records if "available again" in r.getMessage()]) == 1
    gc.collect()


@COREDIS_FAILED_CONNECT_LEAK
@pytest.mark.anyio
async def test_a_redis_cache_opens_while_redis_is_down(
    restarted: RedisServer, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    restarted.stop()
    with anyio.fail_after(10):
        async with cache(restarted, prefix, timeout=0.5) as shared:
            assert await shared.get("k") is None
    assert len([r for r in caplog.records if "unavailable" in r.getMessage()]) == 1
    gc.collect()


@pytest.mark.anyio
async def test_the_uuid_is_nowhere_in_redis_keys_or_values(
    redis_server: RedisServer, prefix: str, tmp_path: Path
) -> None:
    async with cache(redis_server, prefix) as shared:
        for language in ("en_US", "zh_CN"):
            await shared.set(key_for(CANARY_UUID, language=language), b'{"items": []}')
        async with await raw_redis(redis_server) as redis:
            names = [name async for name in redis.scan_iter(match=f"{prefix}:*")]
            assert len(names) == 2
            values = [await redis.get(name) for name in names]
    stored = b"".join(names) + b"".join(value or b"" for value in values)
    for part in [CANARY_UUID, *(p for p in CANARY_UUID.split("-") if len(p) >= 6)]:
        assert part.encode() not in stored


@COREDIS_FAILED_CONNECT_LEAK
@pytest.mark.anyio
async def test_a_client_with_a_redis_cache_goes_on_uncached_while_redis_is_stopped(
    restarted: RedisServer, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hiobuy_async")
    fake = FakeHiobuy(uuids=(CANARY_UUID,))
    image = "https://cbu01.alicdn.com/img/ibank/O1CN01redis.jpg"
    async with (
        fake.serve() as base_url,
        cache(restarted, prefix, timeout=0.5, retry_interval=1e-9) as shared,
        AsyncHiobuy(CANARY_UUID, base_url=base_url, cache=shared, max_retries=0) as client,
    ):
        for language in ("en_US", "zh_CN"):
            await client.image_search(image, platform="1688", language=language)
        assert (await client.image_search(image, platform="1688", language="en_US")).from_cache
        assert len(fake.requests) == 2
        async with await raw_redis(restarted) as redis:
            names = [name async for name in redis.scan_iter(match=f"{prefix}:*")]
            values = [await redis.get(name) for name in names]
        assert len(names) == 2
        stored = b"".join(names) + b"".join(value or b"" for value in values)
        for part in [CANARY_UUID, *(p for p in CANARY_UUID.split("-") if len(p) >= 6)]:
            assert part.encode() not in stored
        restarted.stop()
        with anyio.fail_after(30):
            for _ in range(3):
                result = await client.image_search(image, platform="1688", language="en_US")
                assert not result.from_cache
        assert len(fake.requests) == 5
        assert len([r for r in caplog.records if "unavailable" in r.getMessage()]) == 1
    gc.collect()
