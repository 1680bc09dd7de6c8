"""`HTTPS_PROXY` / `NO_PROXY` from the environment: the same on every engine, asyncio and trio.

A small loopback CONNECT proxy records each tunnel it opens; the API is a
loopback HTTPS server with a private CA.
"""

from __future__ import annotations

import base64
import logging
import os
import sys
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import anyio.abc
import pytest
import trustme
from echo_server import echo_server, http_response
from helpers import ENGINES, serve_tcp, unused_port
from tls_server import client_context, tls_server

from hiobuy_async import APIConnectionError, AsyncHiobuy, Failed, HiobuyError, InputError
from hiobuy_async.testing import FakeHiobuy

pytestmark = pytest.mark.anyio

IMAGE = "https://cbu01.alicdn.com/img/ibank/proxy.jpg"
ENVELOPE = (
    b'{"ret":1,"msg":"success","data":{"api_type":"taobao","items":{"item":[],"total_results":0}}}'
)
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")


async def ok(_: bytes) -> bytes:
    return http_response(200, ENVELOPE, headers={"Content-Type": "application/json"})


async def _pipe(source: anyio.abc.ByteStream, sink: anyio.abc.ByteStream) -> None:
    try:
        async for chunk in source:
            await sink.send(chunk)
    except Exception:  # either side went away
        pass
    finally:
        await sink.aclose()


@asynccontextmanager
async def connect_proxy() -> AsyncIterator[tuple[str, list[str]]]:
    """An HTTP proxy on 127.0.0.1 that only tunnels (CONNECT), recording each request line."""
    lines: list[str] = []

    async def handle(client: anyio.abc.SocketStream) -> None:
        async with client:
            buffer = b""
            while b"\r\n\r\n" not in buffer:
                try:
                    buffer += await client.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    return
            head, _, rest = buffer.partition(b"\r\n\r\n")
            line = head.split(b"\r\n")[0].decode("latin-1")
            lines.append(line)
            method, target, _ = line.split(" ")
            if method != "CONNECT":
                await client.send(http_response(405, b"tunnels only"))
                return
            host, _, port = target.rpartition(":")
            async with await anyio.connect_tcp(host, int(port)) as upstream:
                await client.send(b"HTTP/1.1 200 Connection established\r\n\r\n")
                if rest:
                    await upstream.send(rest)
                async with anyio.create_task_group() as tg:
                    tg.start_soon(_pipe, client, upstream)
                    tg.start_soon(_pipe, upstream, client)

    async with serve_tcp(handle) as port:
        yield f"http://127.0.0.1:{port}", lines


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(autouse=True)
def _clean_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.mark.parametrize("transport", ENGINES)
async def test_https_proxy_tunnels_and_no_proxy_goes_direct(
    ca: trustme.CA, transport: str, monkeypatch: pytest.MonkeyPatch, anyio_backend: str
) -> None:
    async with tls_server(ok, ca) as served, connect_proxy() as (proxy_url, tunnels):
        target = served.base_url.removeprefix("https://")
        monkeypatch.setenv("HTTPS_PROXY", proxy_url)
        monkeypatch.setenv("NO_PROXY", "api.elsewhere.test")
        for _ in range(2):
            async with AsyncHiobuy(
                FakeHiobuy.DEFAULT_UUID,
                base_url=served.base_url,
                transport=transport,  # type: ignore[arg-type]
                ssl_context=client_context(ca),
                max_retries=0,
            ) as client:
                await client.image_search(IMAGE, platform="taobao")
                await client.image_search(IMAGE, platform="taobao")
        # One tunnel per client, kept alive for both of its requests.
        assert tunnels == [f"CONNECT {target} HTTP/1.1"] * 2
        assert len(served.requests) == 4

        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with AsyncHiobuy(
            FakeHiobuy.DEFAULT_UUID,
            base_url=served.base_url,
            transport=transport,  # type: ignore[arg-type]
            ssl_context=client_context(ca),
            max_retries=0,
        ) as client:
            await client.image_search(IMAGE, platform="taobao")
        assert len(tunnels) == 2  # went direct
        assert len(served.requests) == 5


# --- issue 18, points 11, 12 and 18: proxy credentials, loopback, malformed variables ---

ROOT = Path(__file__).resolve().parents[1]
PROXY_USER = "crawler-account"
PROXY_PASSWORD = "pr0xy-pa55word"


def proxy_secrets_in(text: str) -> list[str]:
    """The proxy credentials (plain, or as a Proxy-Authorization header sends them) in `text`."""
    basic = base64.b64encode(f"{PROXY_USER}:{PROXY_PASSWORD}".encode()).decode()
    return [secret for secret in (PROXY_PASSWORD, basic) if secret in text]


def safe_repr(value: object) -> str:
    try:
        return repr(value)
    except Exception:  # an object whose __init__ raised, half built
        return ""


def texts_of(error: BaseException) -> str:
    texts = [
        str(error),
        repr(error),
        repr(vars(error)),
        repr(error.args),
        "".join(traceback.format_exception(error)),
    ]
    # What error reporters printing local variables (Sentry, rich) show of
    # the SDK's frames (the test's own frames hold the proxy's log).
    tb = error.__traceback__
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename).parent.name != "tests":
            texts += [safe_repr(value) for value in tb.tb_frame.f_locals.values()]
        tb = tb.tb_next
    return "\n".join(texts)


async def echo_407(request: bytes) -> bytes:
    # A proxy refusing the credentials, and quoting the request (its
    # Proxy-Authorization header included) in its answer.
    return http_response(
        407, request, reason="Proxy Authentication Required", headers={"X-Echo": "1"}
    )


