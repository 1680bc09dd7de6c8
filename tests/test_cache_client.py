"""A client with a response cache, at the fake server's side (loopback sockets).

What reaches the server, what is stored, what a hit costs (no request, no quota slot), locale
and merchant isolation, single-flight, batches, and damaged entries.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest
from helpers import MakeCache
from test_cache import Clock, files_bytes
from test_endpoint_create_order import ORDER
from test_endpoint_preview_order import ADDRESS, PERSONAL

from hiobuy_async import (
    APIError,
    AsyncHiobuy,
    ClientClosedError,
    HiobuyError,
    ImageSearchResult,
    InputError,
    Ok,
    OrderLine,
    Progress,
    QuotaExhaustedError,
)
from hiobuy_async.cache import Cache, CacheEntry, MemoryCache, SQLiteCache
from hiobuy_async.cache._record import pack, unpack
from hiobuy_async.quota import LocalQuota
from hiobuy_async.testing import FakeHiobuy, Fault

pytestmark = pytest.mark.anyio

IMG = "https://cbu01.alicdn.com/img/ibank/O1CN01cache.jpg"
UUID_A = "5f0c2d1e-8b7a-4c3d-9e2f-a1b2c3d4e5f6"
UUID_B = "0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d"


@pytest.fixture
async def served() -> AsyncIterator[tuple[FakeHiobuy, str]]:
    fake = FakeHiobuy(uuids=(UUID_A, UUID_B))
    async with fake.serve() as base_url:
        yield fake, base_url


def client(base_url: str, cache: Cache | None, uuid: str = UUID_A, **kwargs: Any) -> AsyncHiobuy:
    return AsyncHiobuy(uuid, base_url=base_url, cache=cache, max_retries=0, **kwargs)


class CountingQuota(LocalQuota):
    """A client quota that counts the slots taken."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.slots = 0

    async def acquire(self) -> None:
        await super().acquire()
        self.slots += 1


async def entries(cache: Cache) -> int:
    stats = await cache.stats()  # type: ignore[attr-defined]
    return int(stats.entries)


async def test_cache_hit_is_the_fresh_result_marked_and_sends_nothing(
    served: tuple[FakeHiobuy, str], make_cache: MakeCache
) -> None:
    fake, base_url = served
    clock = Clock()
    cache = make_cache(clock=clock)
    async with client(base_url, cache) as hiobuy:
        fresh = await hiobuy.image_search(IMG, platform="1688", language="en_US")
        hit = await hiobuy.image_search(IMG, platform="1688", language="en_US")
        assert len(fake.requests) == 1
        assert type(hit) is ImageSearchResult
        assert hit == fresh
        assert hit.raw == fresh.raw
        assert hit.request_id == fresh.request_id
        assert (fresh.from_cache, fresh.cached_at) == (False, None)
        assert hit.from_cache
        assert hit.cached_at is not None
        assert hit.cached_at.timestamp() == clock.now
        for read in range(2):  # the other three reads too
            details = await hiobuy.product_details(fresh.items[0])
            page = await hiobuy.keyword_search("desk lamp", platform="1688")
            assert details.shop_id is not None
            nick = await hiobuy.shop_nick(details.shop_id)
            assert [details.from_cache, page.from_cache, nick.from_cache] == [read == 1] * 3
        assert len(fake.requests) == 4
    await cache.aclose()


async def test_cache_isolates_locales_and_merchants(
    served: tuple[FakeHiobuy, str], make_cache: MakeCache
) -> None:
    fake, base_url = served
    cache = make_cache()
    fresh: dict[tuple[str, str], ImageSearchResult] = {}
    for _ in range(2):
        for uuid in (UUID_A, UUID_B):
            async with client(base_url, cache, uuid=uuid) as hiobuy:
                for language in ("zh_CN", "en_US"):
                    result = await hiobuy.image_search(IMG, platform="1688", language=language)
                    if (uuid, language) in fresh:
                        assert result.from_cache
                        assert result == fresh[uuid, language]  # never another's answer
                    else:
                        fresh[uuid, language] = result
    assert len(fake.requests) == 4
    assert await entries(cache) == 4
    titles = {language: fresh[UUID_A, language].items[0].title for language in ("zh_CN", "en_US")}
    assert titles["zh_CN"] != titles["en_US"]
    await cache.aclose()


