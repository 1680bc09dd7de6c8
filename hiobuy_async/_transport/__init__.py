# SPDX-License-Identifier: MIT
"""All HTTP plumbing: building requests, sending them, reading bodies.

This package is the only part of the SDK that talks to httpx, httpx2 or aiohttp (the
testing kit aside), so the transport can change without touching the rest of
the SDK. It turns every transport failure into an SDK error, never follows
redirects, and reads bodies in bounded memory: the size cap applies to the
*decoded* body, and compressed bodies are inflated chunk by chunk with a
bound on the output of each step, so a gzip bomb is refused without being
inflated.

- `_body`: the bounded reader and decoder, and `RawResponse`, shared by every backend;
- `_httpx`: the httpx-family backend (a sharded pool), or a caller-supplied client;
- `_httpx2`: that backend over httpx2;
- `_aiohttp`: one `aiohttp.ClientSession` (optional extra, asyncio only);
- `_tls`: the one SSL context per process, and spotting certificate failures;
- `_http`: `HttpTransport`, which picks an engine and maps failures to SDK errors.
"""

from __future__ import annotations

from ._body import ERROR_BODY_LIMIT, RawResponse
from ._http import (
    TRANSPORT_KINDS,
    HttpTransport,
    TransportKind,
    aiohttp_transport_available,
    choose_engine,
)
from ._httpx import make_timeout

__all__ = [
    "ERROR_BODY_LIMIT",
    "TRANSPORT_KINDS",
    "HttpTransport",
    "RawResponse",
    "TransportKind",
    "aiohttp_transport_available",
    "choose_engine",
    "make_timeout",
]
