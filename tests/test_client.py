"""AsyncHiobuy: request shaping, validation before I/O, construction, lifecycle, logging."""

from __future__ import annotations

import functools
import gc
import importlib.util
import logging
import subprocess
import sys
import warnings
from contextlib import suppress
from pathlib import Path
from typing import Any

import anyio
import helpers
import httpx
import pytest
from helpers import ENGINES, Recorder, unused_port

from hiobuy_async import (
    DEFAULT_BASE_URL,
    APIConnectionError,
    AsyncHiobuy,
    ImageSearchResult,
    InputError,
    Marketplace,
    UnknownFilterWarning,
    __version__,
)
from hiobuy_async._endpoints.image_search import IMAGE_SEARCH_PATH

BASE = "https://api.hiobuy.test"
IMG = "https://example.com/sample-product.jpg"
UUID = "test-uuid-0001"
SEED_SAMPLE = (Path(__file__).parent / "fixtures" / "seed_sample_response.json").read_bytes()
BACKENDS = ["asyncio", "trio"]


mock_client = functools.partial(helpers.mock_client, uuid=UUID, base_url=BASE)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HIOBUY_UUID", raising=False)
    monkeypatch.delenv("HIOBUY_BASE_URL", raising=False)


# --- request shaping ------------------------------------------------------------------


@pytest.mark.anyio
async def test_taobao_request_is_shaped_per_seed() -> None:
    rec = Recorder()
    async with mock_client(rec) as client:
        result = await client.image_search(IMG, platform="taobao")
    assert isinstance(result, ImageSearchResult)
    request = rec.only
    assert request.method == "POST"
    assert str(request.url) == BASE + "/api/client/third-purchase/image/query"
    assert request.url.path == IMAGE_SEARCH_PATH
    assert request.headers["X-Uuid"] == UUID
    assert request.headers["Language"] == "zh_CN"
    assert request.headers["Content-Type"] == "application/json"
    assert rec.body() == {"img": IMG, "platform": "taobao"}


@pytest.mark.anyio
async def test_1688_request_sends_use_platform_as_string() -> None:
    rec = Recorder()
    async with mock_client(rec) as client:
        await client.image_search(IMG, platform="1688")
        await client.image_search(IMG, platform=Marketplace.ALIBABA_1688, use_platform=True)
    assert rec.body(0) == {"img": IMG, "platform": "1688", "use_platform": "0"}
    assert rec.body(1) == {"img": IMG, "platform": "1688", "use_platform": "1"}


@pytest.mark.anyio
async def test_filters_sent_as_list_only_when_given() -> None:
    rec = Recorder()
    async with mock_client(rec) as client:
        await client.image_search(IMG, platform="1688", filters=("certifiedFactory", "new7"))
        await client.image_search(IMG, platform="1688", filters=(f for f in ["qrr5"]))
        await client.image_search(IMG, platform="1688", filters=[])
        await client.image_search(IMG, platform="taobao", filters=[])
    assert rec.body(0)["filter"] == ["certifiedFactory", "new7"]
    assert rec.body(1)["filter"] == ["qrr5"]
    assert "filter" not in rec.body(2)
    assert rec.body(3) == {"img": IMG, "platform": "taobao"}


@pytest.mark.anyio
async def test_platform_enum_accepted() -> None:
    rec = Recorder()
    async with mock_client(rec) as client:
        await client.image_search(IMG, platform=Marketplace.TAOBAO)
    assert rec.body()["platform"] == "taobao"


@pytest.mark.anyio
async def test_language_default_client_default_and_override() -> None:
    rec = Recorder()
    async with mock_client(rec, language="en_US") as client:
        await client.image_search(IMG, platform="taobao")
        await client.image_search(IMG, platform="taobao", language="vi_VN")
        await client.image_search(IMG, platform="1688", language="ja")
    assert [r.headers["Language"] for r in rec.requests] == ["en_US", "vi_VN", "ja"]


@pytest.mark.anyio
async def test_per_call_language_overrides_client_default_invalid_for_marketplace() -> None:
    rec = Recorder()
    async with mock_client(rec, language="ko_KR") as client:
        await client.image_search(IMG, platform="taobao", language="en_US")
        with pytest.raises(InputError, match="ko_KR"):
            await client.image_search(IMG, platform="taobao")
    assert [r.headers["Language"] for r in rec.requests] == ["en_US"]