@pytest.mark.parametrize(
    "fault",
    [
        Fault.api_error(ret=0, msg="product offline"),
        Fault.status(500),
        Fault.status(503),
        Fault.rate_limit(retry_after=0.001),
        Fault.malformed(),
    ],
    ids=["ret-0", "500", "503", "429", "malformed"],
)
async def test_failed_answers_are_never_cached(
    served: tuple[FakeHiobuy, str], make_cache: MakeCache, fault: Fault
) -> None:
    fake, base_url = served
    cache = make_cache()
    fake.fail_next(1, fault)
    async with client(base_url, cache) as hiobuy:
        with pytest.raises(HiobuyError):
            await hiobuy.image_search(IMG, platform="1688")
        assert await entries(cache) == 0
        fresh = await hiobuy.image_search(IMG, platform="1688")
        assert not fresh.from_cache
        assert (await hiobuy.image_search(IMG, platform="1688")).from_cache
    assert len(fake.requests) == 2
    await cache.aclose()


async def test_oversized_answers_are_never_cached(
    served: tuple[FakeHiobuy, str], make_cache: MakeCache
) -> None:
    fake, base_url = served
    cache = make_cache()
    async with client(base_url, cache, max_response_bytes=1000) as hiobuy:  # over the body cap
        with pytest.raises(HiobuyError):
            await hiobuy.image_search(IMG, platform="1688")
    small = make_cache(max_entry_bytes=1000)  # over the cache's own cap
    async with client(base_url, small) as hiobuy:
        for _ in range(2):
            assert not (await hiobuy.image_search(IMG, platform="1688")).from_cache
    assert await entries(cache) == 0
    assert await entries(small) == 0
    assert len(fake.requests) == 3
    await cache.aclose()
    await small.aclose()


async def test_fifty_concurrent_identical_calls_make_one_request(
    served: tuple[FakeHiobuy, str], make_cache: MakeCache
) -> None:
    fake, base_url = served
    cache = make_cache()
    results: list[ImageSearchResult] = []
    async with client(base_url, cache) as hiobuy:

        async def one() -> None:
            results.append(await hiobuy.image_search(IMG, platform="1688"))

        fake.hold()
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for _ in range(50):
                    tg.start_soon(one)
                await fake.wait_for_in_flight(1)
                await anyio.wait_all_tasks_blocked()
                fake.release()
    assert len(fake.requests) == 1
    assert len(results) == 50
    assert all(result == results[0] for result in results)
    await cache.aclose()


async def test_concurrent_identical_calls_share_the_error_and_nothing_is_stored(
    served: tuple[FakeHiobuy, str],
) -> None:
    fake, base_url = served
    cache = MemoryCache()
    fake.fail_next(1, Fault.api_error(ret=0, msg="system busy"))
    errors: list[BaseException] = []
    async with client(base_url, cache) as hiobuy:

        async def one() -> None:
            try:
                await hiobuy.image_search(IMG, platform="1688")
            except APIError as error:
                errors.append(error)

        fake.hold()
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for _ in range(10):
                    tg.start_soon(one)
                await fake.wait_for_in_flight(1)
                await anyio.wait_all_tasks_blocked()
                fake.release()
        assert len(errors) == 10
        assert len(fake.requests) == 1
        assert len(cache) == 0
        assert not (await hiobuy.image_search(IMG, platform="1688")).from_cache
    assert len(fake.requests) == 2


