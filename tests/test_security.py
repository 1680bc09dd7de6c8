"""The uuid is a credential: never in a repr, an exception chain, or a log record."""

from __future__ import annotations

import functools
import json
import logging
import traceback
from pathlib import Path
from typing import Any

import helpers
import httpx
import pytest
from helpers import exception_chain

from hiobuy_async import (
    APIConnectionError,
    APIError,
    AsyncHiobuy,
    AuthenticationError,
    HiobuyError,
    InputError,
    ResponseValidationError,
    ServerError,
)
from hiobuy_async._endpoints.image_search import parse_image_search
from hiobuy_async._retry import set_no_backoff

UUID = "SECRET-UUID-123"
BASE = "https://api.hiobuy.test"
IMG = "https://example.com/a.jpg"
SEED_SAMPLE = (Path(__file__).parent / "fixtures" / "seed_sample_response.json").read_bytes()


def assert_no_secret_in_error(exc: BaseException) -> None:
    shown = "".join(traceback.format_exception(exc))
    assert UUID not in shown, f"uuid in the printed traceback: {shown[-500:]}"
    for how, link in exception_chain(exc):
        for text in (str(link), repr(link), repr(link.args), repr(vars(link))):
            assert UUID not in text, f"uuid reachable via {how} {type(link).__name__}: {text[:200]}"


mock_client = functools.partial(helpers.mock_client, uuid=UUID, base_url=BASE, max_retries=0)


def test_uuid_not_in_repr_or_str() -> None:
    client = AsyncHiobuy(UUID, base_url=BASE)
    assert UUID not in repr(client)
    assert UUID not in str(client)
    assert BASE in repr(client)


@pytest.mark.anyio
async def test_uuid_only_travels_in_its_header() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=SEED_SAMPLE)

    async with mock_client(handler) as client:
        await client.image_search(IMG, platform="1688", filters=["new7"])
    (request,) = seen
    assert request.headers["X-Uuid"] == UUID
    assert UUID not in str(request.url)
    assert UUID.encode() not in request.content
    others = {k: v for k, v in request.headers.items() if k.lower() != "x-uuid"}
    assert UUID not in repr(others)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "raised",
    [
        httpx.ConnectError(f"cannot connect, headers were {{'X-Uuid': '{UUID}'}}"),
        httpx.ReadTimeout(f"timed out sending X-Uuid: {UUID}"),
        httpx.RemoteProtocolError(f"bad response to {UUID}"),
    ],
)
async def test_uuid_not_in_connection_error_or_its_chain(raised: Exception) -> None:
    set_no_backoff(True)

    def handler(request: httpx.Request) -> httpx.Response:
        raise raised

    async with mock_client(handler, max_retries=1) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.image_search(IMG, platform="taobao")
    assert "***" in str(info.value)
    assert_no_secret_in_error(info.value)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("response", "cls"),
    [
        pytest.param(
            httpx.Response(401, json={"msg": f"unknown uuid {UUID}"}),
            AuthenticationError,
            id="401-echo",
        ),
        pytest.param(
            httpx.Response(500, text=f"<pre>Traceback: X-Uuid={UUID}\n</pre>"),
            ServerError,
            id="500-echo",
        ),
        pytest.param(
            httpx.Response(200, json={"ret": 0, "msg": f"uuid {UUID} is disabled"}),
            APIError,
            id="ret-echo",
        ),
        pytest.param(
            httpx.Response(200, text=f"<html>proxy error for {UUID}</html>"),
            ResponseValidationError,
            id="html-echo",
        ),
        pytest.param(
            httpx.Response(200, json={"ret": 1, "data": {"items": {"item": [{"num_iid": UUID}]}}}),
            ResponseValidationError,
            id="structure-echo",
        ),
    ],
)
async def test_uuid_echoed_by_server_is_redacted(
    response: httpx.Response, cls: type[HiobuyError]
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return response

    async with mock_client(handler) as client:
        with pytest.raises(HiobuyError) as info:
            await client.image_search(IMG, platform="taobao")
    assert type(info.value) is cls
    assert_no_secret_in_error(info.value)
    if isinstance(info.value, APIError):
        assert info.value.msg is not None
        assert UUID not in info.value.msg


@pytest.mark.parametrize(
    "bad", [UUID + " ", UUID + "\n", "\t" + UUID, UUID + "\x00", UUID.replace("-", " ")]
)
def test_malformed_uuid_is_rejected_without_echo(bad: str) -> None:
    with pytest.raises(InputError) as info:
        AsyncHiobuy(bad, base_url=BASE)
    assert "SECRET" not in str(info.value) + repr(info.value)
    assert_no_secret_in_error(info.value)


def test_malformed_uuid_from_env_is_rejected_without_echo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIOBUY_UUID", UUID + "\r\n")
    with pytest.raises(InputError) as info:
        AsyncHiobuy(base_url=BASE)
    assert "SECRET" not in str(info.value) + repr(info.value)
    assert_no_secret_in_error(info.value)


@pytest.mark.anyio
async def test_uuid_never_in_log_records(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="hiobuy_async")
    caplog.set_level(logging.DEBUG, logger="httpx")
    caplog.set_level(logging.DEBUG)
    set_no_backoff(True)
    answers: list[Any] = [
        httpx.ConnectError(f"refused for {UUID}"),
        httpx.Response(503, text=f"busy {UUID}", headers={"x-request-id": "rid-a"}),
        httpx.Response(200, content=SEED_SAMPLE, headers={"x-request-id": "rid-b"}),
        httpx.Response(401, text=f"bad uuid {UUID}"),
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[no-any-return]

    async with mock_client(handler, max_retries=3) as client:
        await client.image_search(IMG, platform="taobao")
        with pytest.raises(AuthenticationError):
            await client.image_search(IMG, platform="taobao")

    assert caplog.records, "the SDK should log its requests at DEBUG"
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in caplog.records:
        rendered = formatter.format(record)
        assert UUID not in rendered, rendered
        assert UUID not in repr(record.args)
        assert UUID not in repr(vars(record))
    sdk = [r.getMessage() for r in caplog.records if r.name.startswith("hiobuy_async")]
    assert any("rid-a" in m and "503" in m for m in sdk)
    assert any("rid-b" in m and "200" in m for m in sdk)
    assert any("attempt" in m for m in sdk)


@pytest.mark.anyio
async def test_redirect_never_carries_uuid_elsewhere() -> None:
    hosts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        return httpx.Response(307, headers={"Location": "https://collector.evil.test/"})

    async with mock_client(handler, follow_redirects=True, max_retries=3) as client:
        with pytest.raises(HiobuyError):
            await client.image_search(IMG, platform="taobao")
    assert hosts == ["api.hiobuy.test"]


def test_results_do_not_hold_the_uuid() -> None:
    # A result is plain data: pickling or printing it cannot expose the credential.
    result = parse_image_search(SEED_SAMPLE, request_id="r")
    assert UUID not in repr(result)
    assert UUID not in json.dumps(dict(result.raw), ensure_ascii=False)
