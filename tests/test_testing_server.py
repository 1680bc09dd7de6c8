"""The fake's two carriers: identical answers, keep-alive, concurrency, clean shutdown."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import anyio
import httpx
import pytest

from hiobuy_async import AsyncHiobuy, ImageSearchResult
from hiobuy_async.testing import FAKE_BASE_URL, FakeHiobuy, Fault

PATH = "/api/client/third-purchase/image/query"
IMAGES = FakeHiobuy.sample_images()[:3]
SEARCHES: list[dict[str, Any]] = [
    {"platform": "1688"},
    {"platform": "1688", "language": "ja"},
    {"platform": "1688", "language": "es_ES", "use_platform": True},
    {"platform": "1688", "filters": ["shipIn48Hours", "isSelect"]},
    {"platform": "taobao", "language": "en_US"},
]
UUID = {"X-Uuid": FakeHiobuy.DEFAULT_UUID}
RAW_CASES: list[tuple[str, str, dict[str, str], bytes]] = [
    ("POST", PATH, UUID, b'{"img":"https://a.example/x.jpg","platform":"1688"}'),
    ("POST", PATH, {}, b'{"img":"https://a.example/x.jpg","platform":"1688"}'),
    ("POST", PATH, {"X-Uuid": "intruder"}, b'{"img":"https://a.example/x.jpg","platform":"1688"}'),
    ("POST", PATH, UUID, b"{not json"),
    ("POST", PATH, UUID, b'["a list"]'),
    ("POST", PATH, UUID, b'{"platform":"1688"}'),
    ("POST", PATH, UUID, b'{"img":"https://a.example/x.jpg","platform":"amazon"}'),
    (
        "POST",
        PATH,
        {**UUID, "Language": "ko_KR"},
        b'{"img":"https://a.example/x.jpg","platform":"taobao"}',
    ),
    (
        "POST",
        PATH,
        UUID,
        b'{"img":"https://a.example/x.jpg","platform":"taobao","filter":["new7"]}',
    ),
    (
        "POST",
        PATH,
        UUID,
        b'{"img":"https://a.example/x.jpg","platform":"taobao","use_platform":"1"}',
    ),
    (
        "POST",
        PATH,
        UUID,
        b'{"img":"https://a.example/x.jpg","platform":"1688","use_platform":"yes"}',
    ),
    ("POST", PATH, UUID, b'{"img":"https://a.example/x.jpg","platform":"1688","filter":"new7"}'),
    ("POST", PATH, UUID, b'{"img":"ftp://a.example/x.jpg","platform":"1688"}'),
    ("POST", PATH, UUID, b'{"img":"https://a.example/unfetchable.jpg","platform":"1688"}'),
    ("GET", PATH, UUID, b""),
    ("POST", "/api/client/third-purchase/no-such-route", UUID, b"{}"),
]


async def _search_all(client: AsyncHiobuy) -> list[ImageSearchResult]:
    return [await client.image_search(img, **options) for img in IMAGES for options in SEARCHES]


@pytest.mark.anyio
async def test_sdk_results_are_identical_in_process_and_over_sockets() -> None:
    in_process, served = FakeHiobuy(), FakeHiobuy()
    async with in_process.client() as client:
        expected = await _search_all(client)
    async with (
        served.serve() as base_url,
        AsyncHiobuy(FakeHiobuy.DEFAULT_UUID, base_url=base_url) as client,
    ):
        got = await _search_all(client)
    assert got == expected  # items, total_results, api_type, request_id
    assert [r.raw for r in got] == [r.raw for r in expected]
    assert [r.json for r in served.requests] == [r.json for r in in_process.requests]


async def _raw_answers(client: httpx.AsyncClient) -> list[tuple[int, bytes, dict[str, str]]]:
    answers = []
    for method, path, headers, body in RAW_CASES:
        response = await client.request(method, path, headers=headers, content=body)
        answers.append((response.status_code, response.content, dict(response.headers)))
    return answers


@pytest.mark.anyio
async def test_raw_answers_are_identical_in_process_and_over_sockets() -> None:
    in_process, served = FakeHiobuy(), FakeHiobuy()
    async with httpx.AsyncClient(transport=in_process.transport(), base_url=FAKE_BASE_URL) as c:
        expected = await _raw_answers(c)
    async with served.serve() as base_url, httpx.AsyncClient(base_url=base_url) as c:
        got = await _raw_answers(c)
    assert got == expected
    statuses = [status for status, _, _ in expected]
    assert statuses == [200, 401, 401] + [200] * 11 + [405, 404]
    assert json.loads(expected[0][1])["msg"] == "success"
    for _, body, _ in expected[3:14]:
        document = json.loads(body)
        assert document["ret"] != 1
        assert document["msg"]
    assert json.loads(expected[13][1])["msg"] == "image cannot be fetched"
    assert [h["x-request-id"] for _, _, h in expected[:3]] == [
        "fake-000001",
        "fake-000002",
        "fake-000003",
    ]


SEARCH, INFO = "/api/client/third-purchase/search", "/api/client/third-purchase/info"
SHOP = "/api/client/open-purchase/shop-nick"
ENDPOINT_CASES: list[tuple[str, str, dict[str, str], bytes]] = [
    ("POST", SEARCH, UUID, b'{"keyword":"lamp results:45","platform":"1688","page":"2"}'),
    (
        "POST",
        SEARCH,
        {**UUID, "Language": "ja"},
        b'{"keyword":"lamp","platform":"1688","sort":"sale2","priceStart":"10","priceEnd":"99.5",'
        b'"use_platform":"1","filter":["new7"],"page_size":"50"}',
    ),
    ("POST", SEARCH, UUID, b'{"keyword":"lamp","platform":"1688","page_size":"51"}'),
    ("POST", INFO, {**UUID, "Language": "ru_RU"}, b'{"keyword":"700000000000","platform":"1688"}'),
    (
        "POST",
        INFO,
        UUID,
        b'{"keyword":"https://detail.tmall.com/item.htm?id=700000000000","platform":"taobao"}',
    ),
    ("POST", INFO, UUID, b'{"keyword":"900000000000","platform":"1688"}'),
    ("GET", SHOP + "?shop_id=", UUID, b""),
    ("GET", SHOP + "?shop_id=nobody", UUID, b""),
    ("GET", SEARCH, UUID, b""),
    ("POST", SHOP, UUID, b"{}"),
]


async def _endpoint_answers(client: httpx.AsyncClient) -> list[tuple[int, bytes, dict[str, str]]]:
    answers = []
    details = await client.post(INFO, headers=UUID, content=ENDPOINT_CASES[3][3])
    shop_id = details.json()["data"]["shop_id"]
    cases = [*ENDPOINT_CASES, ("GET", f"{SHOP}?shop_id={shop_id}", UUID, b"")]
    for method, path, headers, body in cases:
        response = await client.request(method, path, headers=headers, content=body)
        answers.append((response.status_code, response.content, dict(response.headers)))
    return answers


@pytest.mark.anyio
async def test_every_endpoint_answers_identically_in_process_and_over_sockets() -> None:
    in_process, served = FakeHiobuy(), FakeHiobuy()
    async with httpx.AsyncClient(transport=in_process.transport(), base_url=FAKE_BASE_URL) as c:
        expected = await _endpoint_answers(c)
    async with served.serve() as base_url, httpx.AsyncClient(base_url=base_url) as c:
        got = await _endpoint_answers(c)
    assert got == expected
    assert [status for status, _, _ in expected] == [200] * 8 + [405, 405, 200]
    rets = [json.loads(body)["ret"] for _, body, _ in expected]
    assert rets == [1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 1]
    assert len(json.loads(expected[0][1])["data"]["items"]["item"]) == 20
    assert [r.endpoint for r in served.requests] == [r.endpoint for r in in_process.requests]
    assert [r.endpoint for r in served.requests][-3:] == [
        "keyword_search",
        "shop_nick",
        "shop_nick",
    ]


@pytest.mark.anyio
async def test_connections_are_kept_alive() -> None:
    fake = FakeHiobuy()
    async with (
        fake.serve() as base_url,
        AsyncHiobuy(FakeHiobuy.DEFAULT_UUID, base_url=base_url) as client,
    ):
        for img in FakeHiobuy.sample_images():
            await client.image_search(img, platform="1688")
    assert fake.stats.requests == 12
    assert fake.stats.connections == 1


@pytest.mark.anyio
async def test_many_concurrent_connections_are_served_at_once() -> None:
    fake = FakeHiobuy()
    images = [f"https://img.alicdn.com/concurrent-{n}.jpg" for n in range(24)]
    fake.hold()
    async with (
        fake.serve() as base_url,
        AsyncHiobuy(FakeHiobuy.DEFAULT_UUID, base_url=base_url, max_connections=24) as client,
        anyio.create_task_group() as tg,
    ):
        results: list[ImageSearchResult] = []

        async def search(img: str) -> None:
            results.append(await client.image_search(img, platform="1688"))

        for img in images:
            tg.start_soon(search, img)
        with anyio.fail_after(10):
            await fake.wait_for_in_flight(24)
        assert results == []
        fake.release()
    assert len(results) == 24
    assert fake.stats.connections == 24
    assert fake.max_in_flight == 24
    assert fake.in_flight == 0


@pytest.mark.anyio
async def test_hold_counts_in_process_requests_in_flight() -> None:
    fake = FakeHiobuy()
    fake.hold()
    async with fake.client() as client:
        outcomes: list[object] = []

        async def batch() -> None:
            outcomes.extend(
                await client.search_many(FakeHiobuy.sample_images(), platform="1688", concurrency=5)
            )

        async with anyio.create_task_group() as tg:
            tg.start_soon(batch)
            with anyio.fail_after(10):
                await fake.wait_for_in_flight(5)
            assert fake.in_flight == 5
            fake.release()
    assert fake.max_in_flight == 5
    assert len(outcomes) == 12


@pytest.mark.anyio
async def test_serve_exits_cleanly_with_open_and_stalled_connections() -> None:
    fake = FakeHiobuy()
    async with (
        httpx.AsyncClient() as idle,
        httpx.AsyncClient() as stalled,
        fake.serve() as base_url,
    ):
        assert (await idle.post(base_url + PATH, content=b"{}")).status_code == 401
        fake.fail_next(1, Fault.stall(30.0))
        with anyio.move_on_after(0.05):
            await stalled.post(base_url + PATH, content=b"{}")
        assert fake.in_flight == 1
        assert fake.stats.connections == 2  # the stalled one, and the idle kept-alive one
    # Leaving serve() closed both connections and cancelled the stalled handler;
    # filterwarnings=error turns any leaked socket or task into a failure.
    assert fake.in_flight == 0


@pytest.mark.anyio
async def test_errors_inside_serve_propagate_unwrapped() -> None:
    with pytest.raises(KeyError):
        async with FakeHiobuy().serve():
            raise KeyError("boom")


@pytest.mark.anyio
async def test_serve_forever_reports_its_url_and_stops_when_cancelled() -> None:
    fake = FakeHiobuy()
    announced: list[str] = []
    async with anyio.create_task_group() as tg:
        serve_forever = partial(fake.serve_forever, "127.0.0.1", 0, on_ready=announced.append)
        base_url = await tg.start(serve_forever)
        assert announced == [base_url]
        assert base_url.startswith("http://127.0.0.1:")
        async with AsyncHiobuy(FakeHiobuy.DEFAULT_UUID, base_url=base_url) as client:
            result = await client.image_search(FakeHiobuy.sample_images()[0], platform="1688")
        tg.cancel_scope.cancel()
    assert len(result.items) == 20


@pytest.mark.anyio
async def test_garbage_gets_a_400_and_the_connection_closed() -> None:
    fake = FakeHiobuy()
    async with fake.serve() as base_url:
        port = int(base_url.rsplit(":", 1)[1])
        async with await anyio.connect_tcp("127.0.0.1", port) as stream:
            await stream.send(b"NOT HTTP AT ALL\r\n\r\n")
            received = b""
            with anyio.fail_after(5):
                while True:
                    try:
                        received += await stream.receive()
                    except anyio.EndOfStream:
                        break
    assert received.startswith(b"HTTP/1.1 400 ")
    assert fake.stats.requests == 0