async def test_a_hit_takes_no_quota_slot_even_when_the_quota_is_exhausted(
    served: tuple[FakeHiobuy, str], make_cache: MakeCache
) -> None:
    fake, base_url = served
    cache = make_cache()
    quota = CountingQuota(rate=None)
    async with client(base_url, cache, quota=quota) as hiobuy:
        await hiobuy.image_search(IMG, platform="1688")
        assert quota.slots == 1
        await quota.exhaust_for(60)
        for _ in range(3):
            assert (await hiobuy.image_search(IMG, platform="1688")).from_cache
        with pytest.raises(QuotaExhaustedError):  # a miss needs a slot
            await hiobuy.image_search(IMG + "?other", platform="1688")
    assert quota.slots == 1
    assert len(fake.requests) == 1
    await cache.aclose()


async def test_cache_ttl_per_call_zero_bypasses_and_a_timedelta_expires(
    served: tuple[FakeHiobuy, str], make_cache: MakeCache
) -> None:
    fake, base_url = served
    clock = Clock()
    cache = make_cache(clock=clock)
    async with client(base_url, cache) as hiobuy:
        product = 642895393547
        first = await hiobuy.product_details(product, platform="1688")
        live = await hiobuy.product_details(product, platform="1688", cache_ttl=0)
        assert not live.from_cache  # a live stock check: neither read nor stored
        assert len(fake.requests) == 2
        assert await entries(cache) == 1
        assert not first.from_cache
        nick = first.shop_id
        assert nick is not None
        await hiobuy.shop_nick(nick, cache_ttl=timedelta(seconds=30))
        clock.now += 29
        assert (await hiobuy.shop_nick(nick)).from_cache
        clock.now += 1
        assert not (await hiobuy.shop_nick(nick)).from_cache  # expired after 30 s, not 24 h
        pager = hiobuy.keyword_search_pages("desk lamp", platform="1688", max_pages=2)
        assert [page.from_cache async for page in pager] == [False, False]
        again = hiobuy.keyword_search_pages("desk lamp", platform="1688", max_pages=2)
        assert [page.from_cache async for page in again] == [True, True]
        sent = len(fake.requests)
        for bad in [-1, float("nan"), "60", timedelta(seconds=-1)]:
            with pytest.raises(InputError):
                await hiobuy.image_search(IMG, platform="1688", cache_ttl=bad)  # type: ignore[arg-type]
        assert len(fake.requests) == sent
    await cache.aclose()


async def test_a_batch_sends_only_the_misses_and_spends_the_rate_limit_on_them(
    served: tuple[FakeHiobuy, str], tmp_path: Path
) -> None:
    fake, base_url = served
    yesterday = [f"https://cdn.test/catalogue/{n}.jpg" for n in range(1000)]
    today = yesterday + [f"https://cdn.test/catalogue/new-{n}.jpg" for n in range(1000)]
    async with SQLiteCache(tmp_path / "hiobuy.db") as cache:
        async with client(base_url, cache, max_connections=16) as hiobuy:
            with anyio.fail_after(120):
                first = await hiobuy.search_many(yesterday, platform="1688", concurrency=16)
        assert all(isinstance(outcome, Ok) for outcome in first)
        fake.clear()
        quota = CountingQuota(rate=100_000)
        seen: list[Progress] = []
        async with client(base_url, cache, max_connections=16, quota=quota) as hiobuy:
            with anyio.fail_after(120):
                outcomes = await hiobuy.search_many(
                    today, platform="1688", concurrency=16, rate_limit=100_000, progress=seen.append
                )
    assert len(fake.requests) == 1000
    assert {r.json["img"] for r in fake.requests} == set(today[1000:])
    assert quota.slots == 1000
    assert seen[-1].cache_hits == 1000
    assert seen[-1].ok == 2000
    by_image = {o.query.img: o.result for o in outcomes if isinstance(o, Ok)}
    assert all(by_image[url].from_cache for url in yesterday)
    assert not any(by_image[url].from_cache for url in today[1000:])


