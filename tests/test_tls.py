"""HTTPS over loopback with trustme certificates, on every engine, asyncio and trio.

Certificates are verified by default (an unknown CA or a wrong host name is a
`CertificateError`, never retried); a private CA is trusted through
`ssl_context=`; keep-alive holds (one handshake per connection, counted at
the server); the body cap, the gzip bomb and the redirect refusal behave as
over plain HTTP.
"""

from __future__ import annotations

import functools
import gzip
import ssl
from typing import Any

import helpers
import pytest
import trustme
from echo_server import http_response
from helpers import ENGINES
from tls_server import client_context, tls_server

from hiobuy_async import (
    APIConnectionError,
    APIStatusError,
    CertificateError,
    InputError,
    ResponseValidationError,
)
from hiobuy_async._transport import _tls

pytestmark = pytest.mark.anyio

IMAGE = "https://cbu01.alicdn.com/img/ibank/tls.jpg"
MiB = 1024 * 1024
ENVELOPE = (
    b'{"ret":1,"msg":"success","data":{"api_type":"taobao","items":{"item":[],"total_results":0}}}'
)


async def ok(_: bytes) -> bytes:
    return http_response(200, ENVELOPE, headers={"Content-Type": "application/json"})


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(autouse=True)
def _no_environment_trust(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default trust store is certifi's: no SSL_CERT_* may smuggle the test CA in."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


make_client = functools.partial(helpers.make_client, timeout=5.0, max_connections=4, max_retries=0)


@pytest.mark.parametrize("transport", ENGINES)
async def test_unknown_ca_is_a_certificate_error_and_is_not_retried(
    ca: trustme.CA, transport: str, anyio_backend: str
) -> None:
    async with (
        tls_server(ok, ca) as served,
        make_client(served.base_url, transport, max_retries=3) as client,
    ):
        with pytest.raises(CertificateError) as info:
            await client.image_search(IMAGE, platform="taobao")
    assert isinstance(info.value, APIConnectionError)
    assert "certificate" in str(info.value).lower()
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)
    assert info.value.__context__ is None
    # One connection, refused at the handshake; no second attempt.
    assert served.accepted == 1
    assert served.handshakes == 0
    assert served.requests == []


@pytest.mark.parametrize("transport", ENGINES)
async def test_wrong_host_name_is_a_certificate_error(
    ca: trustme.CA, transport: str, anyio_backend: str
) -> None:
    async with (
        tls_server(ok, ca, host_name="api.other.test") as served,
        make_client(
            served.base_url, transport, max_retries=3, ssl_context=client_context(ca)
        ) as client,
    ):
        with pytest.raises(CertificateError) as info:
            await client.image_search(IMAGE, platform="taobao")
    message = str(info.value).lower()
    assert "certificate" in message
    assert "127.0.0.1" in message or "mismatch" in message
    assert served.accepted == 1
    assert served.requests == []


@pytest.mark.parametrize("transport", ENGINES)
async def test_private_ca_through_ssl_context_and_keep_alive_over_tls(
    ca: trustme.CA, transport: str, anyio_backend: str
) -> None:
    async with (
        tls_server(ok, ca) as served,
        make_client(served.base_url, transport, ssl_context=client_context(ca)) as client,
    ):
        for _ in range(5):
            result = await client.image_search(IMAGE, platform="taobao")
            assert result.items == ()
    assert len(served.requests) == 5
    # One connection, one handshake, for the five requests.
    assert served.accepted == served.handshakes == 1


@pytest.mark.parametrize("transport", ENGINES)
async def test_body_cap_and_gzip_bomb_are_refused_over_tls(
    ca: trustme.CA, transport: str, anyio_backend: str
) -> None:
    bomb = gzip.compress(b"\0" * (16 * MiB), compresslevel=9)
    answers = [
        http_response(200, bomb, headers={"Content-Encoding": "gzip"}),
        http_response(200, b"x" * (2 * MiB)),
    ]

    async def reply(_: bytes) -> bytes:
        return answers.pop(0)

    async with (
        tls_server(reply, ca) as served,
        make_client(
            served.base_url, transport, ssl_context=client_context(ca), max_response_bytes=MiB
        ) as client,
    ):
        for _ in range(2):
            with pytest.raises(ResponseValidationError) as info:
                await client.image_search(IMAGE, platform="taobao")
            assert str(MiB) in str(info.value)
    assert answers == []


@pytest.mark.parametrize("transport", ENGINES)
async def test_redirect_is_refused_over_tls(
    ca: trustme.CA, transport: str, anyio_backend: str
) -> None:
    async def reply(_: bytes) -> bytes:
        return http_response(302, b"moved", headers={"Location": "https://evil.test/"})

    async with (
        tls_server(reply, ca) as served,
        make_client(served.base_url, transport, ssl_context=client_context(ca)) as client,
    ):
        with pytest.raises(APIStatusError) as info:
            await client.image_search(IMAGE, platform="taobao")
    assert info.value.status_code == 302
    assert "redirects are not followed" in str(info.value)
    assert len(served.requests) == 1


# --- one SSL context per process ---------------------------------------------------------


@pytest.mark.parametrize("transport", ENGINES)
async def test_one_ssl_context_per_process_shared_by_every_shard_and_client(
    monkeypatch: pytest.MonkeyPatch, transport: str, anyio_backend: str
) -> None:
    built: list[ssl.SSLContext] = []
    real = ssl.SSLContext.__new__

    def counting_new(cls: type[ssl.SSLContext], *args: Any, **kwargs: Any) -> ssl.SSLContext:
        context = real(cls, *args, **kwargs)
        built.append(context)
        return context

    _tls._default_context.cache_clear()
    _tls._no_trust_context.cache_clear()
    monkeypatch.setattr(ssl.SSLContext, "__new__", counting_new)
    monkeypatch.delenv("HTTPS_PROXY", raising=False)
    monkeypatch.delenv("https_proxy", raising=False)
    # 1000 connections: 63 shards on httpx.
    for base_url in ("http://127.0.0.1:9", "http://127.0.0.1:9", "https://api.test"):
        async with make_client(base_url, transport, max_connections=1000):
            pass
    # The plain-http clients share one context that loads nothing; the https
    # client builds the default one (once per process).
    assert len(built) == 2
    async with make_client("https://other.test", transport, max_connections=1000):
        pass
    assert len(built) == 2


@pytest.mark.parametrize("transport", ENGINES)
async def test_server_side_ssl_context_is_refused_at_construction(
    ca: trustme.CA, transport: str, anyio_backend: str
) -> None:
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.configure_trust(server_side)
    async with tls_server(ok, ca) as served:
        with pytest.raises(InputError, match="server-side"):
            make_client(served.base_url, transport, ssl_context=server_side)
        assert served.requests == []