@pytest.mark.anyio
async def test_accept_encoding_and_user_agent() -> None:
    rec = Recorder()
    async with mock_client(rec) as client:
        await client.image_search(IMG, platform="taobao")
    headers = rec.only.headers
    encodings = {token.strip() for token in headers["Accept-Encoding"].split(",")}
    assert "gzip" in encodings
    # Only encodings the SDK can inflate in bounded memory may be advertised.
    assert encodings <= {"gzip", "deflate", "identity"}
    assert headers["User-Agent"] == f"hiobuy-async/{__version__}"
    assert headers["Accept"] == "application/json"


@pytest.mark.anyio
async def test_sdk_headers_win_over_caller_client_defaults() -> None:
    rec = Recorder()
    transport = httpx.MockTransport(rec)
    async with (
        httpx.AsyncClient(
            transport=transport,
            headers={"Accept-Encoding": "br, zstd", "X-Uuid": "wrong", "Language": "xx"},
        ) as http_client,
        AsyncHiobuy(UUID, base_url=BASE, http_client=http_client) as client,
    ):
        await client.image_search(IMG, platform="taobao")
    headers = rec.only.headers
    assert headers["X-Uuid"] == UUID
    assert headers["Language"] == "zh_CN"
    assert "br" not in headers["Accept-Encoding"]


@pytest.mark.anyio
async def test_base_url_with_path_prefix_and_trailing_slash() -> None:
    rec = Recorder()
    async with mock_client(rec, base_url="https://gw.example.test/hiobuy/") as client:
        await client.image_search(IMG, platform="taobao")
        assert client.base_url == "https://gw.example.test/hiobuy"
    assert str(rec.only.url) == "https://gw.example.test/hiobuy" + IMAGE_SEARCH_PATH


@pytest.mark.anyio
async def test_result_carries_request_id() -> None:
    rec = Recorder()
    async with mock_client(rec) as client:
        result = await client.image_search(IMG, platform="taobao")
    assert result.request_id == "rid-ok"
    assert result.items[0].num_iid == 808368541552


@pytest.mark.anyio
async def test_timeout_reaches_the_request() -> None:
    rec = Recorder()
    async with mock_client(rec, timeout=5.0) as client:
        await client.image_search(IMG, platform="taobao")
    assert rec.only.extensions["timeout"] == {
        "connect": 5.0,
        "read": 5.0,
        "write": 5.0,
        "pool": 5.0,
    }


@pytest.mark.anyio
async def test_httpx_timeout_object_is_used_as_is() -> None:
    rec = Recorder()
    async with mock_client(rec, timeout=httpx.Timeout(3.0, connect=1.0)) as client:
        await client.image_search(IMG, platform="taobao")
    assert rec.only.extensions["timeout"]["connect"] == 1.0
    assert rec.only.extensions["timeout"]["read"] == 3.0


@pytest.mark.anyio
async def test_default_timeout_is_finite() -> None:
    rec = Recorder()
    async with mock_client(rec) as client:
        await client.image_search(IMG, platform="taobao")
    assert all(
        isinstance(v, float) and 0 < v < 3600 for v in rec.only.extensions["timeout"].values()
    )


# --- validation before any I/O --------------------------------------------------------


def never_called(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no request may be sent, got {request.method} {request.url}")


INVALID_CALLS: list[Any] = [
    pytest.param({"platform": "taobao", "language": "ko_KR"}, "ko_KR", id="locale-taobao"),
    pytest.param({"platform": "taobao", "language": "ja"}, "ja", id="ja-taobao"),
    pytest.param({"platform": "1688", "language": "fr_FR"}, "fr_FR", id="locale-1688"),
    pytest.param({"platform": "taobao", "use_platform": True}, "1688 only", id="use-platform"),
    pytest.param({"platform": "taobao", "filters": ["new7"]}, "1688 only", id="filters-taobao"),
    pytest.param({"platform": "amazon"}, "unknown platform", id="unknown-platform"),
    pytest.param({"platform": None}, "platform", id="no-platform"),
    pytest.param({"platform": "1688", "filters": "new7"}, "single string", id="bare-filter"),
    pytest.param({"platform": "1688", "filters": [""]}, "filter", id="empty-filter"),
    pytest.param({"platform": "1688", "use_platform": "1"}, "bool", id="use-platform-str"),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("kwargs", "match"), INVALID_CALLS)
async def test_invalid_arguments_fail_before_io(kwargs: dict[str, Any], match: str) -> None:
    async with mock_client(never_called) as client:
        with pytest.raises(InputError, match=match):
            await client.image_search(IMG, **kwargs)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "img",
    [
        "example.com/a.jpg",
        "/relative.jpg",
        "ftp://example.com/a.jpg",
        "file:///etc/passwd",
        "data:image/png;base64,AAAA",
        "https://exa mple.com/a.jpg",
        "https://example.com/a.jpg\r\nX-Injected: 1",
        "https://example.com/\x00.jpg",
        "https://example.com/" + "a" * 100_000,
        "",
    ],
)
async def test_bad_image_urls_fail_before_io(img: str) -> None:
    async with mock_client(never_called) as client:
        with pytest.raises(InputError):
            await client.image_search(img, platform="1688")


