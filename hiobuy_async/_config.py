# SPDX-License-Identifier: MIT
"""Checks of `AsyncHiobuy`'s own arguments: uuid, base URL, locale, engine, client.

Pure functions run at construction, before any I/O; each returns the value
to use or raises `InputError`. The uuid is never echoed: it is a credential.
"""

from __future__ import annotations

import inspect
import os
import re
import ssl
from urllib.parse import urlsplit

from ._exceptions import InputError
from ._transport import TRANSPORT_KINDS, TransportKind, aiohttp_transport_available
from .marketplaces import LOCALES, is_loopback_host, resolve_locale

__all__ = [
    "DEFAULT_BASE_URL",
    "check_base_url",
    "check_http_client",
    "check_language",
    "check_ssl_context",
    "check_transport",
    "check_uuid",
]

DEFAULT_BASE_URL = "https://open.hiobuy.com"
"""The API's base URL when neither `base_url` nor `HIOBUY_BASE_URL` is given."""
_ALL_LOCALES = tuple(dict.fromkeys(locale for locales in LOCALES.values() for locale in locales))


def check_uuid(uuid: str | None) -> str:
    if uuid is None:
        uuid = os.environ.get("HIOBUY_UUID")
    if uuid is None or uuid == "":
        raise InputError("no uuid given: pass uuid=... or set the HIOBUY_UUID environment variable")
    if not isinstance(uuid, str):
        raise InputError(f"uuid must be a string, not {type(uuid).__name__}")
    # The value is never echoed: it is a credential.
    if not uuid.isascii() or not uuid.isprintable() or any(ch.isspace() for ch in uuid):
        raise InputError("uuid contains whitespace, control or non-ASCII characters")
    return uuid


_USERINFO = re.compile(r"//[^/?#]*@")


def _shown_url(url: str) -> str:
    # The URL is echoed in errors, but never a password it might hold.
    return repr(_USERINFO.sub("//***@", url, count=1))


def check_base_url(base_url: object, *, allow_insecure_http: object) -> str:
    if base_url is not None and not isinstance(base_url, str):
        raise InputError(f"base_url must be a URL string, not {type(base_url).__name__}")
    if not isinstance(allow_insecure_http, bool):
        raise InputError(
            f"allow_insecure_http must be a bool, not {type(allow_insecure_http).__name__}"
        )
    from_env = os.environ.get("HIOBUY_BASE_URL")
    url = base_url or from_env or DEFAULT_BASE_URL
    name = "base_url" if base_url or not from_env else "HIOBUY_BASE_URL"
    # Each HTTP library treats these differently (strips them, refuses them
    # on every request, or sends them): refused here, for every engine alike.
    if not url.isprintable() or any(ch.isspace() for ch in url):
        raise InputError(
            f"{name} contains whitespace or control characters (a line ending from a .env "
            f"file?): {_shown_url(url)}"
        )
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port
    except ValueError:
        raise InputError(f"{name} is not a valid URL: {_shown_url(url)}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise InputError(f"{name} must be an absolute http(s) URL, got {_shown_url(url)}")
    if "@" in parts.netloc:
        raise InputError(f"{name} must not contain credentials")
    if "?" in url or "#" in url:
        raise InputError(f"{name} must not contain a query or a fragment: {_shown_url(url)}")
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback_host(host):
        raise InputError(
            f"{name} {_shown_url(url)} uses plain http to a non-loopback host, which would send "
            "the uuid in clear; use https, or pass allow_insecure_http=True"
        )
    return url.rstrip("/")


def check_language(language: object) -> str | None:
    # The client's default: the API's spelling of a locale of some marketplace.
    if language is None:
        return None
    return resolve_locale(language, _ALL_LOCALES, where="by any marketplace")


def check_http_client(http_client: object) -> None:
    if http_client is not None and not inspect.iscoroutinefunction(
        getattr(http_client, "send", None)
    ):
        raise InputError(
            "http_client must be an httpx.AsyncClient or an httpx2.AsyncClient, "
            f"not {type(http_client).__name__}"
        )


def check_ssl_context(ssl_context: object) -> ssl.SSLContext | None:
    if ssl_context is not None and not isinstance(ssl_context, ssl.SSLContext):
        raise InputError(f"ssl_context must be an ssl.SSLContext, not {type(ssl_context).__name__}")
    if ssl_context is not None and ssl_context.protocol == ssl.PROTOCOL_TLS_SERVER:
        # Every handshake would fail, each one a retried connection error.
        raise InputError(
            "ssl_context is a server-side context (ssl.Purpose.CLIENT_AUTH, or "
            "PROTOCOL_TLS_SERVER): build it with ssl.create_default_context() (Purpose.SERVER_AUTH)"
        )
    return ssl_context


def check_transport(transport: str | None) -> TransportKind | None:
    """The engine asked for (None: the best one for the loop, chosen when the client opens)."""
    value = transport if transport is not None else os.environ.get("HIOBUY_TRANSPORT") or None
    if value is None:
        return None
    for kind in TRANSPORT_KINDS:
        if value == kind:
            break
    else:
        raise InputError(f"transport must be one of {', '.join(TRANSPORT_KINDS)}, got {value!r}")
    if kind == "aiohttp" and not aiohttp_transport_available():
        raise InputError(
            "transport='aiohttp' needs the aiohttp package: pip install 'hiobuy-async[aiohttp]'"
        )
    return kind