async def test_a_batch_dedupe_and_the_cache_do_not_double_count(
    served: tuple[FakeHiobuy, str],
) -> None:
    fake, base_url = served
    cache = MemoryCache()
    other = IMG.replace("cache", "other")
    seen: list[Progress] = []
    async with client(base_url, cache) as hiobuy:
        await hiobuy.image_search(IMG, platform="1688")
        outcomes = await hiobuy.search_many(
            [IMG, IMG, IMG, other, other], platform="1688", progress=seen.append
        )
    assert all(isinstance(outcome, Ok) for outcome in outcomes)
    assert seen[-1].cache_hits == 1
    assert seen[-1].ok == 5
    assert len(fake.requests) == 2


async def test_a_damaged_entry_is_a_miss_dropped_and_refilled(
    served: tuple[FakeHiobuy, str], tmp_path: Path
) -> None:
    fake, base_url = served
    path = tmp_path / "cache.db"
    async with SQLiteCache(path) as cache, client(base_url, cache) as hiobuy:
        fresh = await hiobuy.image_search(IMG, platform="1688")
    # The record is intact (right checksum) but its data is not what the SDK stores.
    with sqlite3.connect(path) as connection:
        (record,) = connection.execute("SELECT record FROM hiobuy_cache").fetchone()
        entry = unpack(record)
        assert entry is not None
        for data in [b'{"request_id": null, "data": {"items": 3}}', b"[1, 2", b"{}"]:
            damaged = pack(CacheEntry(data, entry.cached_at, entry.expires_at))
            connection.execute("UPDATE hiobuy_cache SET record = ?", (damaged,))
            connection.commit()
            async with SQLiteCache(path) as cache, client(base_url, cache) as hiobuy:
                again = await hiobuy.image_search(IMG, platform="1688")
                assert not again.from_cache
                assert again == attrs.evolve(fresh, request_id=again.request_id)
                assert (await hiobuy.image_search(IMG, platform="1688")).from_cache
    assert len(fake.requests) == 4


async def test_a_hit_on_a_closed_client_raises_client_closed(
    served: tuple[FakeHiobuy, str],
) -> None:
    _, base_url = served
    cache = MemoryCache()
    async with client(base_url, cache) as hiobuy:
        await hiobuy.image_search(IMG, platform="1688")
    with pytest.raises(ClientClosedError):
        await hiobuy.image_search(IMG, platform="1688")


async def test_a_cache_that_raises_degrades_to_no_cache_with_one_warning(
    served: tuple[FakeHiobuy, str], caplog: pytest.LogCaptureFixture
) -> None:
    fake, base_url = served

    class Broken(MemoryCache):
        async def get(self, key: str) -> Any:
            raise OSError("disk gone at 10.0.0.7")

        async def set(self, key: str, data: bytes, *, ttl: float | None = None) -> None:
            raise OSError("disk gone at 10.0.0.7")

    async with client(base_url, Broken()) as hiobuy:
        for _ in range(3):
            assert not (await hiobuy.image_search(IMG, platform="1688")).from_cache
    assert len(fake.requests) == 3
    warnings = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(warnings) == 1
    assert "10.0.0.7" not in caplog.text


async def test_the_uuid_is_nowhere_in_the_sqlite_file_after_real_calls(
    served: tuple[FakeHiobuy, str], tmp_path: Path
) -> None:
    _, base_url = served
    async with SQLiteCache(tmp_path / "cache.db") as cache:
        for uuid in (UUID_A, UUID_B):
            async with client(base_url, cache, uuid=uuid) as hiobuy:
                found = await hiobuy.image_search(IMG, platform="1688", language="en_US")
                await hiobuy.product_details(found.items[0])
        assert (await cache.stats()).entries == 4
    stored = files_bytes(tmp_path, "cache.db")
    for uuid in (UUID_A, UUID_B):
        for part in [uuid, *uuid.split("-")]:
            assert part.encode() not in stored


async def test_a_client_refuses_a_cache_that_is_not_one() -> None:
    with pytest.raises(InputError, match="cache must implement"):
        AsyncHiobuy(UUID_A, cache={})  # type: ignore[arg-type]
    cache = MemoryCache()
    assert AsyncHiobuy(UUID_A, cache=cache).cache is cache
    assert AsyncHiobuy(UUID_A).cache is None