@pytest.mark.anyio
async def test_unknown_1688_filter_warns_at_caller_and_is_sent() -> None:
    rec = Recorder()
    async with mock_client(rec) as client:
        with pytest.warns(UnknownFilterWarning, match="madeUpFilter") as record:
            await client.image_search(IMG, platform="1688", filters=["madeUpFilter", "new7"])
    assert rec.body()["filter"] == ["madeUpFilter", "new7"]
    assert record[0].filename == __file__


# --- construction ---------------------------------------------------------------------


def test_missing_uuid_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="HIOBUY_UUID"):
        AsyncHiobuy()
    with pytest.raises(InputError, match="uuid"):
        AsyncHiobuy("")


@pytest.mark.parametrize(
    "uuid",
    [
        "SECRET VALUE",
        "SECRET\tVALUE",
        "SECRETVALUE\n",
        " SECRETVALUE",
        "SECRET\x00VALUE",
        "SECRET\x1bVALUE",
        "SECRET\u00e9VALUE",
        "SECRET\u200bVALUE",
    ],
)
def test_bad_uuid_rejected_without_echo(uuid: str) -> None:
    with pytest.raises(InputError) as info:
        AsyncHiobuy(uuid, base_url=BASE)
    text = str(info.value) + repr(info.value)
    assert "SECRET" not in text
    assert "VALUE" not in text


def test_non_string_uuid_rejected() -> None:
    with pytest.raises(InputError, match="string"):
        AsyncHiobuy(12345, base_url=BASE)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_uuid_and_base_url_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIOBUY_UUID", "env-uuid")
    monkeypatch.setenv("HIOBUY_BASE_URL", "https://env.hiobuy.test/")
    rec = Recorder()
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(rec)) as http_client,
        AsyncHiobuy(http_client=http_client) as client,
    ):
        assert client.base_url == "https://env.hiobuy.test"
        await client.image_search(IMG, platform="taobao")
    assert rec.only.headers["X-Uuid"] == "env-uuid"
    assert rec.only.url.host == "env.hiobuy.test"


@pytest.mark.anyio
async def test_explicit_arguments_beat_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIOBUY_UUID", "env-uuid")
    monkeypatch.setenv("HIOBUY_BASE_URL", "https://env.hiobuy.test")
    rec = Recorder()
    async with mock_client(rec, uuid="arg-uuid") as client:
        await client.image_search(IMG, platform="taobao")
    assert rec.only.headers["X-Uuid"] == "arg-uuid"
    assert rec.only.url.host == "api.hiobuy.test"


def test_default_base_url() -> None:
    client = AsyncHiobuy("u")
    assert client.base_url == DEFAULT_BASE_URL == "https://open.hiobuy.com"


@pytest.mark.parametrize(
    "url", ["http://api.hiobuy.test", "http://10.0.0.5:8080", "http://localhost.evil.test"]
)
def test_plain_http_to_remote_host_rejected(url: str) -> None:
    with pytest.raises(InputError, match="allow_insecure_http"):
        AsyncHiobuy("u", base_url=url)


def test_plain_http_from_env_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIOBUY_BASE_URL", "http://api.hiobuy.test")
    with pytest.raises(InputError, match="allow_insecure_http"):
        AsyncHiobuy("u")