@pytest.mark.parametrize("transport", ENGINES)
@pytest.mark.parametrize("scheme", ["https", "http"])
async def test_proxy_credentials_never_appear_in_errors_or_logs(
    transport: str,
    scheme: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    anyio_backend: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with echo_server(echo_407) as (proxy_url, requests):
        port = proxy_url.rpartition(":")[2]
        monkeypatch.setenv(
            f"{scheme.upper()}_PROXY", f"http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{port}"
        )
        async with AsyncHiobuy(
            FakeHiobuy.DEFAULT_UUID,
            base_url=f"{scheme}://api.hiobuy.test",
            allow_insecure_http=scheme == "http",
            transport=transport,  # type: ignore[arg-type]
            max_retries=0,
        ) as client:
            with pytest.raises(HiobuyError) as refused:
                await client.image_search(IMAGE, platform="taobao")
            async with client.search_stream([IMAGE], platform="taobao") as stream:
                outcomes = [outcome async for outcome in stream]
    assert requests  # the proxy was asked, with the credentials
    assert "407" in str(refused.value)
    assert [type(outcome) for outcome in outcomes] == [Failed]
    for error in (refused.value, outcomes[0].error):  # type: ignore[union-attr]
        assert proxy_secrets_in(texts_of(error)) == []
    assert proxy_secrets_in(caplog.text) == []


@pytest.mark.parametrize("transport", ENGINES)
async def test_unreachable_proxy_error_hides_its_credentials(
    transport: str, monkeypatch: pytest.MonkeyPatch, anyio_backend: str
) -> None:
    port = unused_port()
    monkeypatch.setenv("HTTPS_PROXY", f"http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{port}")
    async with AsyncHiobuy(
        FakeHiobuy.DEFAULT_UUID,
        base_url="https://api.hiobuy.test",
        transport=transport,  # type: ignore[arg-type]
        max_retries=0,
    ) as client:
        with pytest.raises(APIConnectionError) as failed:
            await client.image_search(IMAGE, platform="taobao")
    assert proxy_secrets_in(texts_of(failed.value)) == []


async def test_cli_never_prints_or_writes_proxy_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, anyio_backend: str
) -> None:
    output = tmp_path / "out.jsonl"
    async with echo_server(echo_407) as (proxy_url, requests):
        port = proxy_url.rpartition(":")[2]
        env = {k: v for k, v in os.environ.items() if not k.startswith("HIOBUY_")}
        env.update(
            PYTHONPATH=str(ROOT),
            HIOBUY_UUID=FakeHiobuy.DEFAULT_UUID,
            HIOBUY_BASE_URL="https://api.hiobuy.test",
            HTTPS_PROXY=f"http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{port}",
        )
        args = ["search-many", "-p", "taobao", "--output", str(output), "--max-retries", "0"]
        done = await anyio.run_process(
            [sys.executable, "-m", "hiobuy_async", *args],
            input=f"{IMAGE}\n".encode(),
            env=env,
            check=False,
        )
    stderr = done.stderr.decode()
    assert requests, stderr
    assert "407" in output.read_text() + stderr
    assert proxy_secrets_in(stderr + done.stdout.decode() + output.read_text()) == []


@pytest.mark.parametrize("transport", ENGINES)
@pytest.mark.parametrize("variable", ["HTTP_PROXY", "ALL_PROXY", "all_proxy"])
async def test_plain_http_loopback_base_url_bypasses_environment_proxies(
    variable: str, transport: str, monkeypatch: pytest.MonkeyPatch, anyio_backend: str
) -> None:
    async with (
        connect_proxy() as (proxy_url, tunnels),
        echo_server(canned_ok) as (base_url, served),
    ):
        monkeypatch.setenv(variable, proxy_url)
        async with AsyncHiobuy(
            FakeHiobuy.DEFAULT_UUID,
            base_url=base_url,  # http://127.0.0.1:port
            transport=transport,  # type: ignore[arg-type]
            max_retries=0,
        ) as client:
            await client.image_search(IMAGE, platform="taobao")
    assert tunnels == []  # the proxy never saw X-Uuid
    assert len(served) == 1


async def canned_ok(_: bytes) -> bytes:
    return http_response(200, ENVELOPE, headers={"Content-Type": "application/json"})


MALFORMED_PROXIES = {
    "bad-port": f"http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:99999",
    "bad-ipv6": f"http://{PROXY_USER}:{PROXY_PASSWORD}@[::1",
    "not-a-proxy-scheme": f"ftp://{PROXY_USER}:{PROXY_PASSWORD}@proxy.example.test",
    "socks-without-socksio": f"socks5://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:1080",
    "line-ending": f"http://{PROXY_USER}:{PROXY_PASSWORD}@proxy.example.test:3128\r",
    "no-host": f"http://{PROXY_USER}:{PROXY_PASSWORD}@:3128",
}


@pytest.mark.parametrize("transport", [*ENGINES, None])
@pytest.mark.parametrize("value", MALFORMED_PROXIES.values(), ids=MALFORMED_PROXIES.keys())
@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy", "ALL_PROXY"])
async def test_malformed_proxy_variable_is_an_input_error_naming_it(
    variable: str,
    value: str,
    transport: str | None,
    monkeypatch: pytest.MonkeyPatch,
    anyio_backend: str,
) -> None:
    monkeypatch.setitem(sys.modules, "socksio", None)  # not installed
    monkeypatch.setenv(variable, value)

    async def open_client() -> None:
        async with AsyncHiobuy(
            FakeHiobuy.DEFAULT_UUID,
            base_url="https://api.hiobuy.test",
            transport=transport,  # type: ignore[arg-type]
        ):
            pass

    with pytest.raises(InputError) as refused:
        await open_client()
    assert variable in str(refused.value)
    assert proxy_secrets_in(texts_of(refused.value)) == []