async def test_preview_order_is_cached_only_when_the_call_asks(
    served: tuple[FakeHiobuy, str], tmp_path: Path
) -> None:
    fake, base_url = served
    async with SQLiteCache(tmp_path / "cache.db") as cache, client(base_url, cache) as hiobuy:
        details = await hiobuy.product_details(642895393547, platform="1688", cache_ttl=0)
        line = OrderLine.from_sku(details, details.skus[0], quantity=2)
        fake.clear()
        quotes = [
            await hiobuy.preview_order(platform="1688", lines=[line], address=ADDRESS)
            for _ in range(2)
        ]
        assert not any(quote.from_cache for quote in quotes)  # a live quote by default
        assert len(fake.requests) == 2
        assert (await cache.stats()).entries == 0
        asked = [
            await hiobuy.preview_order(
                platform="1688", lines=[line], address=ADDRESS, cache_ttl=timedelta(minutes=5)
            )
            for _ in range(2)
        ]
        assert [quote.from_cache for quote in asked] == [False, True]
        assert asked[1] == asked[0]  # exact Decimal fees, the same after the round trip
        assert isinstance(asked[1].payment_fee, Decimal)
        assert len(fake.requests) == 3
    stored = files_bytes(tmp_path, "cache.db")
    for personal in PERSONAL:
        assert personal.encode() not in stored


async def test_create_order_is_never_cached(
    served: tuple[FakeHiobuy, str], make_cache: MakeCache
) -> None:
    fake, base_url = served
    cache = make_cache()
    async with client(base_url, cache) as hiobuy:
        for key in ("order-1", "order-2"):
            await hiobuy.create_order(ORDER, idempotency_key=key)
    assert len(fake.orders) == 2
    assert await entries(cache) == 0
    await cache.aclose()


async def test_batch_cache_ttl_zero_refreshes_and_a_short_one_expires(
    served: tuple[FakeHiobuy, str],
) -> None:
    fake, base_url = served
    clock = Clock()
    cache = MemoryCache(clock=clock)
    products = [642895393547, 642895393548, 642895393549]
    images = [f"https://cdn.test/ttl/{n}.jpg" for n in range(3)]
    async with client(base_url, cache) as hiobuy:
        await hiobuy.details_many(products, platform="1688")
        refreshed = await hiobuy.details_many(products, platform="1688", cache_ttl=0)
        assert not any(isinstance(o, Ok) and o.result.from_cache for o in refreshed)
        assert len(fake.requests) == 6
        async with hiobuy.search_stream(
            images, platform="1688", cache_ttl=timedelta(seconds=10)
        ) as stream:
            assert len([outcome async for outcome in stream]) == 3
        clock.now += 9
        hits = await hiobuy.search_many(images, platform="1688")
        assert all(isinstance(o, Ok) and o.result.from_cache for o in hits)
        clock.now += 1
        async with hiobuy.details_stream(products, platform="1688") as details:
            outcomes = [outcome async for outcome in details]
        assert all(isinstance(o, Ok) and o.result.from_cache for o in outcomes)  # 24 h
        misses = await hiobuy.search_many(images, platform="1688")
        assert not any(isinstance(o, Ok) and o.result.from_cache for o in misses)
        assert len(fake.requests) == 12
        with pytest.raises(InputError):
            await hiobuy.search_many(images, platform="1688", cache_ttl=-1)
        with pytest.raises(InputError):
            hiobuy.details_stream(products, platform="1688", cache_ttl="1h")  # type: ignore[arg-type]


