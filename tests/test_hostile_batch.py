"""Issue #13, batch engine: dedupe memory, BaseExceptions alone, async progress callbacks."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import httpx
import pytest

from hiobuy_async import AsyncHiobuy, ImageSearchResult, Ok, Progress
from hiobuy_async._batch import (
    DEDUPE_BUDGET,
    DEDUPE_MAX_RESULT,
    _Finished,
    _footprint,
)
from hiobuy_async._convert import structure_products
from hiobuy_async._endpoints.image_search import resolve_query
from hiobuy_async.testing import FakeHiobuy

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


@pytest.mark.anyio
async def test_point05_dedupe_memory_does_not_grow_with_body_size() -> None:
    # One ~300 KiB body, served for every image: each answer is ~1.4 MiB in
    # memory, above DEDUPE_MAX_RESULT, so none is kept once handed over.
    body = _big_body(1500)

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    images = [f"https://img.example.com/big-{n}.jpg" for n in range(16)]
    client = AsyncHiobuy(
        "batch-uuid",
        base_url="https://api.hiobuy.test",
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        max_response_bytes=1 << 20,  # above the default cap: users may raise it
    )
    async with client, client.search_stream(images, platform="taobao", concurrency=2) as stream:
        first = await anext(stream)
        assert isinstance(first, Ok)
        one_result = _footprint(first.result, 1 << 40)
        assert one_result is not None
        assert one_result > DEDUPE_MAX_RESULT
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
    assert count == len(images)
    # Before the fix all 15 later results stayed (~20 MiB).
    assert held < one_result


def _result(items: int) -> ImageSearchResult:
    fake_items = [
        {"num_iid": n + 1, "title": f"product {n} " * 4, "pic_url": f"https://i/{n}.jpg"}
        for n in range(items)
    ]
    data = {"items": {"item": fake_items}}
    return ImageSearchResult(items=tuple(structure_products(fake_items)), raw=data)


def test_point05_dedupe_cache_stays_within_its_budget() -> None:
    # A result's estimate matches what it really holds.
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        sample = _result(300)
        traced = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    estimate = _footprint(sample, 1 << 40)
    assert estimate is not None
    assert 0.7 * traced < estimate < 1.5 * traced
    # Many mid-sized results (each below the per-result cap): the cache drops
    # the oldest to stay within its byte budget, whatever the window allows.
    budget = 4 * estimate
    finished = _Finished(window=128, budget=budget)
    for n in range(20):
        query = resolve_query(
            f"https://img.example.com/{n}.jpg",
            platform="taobao",
            language=None,
            use_platform=False,
            filters=None,
        )
        finished.add(query, _result(300))
        assert finished.bytes <= budget
    assert 1 <= len(finished) <= 4
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
