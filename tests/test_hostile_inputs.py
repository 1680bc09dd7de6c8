"""Issue 13, points 12 and 15: odd arguments fail with `InputError`, odd statuses are not 5xx."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from echo_server import echo_server, http_response
from helpers import ENGINES, make_client

from hiobuy_async import APIStatusError, AsyncHiobuy, ImageQuery, InputError
from hiobuy_async._retry import is_retryable

UUID = "0f8fad5b-d9cb-469f-a165-70867728950e"
IMG = "https://example.com/a.jpg"

BAD_BASE_URLS = [
    "http://127.0.0.1:8000/?",
    "http://127.0.0.1:8000/#",
    "http://127.0.0.1:8000?",
    "http://127.0.0.1:8000/api?x=1",
    "http://127.0.0.1:8000\r",
    "http://127.0.0.1:8000\r\n",
    "http://127.0.0.1:8000/\n",
    "http://127.0.0.1:80\t00",
    "http://127.0.\n0.1:8000",
    "  http://127.0.0.1:8000",
    "\thttp://127.0.0.1:8000",
    "http://127.0.0.1:8000 ",
    "http://127.0.0.1:8000/a b",
    "http://127.0.0.1:99999",
    "http://127.0.0.1:port",
    "http://@127.0.0.1:8000",
    "http://user:hunter2@127.0.0.1:8000",
    "ftp://127.0.0.1",
    "http://",
    "127.0.0.1:8000",
]


@pytest.mark.parametrize("transport", ENGINES)
@pytest.mark.parametrize("base_url", BAD_BASE_URLS)
def test_point12_bad_base_url_is_an_input_error_at_construction(
    base_url: str, transport: str
) -> None:
    with pytest.raises(InputError) as info:
        AsyncHiobuy(UUID, base_url=base_url, transport=transport)  # type: ignore[arg-type]
    message = str(info.value)
    assert "base_url" in message
    assert UUID not in message
    assert "hunter2" not in message


@pytest.mark.parametrize("transport", ENGINES)
def test_point12_a_crlf_env_file_is_named_in_the_error(
    transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HIOBUY_BASE_URL", "http://127.0.0.1:8000\r")
    with pytest.raises(InputError, match=r"HIOBUY_BASE_URL contains whitespace or control"):
        AsyncHiobuy(UUID, transport=transport)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "base_url",
    [
        "http://127.0.0.1:8000",
        "http://localhost:8000/",
        "https://open.hiobuy.com/v2/",
        "http://[::1]:80",
    ],
)
def test_point12_plain_base_urls_still_work(base_url: str) -> None:
    client = AsyncHiobuy(UUID, base_url=base_url)
    assert client.base_url == base_url.rstrip("/")


@pytest.mark.anyio
@pytest.mark.parametrize("transport", ENGINES)
@pytest.mark.parametrize("status", [600, 700, 999])
async def test_point15_status_beyond_599_is_not_a_server_error_nor_retried(
    status: int, transport: str, anyio_backend: str
) -> None:

    async def reply(_: bytes) -> bytes | None:
        return http_response(status, b"odd")

    async with (
        echo_server(reply) as (base_url, requests),
        AsyncHiobuy(UUID, base_url=base_url, transport=transport, max_retries=2) as client,  # type: ignore[arg-type]
    ):
        with pytest.raises(APIStatusError) as info:
            await client.image_search(IMG, platform="1688")
    assert type(info.value) is APIStatusError
    assert info.value.status_code == status
    assert not is_retryable(info.value)
    assert len(requests) == 1


_client = functools.partial(make_client, "http://127.0.0.1:9", uuid=UUID)


CONSTRUCTIONS: dict[str, Callable[[], object]] = {
    "base_url=123": lambda: AsyncHiobuy(UUID, base_url=123),  # type: ignore[arg-type]
    "base_url=b''": lambda: AsyncHiobuy(UUID, base_url=b"http://127.0.0.1"),  # type: ignore[arg-type]
    "language=list": lambda: _client(language=["en_US"]),
    "language=5": lambda: _client(language=5),
    "allow_insecure_http='no'": lambda: AsyncHiobuy(
        UUID,
        base_url="http://example.com",
        allow_insecure_http="no",  # type: ignore[arg-type]
    ),
    "http_client=str": lambda: _client(http_client="httpx"),
    "http_client=sync": lambda: _client(http_client=httpx.Client()),
    "timeout=str": lambda: _client(timeout="5"),
    "max_retries=str": lambda: _client(max_retries="2"),
    "max_connections=str": lambda: _client(max_connections="4"),
    "deadline=str": lambda: _client(deadline="1"),
    "max_response_bytes=float": lambda: _client(max_response_bytes=1.5),
    "max_retry_after=str": lambda: _client(max_retry_after="9"),
    "transport=5": lambda: _client(transport=5),  # type: ignore[arg-type]
    "uuid=123": lambda: AsyncHiobuy(123),  # type: ignore[arg-type]
    "ImageQuery(filters=5)": lambda: ImageQuery(IMG, filters=5),  # type: ignore[arg-type]
    "ImageQuery(filters=object)": lambda: ImageQuery(IMG, filters=object()),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("make", list(CONSTRUCTIONS.values()), ids=list(CONSTRUCTIONS))
def test_point15_wrong_argument_type_is_an_input_error(make: Callable[[], object]) -> None:
    with pytest.raises(InputError):
        make()


SEARCHES: dict[str, dict[str, Any]] = {
    "language=list": {"platform": "1688", "language": ["en_US"]},
    "language=dict": {"platform": "taobao", "language": {"en_US": 1}},
    "filters=5": {"platform": "1688", "filters": 5},
    "filters=None-in-list": {"platform": "1688", "filters": [None]},
    "use_platform='1'": {"platform": "1688", "use_platform": "1"},
    "platform=5": {"platform": 5},
    "platform=list": {"platform": ["1688"]},
}


@pytest.mark.anyio
@pytest.mark.parametrize("options", list(SEARCHES.values()), ids=list(SEARCHES))
async def test_point15_wrong_search_argument_type_is_an_input_error(
    options: dict[str, Any], anyio_backend: str
) -> None:
    async with _client() as client:
        with pytest.raises(InputError):
            await client.image_search(IMG, **options)
        with pytest.raises(InputError):
            await client.image_search(5, platform="1688")  # type: ignore[arg-type]
