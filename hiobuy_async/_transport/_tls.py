# SPDX-License-Identifier: MIT
"""TLS settings shared by every engine, and the one SSL context per process.

Loading a trust store is the dearest part of opening a client (tens of
milliseconds), so the SDK builds its default context once per process, when
the first client that needs TLS opens, and every shard of every client uses
it. A client that needs no TLS (a plain-http base URL, no https proxy) gets a
context that loads nothing, also shared. A caller's `ssl_context` is used as is.
"""

from __future__ import annotations

import functools
import ssl
import urllib.request
from urllib.parse import urlsplit

import httpx

__all__ = ["certificate_failure", "needs_tls", "shared_ssl_context"]


@functools.cache
def _default_context() -> ssl.SSLContext:
    # httpx's trust store (certifi, or SSL_CERT_FILE / SSL_CERT_DIR), for
    # every engine alike.
    return httpx.create_ssl_context(verify=True, trust_env=True)


@functools.cache
def _no_trust_context() -> ssl.SSLContext:
    # Verifies like any client context but trusts no CA: cheap to build, and
    # should TLS happen anyway it fails closed.
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def needs_tls(base_url: str) -> bool:
    """Tell whether requests to `base_url` may use TLS: https, or an https proxy.

    Args:
        base_url: The API's base URL.

    Returns:
        True for an https base URL or when the environment names an https proxy.
    """
    if urlsplit(base_url).scheme == "https":
        return True
    return any(proxy.startswith("https:") for proxy in urllib.request.getproxies().values())


def shared_ssl_context(base_url: str, ssl_context: ssl.SSLContext | None) -> ssl.SSLContext:
    """The SSL context the SDK's clients for `base_url` use.

    Args:
        base_url: The API's base URL.
        ssl_context: The caller's context, if any (returned as is).

    Returns:
        The caller's context, else the process's default one (built on first
        use) when TLS may be needed, else a shared context that trusts nothing.
    """
    if ssl_context is not None:
        return ssl_context
    return _default_context() if needs_tls(base_url) else _no_trust_context()


def certificate_failure(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """Find a certificate verification failure behind an engine's connection error.

    Args:
        exc: What the engine raised.

    Returns:
        The `ssl.SSLCertVerificationError` it wraps (its cause, context, or
        aiohttp's `certificate_error`), or None.
    """
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return current
        extra = getattr(current, "certificate_error", None)
        pending += [
            current.__cause__,
            current.__context__,
            extra if isinstance(extra, BaseException) else None,
        ]
    return None
