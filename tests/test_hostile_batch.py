"""Issue #13, batch engine: dedupe memory, BaseExceptions alone, async progress callbacks."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import textwrap
import tracemalloc
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import mock_client

from hiobuy_async import AsyncHiobuy, ImageSearchResult, Ok, Progress
from hiobuy_async._batch import (
    _FOOTPRINT_BASE,
    DEDUPE_BUDGET,
    DEDUPE_MAX_RESULT,
    _Finished,
    _footprint,
)
from hiobuy_async._convert import parse_envelope
from hiobuy_async._endpoints.image_search import ResolvedQuery, parse_image_search, resolve_query
from hiobuy_async._endpoints.product_details import parse_product_details_now
from hiobuy_async.testing import FakeHiobuy, _catalog
from hiobuy_async.testing._model import details_data, envelope

BACKENDS = ["asyncio", "trio"]
ROOT = Path(__file__).resolve().parent.parent


# -- point 5: the memory kept for de-duplication has a budget -----------------


def _big_body(items: int) -> bytes:
    listed = [
        {
            "num_iid": 10_000 + n,
            "title": f"a product title number {n} " * 3,
            "pic_url": f"https://img.example.com/p/{n}.jpg",
            "price": "12.50",
            "sales": n,
        }
        for n in range(items)
    ]
    data = {"api_type": "taobao", "items": {"item": listed, "total_results": items}}
    return json.dumps({"ret": 1, "msg": "success", "data": data}).encode()


def _traced(build: Callable[[], object]) -> tuple[object, int]:
    """Build an object; return it and the bytes it holds (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        built = build()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    return built, held


def _serving(body: bytes, **kwargs: Any) -> AbstractAsyncContextManager[AsyncHiobuy]:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    return mock_client(handler, uuid="batch-uuid", **kwargs)


@pytest.mark.anyio
async def test_point05_dedupe_memory_does_not_grow_with_body_size() -> None:
    # One ~300 KiB body, served for every image: each answer is ~1 MiB in
    # memory, estimated above DEDUPE_MAX_RESULT, so none is kept once handed over.
    body = _big_body(1500)
    _, one_result = _traced(lambda: parse_image_search(body))
    assert _footprint(body) >= one_result  # the estimate bounds it
    assert _footprint(body) > DEDUPE_MAX_RESULT

    images = [f"https://img.example.com/big-{n}.jpg" for n in range(16)]
    async with (
        _serving(body, max_response_bytes=1 << 20) as client,  # users may raise the cap
        client.search_stream(images, platform="taobao", concurrency=2) as stream,
    ):
        first = await anext(stream)
        assert isinstance(first, Ok)
        del first
        gc.collect()
        tracemalloc.start()
        try:
            baseline = tracemalloc.get_traced_memory()[0]
            count = 1
            async for outcome in stream:
                assert isinstance(outcome, Ok)
                count += 1
            del outcome
            gc.collect()
            held = tracemalloc.get_traced_memory()[0] - baseline
        finally:
            tracemalloc.stop()
        assert len(stream._batch.finished) == 0
    assert count == len(images)
    # Before the fix all 15 later results stayed (~15 MiB).
    assert held < one_result


@pytest.mark.anyio
async def test_point05_the_batch_sizes_kept_results_from_their_bodies() -> None:
    # Mid-sized answers are kept; each counts as its body's estimate, which
    # reaches the batch through the pipeline's body hook.
    body = _big_body(20)
    images = [f"https://img.example.com/mid-{n}.jpg" for n in range(10)]
    async with (
        _serving(body) as client,
        client.search_stream(images, platform="taobao", concurrency=2) as stream,
    ):
        outcomes = [outcome async for outcome in stream]
        finished = stream._batch.finished
        assert (len(finished), finished.bytes) == (10, 10 * _footprint(body))
    assert all(isinstance(o, Ok) for o in outcomes)


def _json(data: object) -> bytes:
    return json.dumps({"ret": 1, "msg": "success", "data": data}, separators=(",", ":")).encode()


def _details_body() -> bytes:
    skus = [
        {"sku_id": 5_000 + n, "price": "3.20", "quantity": n, "properties": "Color:White;Size:S"}
        for n in range(8)
    ]
    data = {
        "num_iid": 808368541552,
        "title": "a lamp",
        "title_cn": "台灯",
        "price": "3.20",
        "max_price": "9.90",
        "orginal_price": "12.00",
        "skus": {"sku": skus},
        "shop_id": "b2b-1234",
        "desc": "<p>desc</p>",
    }
    return _json(data)


def _fake_details_body(num_iid: int, platform: str) -> bytes:
    item = _catalog.product(num_iid, platform)
    assert item is not None
    return envelope(details_data(item, locale="en_US"))


def test_point05_estimate_bounds_what_an_answer_holds() -> None:
    # The O(1) estimate (no walk over the result) never under-counts an
    # answer of the API's shape, small or large, and is not so loose that
    # little is kept: at most twice the truth, plus the base.
    searches = [_big_body(n) for n in (1, 20, 300, 1500)]
    for body in searches:
        _, held = _traced(lambda body=body: parse_image_search(body))  # type: ignore[misc]
        assert held <= _footprint(body) < 2 * held + _FOOTPRINT_BASE, len(body)
    details = [
        _details_body(),
        *(_fake_details_body(600_000_000_000 + 7919 * n, "1688") for n in range(5)),
        *(_fake_details_body(700_000_000_000 + 7919 * n, "taobao") for n in range(5)),
    ]
    for body in details:
        _, held = _traced(
            lambda body=body: parse_product_details_now(  # type: ignore[misc]
                parse_envelope(body, request_id=None), None
            )
        )
        assert held <= _footprint(body) < 2 * held + _FOOTPRINT_BASE, len(body)


def test_point05_dedupe_cache_stays_within_its_budget() -> None:
    # Many mid-sized results (each below the per-result cap): the cache drops
    # the oldest to stay within its byte budget, whatever the window allows.
    body = _big_body(300)
    estimate = _footprint(body)
    assert estimate < DEDUPE_MAX_RESULT
    budget = 4 * estimate
    finished: _Finished[ResolvedQuery, ImageSearchResult] = _Finished(window=128, budget=budget)
    for n in range(20):
        query = resolve_query(
            f"https://img.example.com/{n}.jpg",
            platform="taobao",
            language=None,
            use_platform=False,
            filters=None,
        )
        finished.add(query, parse_image_search(body), body)
        assert finished.bytes <= budget
    assert len(finished) == 4
    assert DEDUPE_BUDGET <= 32 * 1024 * 1024


# -- point 9: Ctrl-C, sys.exit() and other BaseExceptions come out alone ------

_SCRIPT = """
import os, signal, sys
import anyio
from hiobuy_async.testing import FakeHiobuy

api, how, backend = sys.argv[1:]

class Custom(BaseException):
    pass

def progress(_):
    if how == "sigint":
        os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C
    elif how == "exit":
        sys.exit(3)
    else:
        raise Custom()

async def main():
    fake = FakeHiobuy()
    async with fake.client() as client:
        if api == "many":
            await client.search_many(fake.sample_images(), platform="taobao", progress=progress)
            return
        async with client.search_stream(
            fake.sample_images(), platform="taobao", progress=progress
        ) as stream:
            async for _ in stream:
                pass

try:
    anyio.run(main, backend=backend)
except KeyboardInterrupt:
    print("KeyboardInterrupt")
except Custom:
    print("Custom")
"""


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("api", ["stream", "many"])
@pytest.mark.parametrize("how", ["sigint", "exit", "custom"])
def test_point09_base_exceptions_are_raised_alone(
    tmp_path: Path, backend: str, api: str, how: str
) -> None:
    script = tmp_path / "batch_interrupt.py"
    script.write_text(textwrap.dedent(_SCRIPT))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(script), api, how, backend],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    if how == "exit":
        assert (done.returncode, done.stderr) == (3, "")
    else:
        expected = "KeyboardInterrupt" if how == "sigint" else "Custom"
        assert (done.returncode, done.stdout.strip(), done.stderr) == (0, expected, "")