async def test_with_options_cache_ttl_is_the_views_default_and_a_calls_own_wins(
    served: tuple[FakeHiobuy, str], make_cache: MakeCache
) -> None:
    fake, base_url = served
    clock = Clock()
    cache = make_cache(clock=clock)
    async with client(base_url, cache) as hiobuy:
        product = 642895393547
        short = hiobuy.with_options(cache_ttl=timedelta(seconds=30))
        assert not (await short.product_details(product, platform="1688")).from_cache
        clock.now += 29
        assert (await hiobuy.product_details(product, platform="1688")).from_cache
        clock.now += 1
        assert not (await hiobuy.product_details(product, platform="1688")).from_cache
        assert len(fake.requests) == 2  # the view's 30 s, not the cache's 24 h
        live = hiobuy.with_options(cache_ttl=0)
        assert not (await live.product_details(product, platform="1688")).from_cache
        assert not (
            await live.with_options(deadline=5).keyword_search("lamp", platform="1688")
        ).from_cache
        assert len(fake.requests) == 4  # the view (and a view of it) bypass the cache
        assert await entries(cache) == 1
        own = await live.product_details(product, platform="1688", cache_ttl=60)
        assert own.from_cache  # the call's own cache_ttl wins over the view's 0
        await live.keyword_search("lamp", platform="1688", cache_ttl=60)
        assert len(fake.requests) == 5
        assert (await hiobuy.keyword_search("lamp", platform="1688")).from_cache
        assert (
            await short.with_options(cache_ttl=None).keyword_search("lamp", platform="1688")
        ).from_cache
        (outcome,) = await live.details_many([product], platform="1688")
        assert isinstance(outcome, Ok)
        assert not outcome.result.from_cache  # a batch on the view bypasses too
        (outcome,) = await hiobuy.details_many([product], platform="1688")
        assert isinstance(outcome, Ok)
        assert outcome.result.from_cache
        sent = len(fake.requests)
        for bad in [-1, float("nan"), "60", timedelta(seconds=-1)]:
            with pytest.raises(InputError, match="cache_ttl"):
                hiobuy.with_options(cache_ttl=bad)  # type: ignore[arg-type]
        assert len(fake.requests) == sent
    await cache.aclose()


async def test_a_view_cache_ttl_does_not_cache_preview_order(
    served: tuple[FakeHiobuy, str],
) -> None:
    fake, base_url = served
    cache = MemoryCache()
    async with client(base_url, cache) as hiobuy:
        details = await hiobuy.product_details(642895393547, platform="1688", cache_ttl=0)
        line = OrderLine.from_sku(details, details.skus[0], quantity=2)
        view = hiobuy.with_options(cache_ttl=600)
        for _ in range(2):
            quote = await view.preview_order(platform="1688", lines=[line], address=ADDRESS)
            assert not quote.from_cache  # a live quote: cached only when its call asks
        assert len(fake.requests) == 3
        assert await entries(cache) == 0


async def test_a_cache_hit_carries_its_meta(
    served: tuple[FakeHiobuy, str], make_cache: MakeCache
) -> None:
    fake, base_url = served
    clock = Clock()
    cache = make_cache(clock=clock)
    async with client(base_url, cache) as hiobuy:
        fresh = await hiobuy.image_search(IMG, platform="1688")
        hit = await hiobuy.image_search(IMG, platform="1688")
        assert len(fake.requests) == 1
        assert fresh.meta is not None
        assert (fresh.meta.from_cache, fresh.meta.cached_at) == (False, None)
        assert hit.meta is not None
        assert hit.meta.from_cache
        assert hit.meta.cached_at == hit.cached_at
        assert hit.meta.cached_at is not None
        assert hit.meta.cached_at.timestamp() == clock.now
        assert hit.meta.status_code == 200
        assert hit.meta.attempts == 0
        assert hit.meta.headers == {}
        assert hit.meta.request_id == fresh.meta.request_id == fresh.request_id
        assert hit.meta.engine == hiobuy.transport == fresh.meta.engine
        assert hit.meta.elapsed >= 0
        assert hit == fresh  # meta takes no part in equality
        page = await hiobuy.with_options(deadline=5).image_search(IMG, platform="1688")
        assert page.meta is not None
        assert page.meta.from_cache  # a view's hit too
    await cache.aclose()
