"""search_many / search_stream over httpx.MockTransport (asyncio and trio)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import typing
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import httpx
import pytest
from helpers import mock_client

from hiobuy_async import (
    APIStatusError,
    AuthenticationError,
    DetailsQuery,
    DetailsStream,
    Failed,
    ImageQuery,
    ImageSearchResult,
    InputError,
    Marketplace,
    Ok,
    ProductDetails,
    Progress,
    SearchStream,
    ServerError,
    UnknownFilterWarning,
)
from hiobuy_async._retry import set_no_backoff

pytestmark = pytest.mark.anyio

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


def envelope(img: str) -> dict[str, Any]:
    item_id = abs(hash(img)) % 10**12
    return {
        "ret": 1,
        "msg": "success",
        "data": {
            "api_type": "taobao",
            "items": {"item": [{"num_iid": item_id, "price": "1.50"}], "total_results": 1},
        },
    }


class Recorder:
    """A scripted API: records requests and in-flight counts."""

    def __init__(self, *, latency: float = 0.0) -> None:
        self.latency = latency
        self.requests: list[dict[str, Any]] = []
        self.start_times: list[float] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.status_for: Callable[[str], tuple[int, dict[str, str]] | None] = lambda img: None

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        self.start_times.append(anyio.current_time())
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency:
                await anyio.sleep(self.latency)
            scripted = self.status_for(body["img"])
            if scripted is not None:
                status, headers = scripted
                return httpx.Response(status, headers=headers, text="scripted")
            return httpx.Response(200, json=envelope(body["img"]))
        finally:
            self.in_flight -= 1


make_client = functools.partial(mock_client, uuid="batch-uuid")


def urls(n: int, prefix: str = "img") -> list[str]:
    return [f"https://cdn.test/{prefix}/{i}.jpg" for i in range(n)]


async def test_results_in_input_order_despite_completion_order() -> None:
    recorder = Recorder()

    async def slow_first(request: httpx.Request) -> httpx.Response:
        index = int(json.loads(request.content)["img"].rsplit("/", 1)[1].split(".")[0])
        await anyio.sleep(0.001 * (10 - index))
        return await recorder(request)

    images = urls(10)
    completion: list[int] = []
    async with mock_client(slow_first, uuid="u") as client:
        async with client.search_stream(images, platform="taobao", concurrency=10) as stream:
            completion = [outcome.index async for outcome in stream]
        results = await client.search_many(images, platform="taobao", concurrency=10)
    assert completion != sorted(completion)  # they really completed out of order
    assert [o.index for o in results] == list(range(10))
    assert [o.query.img for o in results] == images
    assert all(isinstance(o, Ok) for o in results)


async def test_per_item_errors_are_collected_and_the_rest_go_on() -> None:
    set_no_backoff(True)
    recorder = Recorder()
    recorder.status_for = lambda img: (503, {}) if "/3." in img else None
    images = [*urls(5), "not a url", "ftp://x/y.jpg"]
    async with make_client(recorder) as client:
        results = await client.search_many(images, platform="1688")
    assert len(results) == 7
    assert isinstance(results[3], Failed)
    assert isinstance(results[3].error, ServerError)
    assert isinstance(results[5], Failed)
    assert isinstance(results[5].error, InputError)
    assert isinstance(results[6], Failed)
    assert isinstance(results[6].error, InputError)
    assert [type(o) for o in results[:3]] == [Ok, Ok, Ok]
    assert isinstance(results[4], Ok)
    sent = {body["img"] for body in recorder.requests}
    assert "not a url" not in sent  # invalid inputs are never sent


async def test_on_error_raise_stops_the_batch_and_raises_the_error_alone() -> None:
    recorder = Recorder(latency=0.01)
    recorder.status_for = lambda img: (400, {}) if "/0." in img else None
    async with make_client(recorder) as client:
        with pytest.raises(APIStatusError) as info:
            await client.search_many(urls(200), platform="taobao", concurrency=4, on_error="raise")
    assert type(info.value) is APIStatusError
    assert info.value.status_code == 400
    assert len(recorder.requests) < 200


async def test_authentication_error_aborts_collect_mode() -> None:
    recorder = Recorder(latency=0.005)
    recorder.status_for = lambda img: (401, {})
    async with make_client(recorder) as client:
        with pytest.raises(AuthenticationError):
            await client.search_many(urls(100), platform="taobao", concurrency=4)
    assert len(recorder.requests) < 100


async def test_a_bug_in_a_callback_is_raised_alone() -> None:
    recorder = Recorder()

    def broken_progress(_: Progress) -> None:
        raise ZeroDivisionError("bug")

    async with make_client(recorder) as client:
        with pytest.raises(ZeroDivisionError):
            await client.search_many(urls(10), platform="taobao", progress=broken_progress)


async def test_caller_error_inside_stream_body_is_not_wrapped() -> None:
    async with make_client(Recorder()) as client:
        with pytest.raises(KeyError):  # noqa: PT012 - the error comes from the body
            async with client.search_stream(urls(5), platform="taobao") as stream:
                async for _ in stream:
                    raise KeyError("mine")


async def test_async_generator_is_consumed_lazily() -> None:
    recorder = Recorder(latency=0.01)
    pulled = 0

    async def endless() -> AsyncGenerator[str, None]:
        nonlocal pulled
        index = 0
        while True:
            pulled += 1
            yield f"https://cdn.test/endless/{index}.jpg"
            index += 1

    received = 0
    async with make_client(recorder) as client, contextlib.aclosing(endless()) as images:
        async with client.search_stream(images, platform="taobao", concurrency=3) as stream:
            async for _ in stream:
                received += 1
                if received == 20:
                    break
        requests_at_exit = len(recorder.requests)
        # Bounded: workers pull one item each, the outcome buffer holds `concurrency`.
        assert pulled <= received + 3 * 3
        await anyio.sleep(0.05)
        assert len(recorder.requests) == requests_at_exit  # nothing runs after the exit


async def test_duplicates_are_sent_once_and_share_the_outcome() -> None:
    recorder = Recorder(latency=0.01)
    images = ["https://cdn.test/a.jpg"] * 5 + ["https://cdn.test/b.jpg"] * 3
    async with make_client(recorder) as client:
        results = await client.search_many(images, platform="taobao", concurrency=4)
    assert len(results) == 8
    assert sorted(body["img"] for body in recorder.requests) == [
        "https://cdn.test/a.jpg",
        "https://cdn.test/b.jpg",
    ]
    assert all(isinstance(o, Ok) for o in results)
    first = results[0]
    assert isinstance(first, Ok)
    assert all(isinstance(o, Ok) and o.result == first.result for o in results[:5])


async def test_duplicates_of_a_query_in_flight_do_not_drain_the_input() -> None:
    recorder = Recorder(latency=0.3)
    pulled = 0

    async def same_image_forever() -> AsyncGenerator[str, None]:
        nonlocal pulled
        while True:
            pulled += 1
            yield "https://cdn.test/same.jpg"

    async with (
        make_client(recorder) as client,
        contextlib.aclosing(same_image_forever()) as images,
        client.search_stream(images, platform="taobao", concurrency=4) as stream,
    ):
        await anyio.sleep(0.1)  # the one request is still in flight
        assert pulled <= 4 + 1  # each worker holds one input, waiting for it
        first = await stream.__anext__()
    assert isinstance(first, Ok)
    assert len(recorder.requests) == 1


async def test_same_image_with_other_options_is_not_a_duplicate() -> None:
    recorder = Recorder()
    images = [
        ImageQuery("https://cdn.test/a.jpg"),
        ImageQuery("https://cdn.test/a.jpg", language="en_US"),
        ImageQuery("https://cdn.test/a.jpg", platform=Marketplace.TAOBAO),
    ]
    async with make_client(recorder) as client:
        results = await client.search_many(images, platform="1688")
    assert len(recorder.requests) == 3
    assert [o.query.platform for o in results] == [
        Marketplace.ALIBABA_1688,
        Marketplace.ALIBABA_1688,
        Marketplace.TAOBAO,
    ]
    assert [o.query.language for o in results] == ["zh_CN", "en_US", "zh_CN"]


async def test_image_query_fields_override_the_batch_defaults() -> None:
    recorder = Recorder()
    images: list[str | ImageQuery] = [
        "https://cdn.test/plain.jpg",
        ImageQuery("https://cdn.test/native.jpg", use_platform=True, filters=("new7",)),
    ]
    async with make_client(recorder) as client:
        await client.search_many(images, platform="1688", language="ja", concurrency=1)
    plain, native = recorder.requests
    assert plain == {"img": "https://cdn.test/plain.jpg", "platform": "1688", "use_platform": "0"}
    assert native == {
        "img": "https://cdn.test/native.jpg",
        "platform": "1688",
        "use_platform": "1",
        "filter": ["new7"],
    }


async def test_progress_snapshots() -> None:
    set_no_backoff(True)
    recorder = Recorder()
    recorder.status_for = lambda img: (503, {}) if "/1." in img else None
    snapshots: list[Progress] = []
    async with make_client(recorder, max_retries=1) as client:
        await client.search_many(urls(6), platform="taobao", progress=snapshots.append)

        async def gen() -> AsyncIterator[str]:
            for url in urls(2, "gen"):
                yield url

        unknown: list[Progress] = []
        await client.search_many(gen(), platform="taobao", progress=unknown.append)
    assert [s.done for s in snapshots] == [1, 2, 3, 4, 5, 6]
    final = snapshots[-1]
    assert (final.ok, final.failed, final.retries, final.total) == (5, 1, 1, 6)
    assert all(s.elapsed >= 0 for s in snapshots)
    assert [s.total for s in unknown] == [None, None]


async def test_concurrency_is_never_exceeded() -> None:
    recorder = Recorder(latency=0.005)
    async with make_client(recorder) as client:
        await client.search_many(urls(60), platform="taobao", concurrency=5)
    assert recorder.max_in_flight == 5


async def test_client_pool_bounds_concurrent_single_calls() -> None:
    recorder = Recorder(latency=0.005)
    async with make_client(recorder, max_connections=3) as client, anyio.create_task_group() as tg:
        for url in urls(12):
            tg.start_soon(functools.partial(client.image_search, url, platform="taobao"))
    assert recorder.max_in_flight == 3


async def test_concurrency_above_the_pool_is_an_input_error() -> None:
    recorder = Recorder()
    async with make_client(recorder, max_connections=4) as client:
        with pytest.raises(InputError, match="max_connections"):
            await client.search_many(urls(3), platform="taobao", concurrency=5)
    assert recorder.requests == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"concurrency": 0}, "concurrency"),
        ({"rate_limit": 0}, "rate_limit"),
        ({"on_error": "ignore"}, "on_error"),
        ({"language": "ko_KR", "platform": "taobao"}, "ko_KR"),
        ({"platform": "ebay"}, "platform"),
        ({"retry_budget": -1}, "retry_budget"),
        ({"use_platform": True}, "1688 only"),
        ({"filters": ["new7"]}, "1688 only"),
        ({"filters": "new7", "platform": "1688"}, "single string"),
    ],
)
async def test_bad_batch_arguments_fail_before_any_request(
    kwargs: dict[str, Any], match: str
) -> None:
    recorder = Recorder()
    options: dict[str, Any] = {"platform": "taobao", **kwargs}
    async with make_client(recorder) as client:
        with pytest.raises(InputError, match=match):
            await client.search_many(urls(3), **options)
    assert recorder.requests == []


async def test_an_unknown_batch_filter_warns_once_and_is_sent() -> None:
    recorder = Recorder()
    async with make_client(recorder) as client:
        with pytest.warns(UnknownFilterWarning) as record:
            await client.search_many(urls(5), platform="1688", filters=["brandNew"])
    assert len(record) == 1
    assert [body["filter"] for body in recorder.requests] == [["brandNew"]] * 5


async def test_a_single_string_is_not_a_batch() -> None:
    async with make_client(Recorder()) as client:
        with pytest.raises(InputError, match="single string"):
            await client.search_many("https://cdn.test/a.jpg", platform="taobao")


async def drain(batch: contextlib.AbstractAsyncContextManager[AsyncIterator[object]]) -> None:
    async with batch as stream:
        async for _ in stream:
            pass


async def test_search_many_without_a_platform_raises_at_once() -> None:
    recorder = Recorder()
    async with make_client(recorder) as client:
        with pytest.raises(InputError, match="platform is required"):
            await client.search_many(urls(2000))
        with pytest.raises(InputError, match="platform is required"):
            await drain(client.search_stream(urls(50), concurrency=4))
    assert recorder.requests == []


async def test_image_queries_naming_their_platform_need_no_batch_platform() -> None:
    recorder = Recorder()
    queries = [ImageQuery(url, platform="taobao") for url in urls(3)]
    async with make_client(recorder) as client:
        outcomes = await client.search_many(queries)
        with pytest.raises(InputError, match="platform is required"):
            await client.search_many([*queries, ImageQuery("https://cdn.test/x.jpg")])
    assert all(isinstance(outcome, Ok) for outcome in outcomes)


async def test_rate_limit_spaces_request_starts() -> None:
    recorder = Recorder()
    rate = 50.0
    n = 11
    async with make_client(recorder) as client:
        await client.search_many(urls(n), platform="taobao", concurrency=n, rate_limit=rate)
    span = recorder.start_times[-1] - recorder.start_times[0]
    # Evenly spaced starts span (n - 1) / rate; a burst would span ~0. Only a
    # lower bound, with slack for scheduling jitter on a loaded machine.
    assert span >= 0.5 * (n - 1) / rate


async def test_a_429_pauses_every_worker() -> None:
    recorder = Recorder(latency=0.002)
    retry_after = 0.2
    answered: list[float] = []
    first = True

    def script(img: str) -> tuple[int, dict[str, str]] | None:
        nonlocal first
        if first:
            first = False
            answered.append(anyio.current_time())
            return 429, {"Retry-After": str(retry_after)}
        return None

    recorder.status_for = script
    async with make_client(recorder) as client:
        results = await client.search_many(urls(12), platform="taobao", concurrency=4)
    assert all(isinstance(o, Ok) for o in results)
    (paused_at,) = answered
    late_starts = [t for t in recorder.start_times if t > paused_at]
    assert late_starts  # the batch went on after the pause
    # Requests started after the 429 waited for Retry-After, on every worker.
    assert min(late_starts) >= paused_at + retry_after * 0.9
    assert len(recorder.requests) == 13


async def test_retry_budget_bounds_load_on_a_failing_api() -> None:
    set_no_backoff(True)
    recorder = Recorder()
    recorder.status_for = lambda img: (503, {})
    async with make_client(recorder, max_retries=2) as client:
        results = await client.search_many(
            urls(200), platform="taobao", concurrency=8, retry_budget=0.2
        )
        unbounded = Recorder()
        unbounded.status_for = lambda img: (503, {})
    assert all(isinstance(o, Failed) and isinstance(o.error, ServerError) for o in results)
    assert len(recorder.requests) <= 200 * 1.2 + 10
    assert len(recorder.requests) > 200  # some retries did happen
    async with make_client(unbounded, max_retries=2) as client:
        await client.search_many(urls(50), platform="taobao", retry_budget=10.0)
    assert len(unbounded.requests) == 150  # without a tight budget every retry runs


async def test_cancel_scope_around_the_batch_leaves_the_client_healthy() -> None:
    recorder = Recorder(latency=0.02)
    async with make_client(recorder, max_connections=4) as client:
        with anyio.move_on_after(0.05) as scope:
            await client.search_many(urls(500), platform="taobao", concurrency=4)
        assert scope.cancelled_caught
        count = len(recorder.requests)
        await anyio.sleep(0.05)
        assert len(recorder.requests) == count  # no worker survived
        recorder.latency = 0
        results = await client.search_many(urls(20, "after"), platform="taobao", concurrency=4)
        assert all(isinstance(o, Ok) for o in results)


async def test_fail_after_raises_timeout_error_not_a_group() -> None:
    recorder = Recorder(latency=0.05)
    async with make_client(recorder) as client:
        with pytest.raises(TimeoutError), anyio.fail_after(0.03):
            await client.search_many(urls(50), platform="taobao")


def test_asyncio_task_cancel_propagates_promptly() -> None:
    recorder = Recorder(latency=0.02)

    async def main() -> None:
        async with make_client(recorder, max_connections=8) as client:
            task = asyncio.create_task(client.search_many(urls(1000), platform="taobao"))
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            count = len(recorder.requests)
            await asyncio.sleep(0.05)
            assert len(recorder.requests) == count
            ok = await client.image_search("https://cdn.test/after.jpg", platform="taobao")
            assert ok.items

    asyncio.run(main())


def test_the_stream_types_name_what_their_outcomes_carry() -> None:
    # A bare generic would make `async for outcome in stream` an `Any` under mypy.
    (search_outcome,) = typing.get_args(SearchStream)
    assert set(typing.get_args(search_outcome)) == {
        Ok[ImageQuery, ImageSearchResult],
        Failed[ImageQuery],
    }
    (details_outcome,) = typing.get_args(DetailsStream)
    assert Ok[DetailsQuery, ProductDetails] in typing.get_args(details_outcome)
