"""A raw HTTPS/1.1 server on 127.0.0.1 with a trustme certificate, counting TLS handshakes."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.abc
import attrs
import trustme
from anyio.streams.tls import TLSStream
from echo_server import Reply, _read_request
from helpers import serve_tcp


@attrs.define
class TLSServed:
    """What the server saw: accepted connections, completed handshakes, requests."""

    base_url: str
    accepted: int = 0
    handshakes: int = 0
    requests: list[bytes] = attrs.Factory(list)


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    """A client context that trusts `ca` (a private CA, like a corporate proxy's)."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@asynccontextmanager
async def tls_server(
    reply: Reply, ca: trustme.CA, *, host_name: str = "127.0.0.1"
) -> AsyncIterator[TLSServed]:
    """Serve `reply` over TLS on 127.0.0.1 (keep-alive), with a certificate for `host_name`.

    Args:
        reply: Makes the answer to each request (see `echo_server.Reply`).
        ca: The CA that issues the server's certificate.
        host_name: The name (or IP) the certificate is for.

    Yields:
        The base URL and the server's counters.
    """
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(host_name).configure_cert(server_context)

    async def handle(raw: anyio.abc.SocketStream) -> None:
        served.accepted += 1
        async with raw:
            try:
                stream = await TLSStream.wrap(
                    raw, server_side=True, ssl_context=server_context, standard_compatible=False
                )
            except Exception:  # the client refused the certificate
                return
            served.handshakes += 1
            await _serve(stream)

    async def _serve(stream: TLSStream) -> None:
        buffer = bytearray()
        async with stream:
            while True:
                try:
                    request = await _read_request(stream, buffer)
                except Exception:  # ssl errors when the client goes away
                    return
                if request is None:
                    return
                served.requests.append(request)
                answer = await reply(request)
                if answer is None:
                    return
                try:
                    await stream.send(answer)
                except Exception:
                    return

    async with serve_tcp(handle) as port:
        served = TLSServed(f"https://127.0.0.1:{port}")
        yield served
