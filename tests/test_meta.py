"""`result.meta` and `Failed.meta`: what the HTTP answer said, the same on every engine."""

from __future__ import annotations

import functools
import json
from typing import Any

import helpers
import pytest
from echo_server import echo_server, http_response

from hiobuy_async import (
    APIError,
    APITimeoutError,
    Failed,
    Ok,
    ProductDetails,
    ResponseMeta,
    ServerError,
)
from hiobuy_async.testing import FakeHiobuy, Fault

UUID = "0f8fad5b-d9cb-469f-a165-70867728950e"
IMG = "https://example.com/a.jpg"
TRANSPORTS = helpers.ENGINES
OK_BODY = json.dumps({"ret": 1, "msg": "ok", "data": {"items": {"item": []}}}).encode()

pytestmark = pytest.mark.anyio


make_client = functools.partial(helpers.make_client, uuid=UUID, initial_backoff=0.001)


def served_in_turn(*responses: bytes) -> Any:
    answers = iter(responses)

    async def reply(_: bytes) -> bytes | None:
        return next(answers)

    return reply


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_result_meta_is_the_same_on_every_engine(transport: str, anyio_backend: str) -> None:
    headers = {"X-Request-Id": "req-1", "X-Custom": "a", "Content-Type": "application/json"}
    reply = served_in_turn(http_response(200, OK_BODY, headers=headers))
    async with echo_server(reply) as (base_url, _), make_client(base_url, transport) as client:
        result = await client.image_search(IMG, platform="1688")
    meta = result.meta
    assert isinstance(meta, ResponseMeta)
    assert meta.status_code == 200
    assert meta.request_id == "req-1" == result.request_id
    assert meta.attempts == 1
    assert meta.elapsed >= 0
    expected_engine = "httpx2" if anyio_backend == "trio" and transport == "aiohttp" else transport
    assert meta.engine == expected_engine
    assert meta.headers["x-custom"] == "a"
    assert meta.headers["content-type"] == "application/json"
    assert meta.headers["content-length"] == str(len(OK_BODY))
    assert all(name == name.lower() for name in meta.headers)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_result_meta_counts_attempts_after_a_503(transport: str, anyio_backend: str) -> None:
    reply = served_in_turn(
        http_response(503, b"busy", headers={"X-Request-Id": "first"}),
        http_response(200, OK_BODY, headers={"X-Request-Id": "second"}),
    )
    async with echo_server(reply) as (base_url, _), make_client(base_url, transport) as client:
        result = await client.image_search(IMG, platform="1688")
    assert result.meta is not None
    assert result.meta.attempts == 2
    assert result.meta.request_id == "second"


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_result_meta_headers_hide_secrets(transport: str, anyio_backend: str) -> None:
    headers = {
        "Set-Cookie": "session=abc",
        "WWW-Authenticate": "Basic realm=x",
        "X-Uuid": UUID,
        "X-Echo": f"you sent {UUID}",
    }
    reply = served_in_turn(http_response(200, OK_BODY, headers=headers))
    async with echo_server(reply) as (base_url, _), make_client(base_url, transport) as client:
        result = await client.image_search(IMG, platform="1688")
    assert result.meta is not None
    shown = result.meta.headers
    assert shown["set-cookie"] == shown["www-authenticate"] == shown["x-uuid"] == "<redacted>"
    assert shown["x-echo"] == "you sent ***"
    assert UUID not in repr(result.meta)
    assert "abc" not in repr(result.meta)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_errors_with_an_answer_carry_its_meta(transport: str, anyio_backend: str) -> None:
    refused = json.dumps({"ret": 0, "msg": "image cannot be fetched"}).encode()
    reply = served_in_turn(
        http_response(200, refused, headers={"X-Request-Id": "r1"}),
        http_response(500, b"oops", headers={"X-Request-Id": "r2"}),
    )
    async with (
        echo_server(reply) as (base_url, _),
        make_client(base_url, transport, max_retries=0) as client,
    ):
        with pytest.raises(APIError) as refusal:
            await client.image_search(IMG, platform="1688")
        with pytest.raises(ServerError) as failure:
            await client.image_search(IMG, platform="1688")
    assert refusal.value.meta is not None
    assert (refusal.value.meta.status_code, refusal.value.meta.request_id) == (200, "r1")
    assert failure.value.meta is not None
    assert (failure.value.meta.status_code, failure.value.meta.request_id) == (500, "r2")


async def test_an_error_without_an_answer_has_no_meta() -> None:
    fake = FakeHiobuy()
    fake.fail_next(1, Fault.stall(5))
    async with fake.client(timeout=0.05, max_retries=0) as client:
        with pytest.raises(APITimeoutError) as info:
            await client.image_search(FakeHiobuy.sample_images()[0], platform="1688")
    assert info.value.meta is None


async def test_failed_outcomes_carry_the_answers_meta() -> None:
    fake = FakeHiobuy()
    images = FakeHiobuy.sample_images()[:2]
    fake.fail_matching(images[1], Fault.api_error(ret=0, msg="refused"))
    async with fake.client(max_retries=0) as client:
        outcomes = await client.search_many(images, platform="1688")
    by_index = {o.index: o for o in outcomes}
    ok, failed = by_index[0], by_index[1]
    assert isinstance(ok, Ok)
    assert ok.result.meta is not None
    assert ok.result.meta.status_code == 200
    assert isinstance(failed, Failed)
    assert failed.meta is failed.error.meta
    assert failed.meta is not None
    assert failed.meta.status_code == 200


async def test_two_fetches_of_the_same_product_compare_equal() -> None:
    fake = FakeHiobuy()
    async with fake.client() as client:
        found = await client.image_search(FakeHiobuy.sample_images()[0], platform="1688")
        first = await client.product_details(found.items[0].num_iid, platform="1688")
        second = await client.product_details(found.items[0].num_iid, platform="1688")
        again = await client.image_search(FakeHiobuy.sample_images()[0], platform="1688")
    assert first.request_id != second.request_id
    assert first == second
    assert hash(first) == hash(second)
    assert found == again


async def test_every_endpoint_result_carries_meta() -> None:
    fake = FakeHiobuy()
    async with fake.client() as client:
        found = await client.image_search(FakeHiobuy.sample_images()[0], platform="1688")
        page = await client.keyword_search("lamp", platform="1688")
        details = await client.product_details(found.items[0].num_iid, platform="1688")
        nick = await client.shop_nick(details.shop_id or "shop")
    for result in (found, page, details, nick):
        assert result.meta is not None, type(result).__name__
        assert result.meta.status_code == 200


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_details_field_named_meta_stays_in_extra(
    transport: str, anyio_backend: str
) -> None:
    data = {"num_iid": 12, "title": "Lamp", "meta": {"from": "api"}}
    body = json.dumps({"ret": 1, "msg": "ok", "data": data}).encode()
    reply = served_in_turn(http_response(200, body))
    async with echo_server(reply) as (base_url, _), make_client(base_url, transport) as client:
        details = await client.product_details(12, platform="1688")
    assert isinstance(details, ProductDetails)
    assert details.extra["meta"] == {"from": "api"}
    assert isinstance(details.meta, ResponseMeta)