def test_plain_http_allowed_with_opt_in() -> None:
    client = AsyncHiobuy("u", base_url="http://api.hiobuy.test", allow_insecure_http=True)
    assert client.base_url == "http://api.hiobuy.test"


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8787", "http://localhost:1", "http://[::1]:9000", "http://127.1.2.3"]
)
def test_plain_http_to_loopback_allowed(url: str) -> None:
    assert AsyncHiobuy("u", base_url=url).base_url == url


@pytest.mark.parametrize(
    "url",
    [
        "ftp://api.hiobuy.test",
        "api.hiobuy.test",
        "https://",
        "https://user:pw@api.hiobuy.test",
        "https://api.hiobuy.test/?x=1",
        "https://api.hiobuy.test/#f",
    ],
)
def test_bad_base_url_rejected(url: str) -> None:
    with pytest.raises(InputError, match="base_url"):
        AsyncHiobuy("u", base_url=url)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"timeout": 0}, "timeout"),
        ({"timeout": -1.0}, "timeout"),
        ({"timeout": "10"}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"timeout": float("nan")}, "timeout"),
        ({"max_connections": 0}, "max_connections"),
        ({"max_connections": -3}, "max_connections"),
        ({"max_connections": 2.5}, "max_connections"),
        ({"max_connections": True}, "max_connections"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 1.5}, "max_retries"),
        ({"deadline": 0}, "deadline"),
        ({"max_response_bytes": 0}, "max_response_bytes"),
        ({"max_response_bytes": 1.5}, "max_response_bytes"),
        ({"max_retry_after": -1}, "max_retry_after"),
        ({"language": "xx_XX"}, "language"),
    ],
)
def test_bad_options_rejected_at_construction(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InputError, match=match):
        AsyncHiobuy("u", base_url=BASE, **kwargs)


# --- lifecycle ------------------------------------------------------------------------