class _Stop(BaseException):
    pass


@pytest.mark.anyio
@pytest.mark.parametrize("api", ["stream", "many"])
async def test_point09_custom_base_exception_in_process(api: str) -> None:
    fake = FakeHiobuy()

    def progress(_: Progress) -> None:
        raise _Stop

    async def run(client: AsyncHiobuy) -> None:
        if api == "many":
            await client.search_many(fake.sample_images(), platform="taobao", progress=progress)
            return
        async with client.search_stream(
            fake.sample_images(), platform="taobao", progress=progress
        ) as stream:
            async for _ in stream:
                pass

    async with fake.client() as client:
        with pytest.raises(_Stop):
            await run(client)
        # The client is still usable afterwards.
        await client.image_search(fake.sample_images()[0], platform="taobao")


# -- point 15: an async progress callback is awaited ---------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("api", ["stream", "many"])
async def test_point15_async_progress_callback_is_awaited(api: str) -> None:
    fake = FakeHiobuy()
    seen: list[int] = []

    async def progress(snapshot: Progress) -> None:
        seen.append(snapshot.done)

    images = fake.sample_images()
    async with fake.client() as client:
        if api == "many":
            await client.search_many(images, platform="taobao", progress=progress)
        else:
            async with client.search_stream(images, platform="taobao", progress=progress) as s:
                async for _ in s:
                    pass
    assert sorted(seen) == list(range(1, len(images) + 1))