class PoolSpy:
    """Record every httpx.AsyncClient created, and every aclose() call on one."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.created: list[httpx.AsyncClient] = []
        self.closes: list[httpx.AsyncClient] = []
        real_init = httpx.AsyncClient.__init__
        real_aclose = httpx.AsyncClient.aclose
        spy = self

        def init(client: httpx.AsyncClient, *args: Any, **kwargs: Any) -> None:
            spy.created.append(client)
            real_init(client, *args, **kwargs)

        async def aclose(client: httpx.AsyncClient) -> None:
            spy.closes.append(client)
            await real_aclose(client)

        monkeypatch.setattr(httpx.AsyncClient, "__init__", init)
        monkeypatch.setattr(httpx.AsyncClient, "aclose", aclose)


@pytest.mark.anyio
async def test_async_with_creates_and_closes_the_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = PoolSpy(monkeypatch)
    client = AsyncHiobuy("u", base_url=BASE, transport="httpx")
    assert spy.created == []
    assert not client.is_closed
    async with client as entered:
        assert entered is client
        assert spy.created
        assert not any(pool.is_closed for pool in spy.created)
        assert spy.closes == []
    assert client.is_closed
    assert all(pool.is_closed for pool in spy.created)
    assert sorted(map(id, spy.closes)) == sorted(map(id, spy.created))


@pytest.mark.anyio
async def test_aclose_is_idempotent_and_closes_once(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = PoolSpy(monkeypatch)
    client = AsyncHiobuy("u", base_url=BASE, transport="httpx")
    await client.__aenter__()
    await client.aclose()
    await client.aclose()
    await client.__aexit__(None, None, None)
    assert spy.created
    assert len(spy.closes) == len(spy.created)
    assert len({id(c) for c in spy.closes}) == len(spy.closes)
    assert client.is_closed


@pytest.mark.anyio
async def test_aclose_without_use_is_fine() -> None:
    client = AsyncHiobuy("u", base_url=BASE)
    await client.aclose()
    assert client.is_closed


@pytest.mark.anyio
async def test_calls_after_close_raise_without_io() -> None:
    rec = Recorder()
    async with mock_client(rec) as client:
        await client.image_search(IMG, platform="taobao")
    with pytest.raises(RuntimeError, match="closed"):
        await client.image_search(IMG, platform="taobao")
    assert len(rec.requests) == 1


@pytest.mark.anyio
async def test_caller_http_client_is_not_closed() -> None:
    rec = Recorder()
    async with httpx.AsyncClient(transport=httpx.MockTransport(rec)) as http_client:
        async with AsyncHiobuy("u", base_url=BASE, http_client=http_client) as client:
            await client.image_search(IMG, platform="taobao")
        assert not http_client.is_closed
        await AsyncHiobuy("u", base_url=BASE, http_client=http_client).aclose()
        assert not http_client.is_closed
        response = await http_client.get("https://other.test/")
        assert response.status_code == 200


def _used_unclosed_client(backend: str, transport: str) -> AsyncHiobuy:
    """Make one (failing) request on an SDK-owned pool, and leak the client."""
    client = AsyncHiobuy(
        "u",
        base_url=f"http://127.0.0.1:{unused_port()}",
        max_retries=0,
        timeout=2.0,
        transport=transport,  # type: ignore[arg-type]
    )

    async def use() -> None:
        with suppress(APIConnectionError):
            await client.image_search(IMG, platform="taobao")

    anyio.run(use, backend=backend)
    return client


def _drop_and_collect(holder: list[AsyncHiobuy]) -> None:
    holder.clear()
    gc.collect()


POOL_KINDS = [
    pytest.param(backend, engine, id=f"{backend}-{engine}")
    for engine in ENGINES
    for backend in ("asyncio", "trio")
    if engine != "aiohttp" or (backend == "asyncio" and importlib.util.find_spec("aiohttp"))
]


@pytest.mark.parametrize(("backend", "transport"), POOL_KINDS)
def test_unclosed_client_warns_once_after_its_loop_is_gone(
    backend: str, transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    holder = [_used_unclosed_client(backend, transport)]
    with pytest.warns(ResourceWarning) as record:
        _drop_and_collect(holder)
    ours = [w for w in record if issubclass(w.category, ResourceWarning)]
    # On aiohttp too: its session's own warning and loop report are not shown.
    assert len(ours) == 1, [str(w.message) for w in ours]
    assert "AsyncHiobuy" in str(ours[0].message)
    # __del__ must not reach an event loop: no loop exception handler may have
    # run (asyncio logs those as errors). An exception raised from __del__ would
    # be reported by pytest as an unraisable exception and fail this test too.
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_never_used_client_does_not_warn() -> None:
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        client = AsyncHiobuy("u", base_url=BASE)
        del client
        gc.collect()
    assert [w for w in record if issubclass(w.category, ResourceWarning)] == []


@pytest.mark.anyio
async def test_closed_client_and_caller_pool_client_do_not_warn() -> None:
    rec = Recorder()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        async with mock_client(rec) as client:
            await client.image_search(IMG, platform="taobao")
        del client
        async with httpx.AsyncClient(transport=httpx.MockTransport(rec)) as http_client:
            other = AsyncHiobuy("u", base_url=BASE, http_client=http_client)
            await other.image_search(IMG, platform="taobao")
            del other
        gc.collect()
    assert [w for w in record if issubclass(w.category, ResourceWarning)] == []


# --- logging --------------------------------------------------------------------------


@pytest.mark.anyio
async def test_log_records_carry_method_path_status_attempt_request_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="hiobuy_async")
    rec = Recorder(httpx.Response(503, headers={"x-request-id": "rid-503"}))
    async with mock_client(rec, max_retries=1) as client:
        await client.image_search(IMG, platform="taobao")
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("hiobuy_async")]
    first = next(m for m in messages if "503" in m)
    second = next(m for m in messages if " 200" in m)
    for text in (first, second):
        assert "POST" in text
        assert IMAGE_SEARCH_PATH in text
    assert "attempt=1" in first
    assert "rid-503" in first
    assert "attempt=2" in second
    assert "rid-ok" in second


def test_nothing_logged_at_import_time() -> None:
    code = (
        "import logging, sys\n"
        "records = []\n"
        "class H(logging.Handler):\n"
        "    def emit(self, record): records.append(record)\n"
        "logging.getLogger().addHandler(H())\n"
        "logging.getLogger().setLevel(logging.DEBUG)\n"
        "import hiobuy_async, hiobuy_async.marketplaces\n"
        "root_handlers = [type(h).__name__ for h in logging.getLogger().handlers]\n"
        "own = [type(h).__name__ for h in logging.getLogger('hiobuy_async').handlers]\n"
        "print(len(records), root_handlers, own)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    count, _, rest = out.stdout.strip().partition(" ")
    assert count == "0", out.stdout
    assert rest.startswith("['H']"), out.stdout
    assert "StreamHandler" not in rest
    assert out.stderr == ""
