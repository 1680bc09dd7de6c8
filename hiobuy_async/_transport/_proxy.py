# SPDX-License-Identifier: MIT
"""The proxy the environment asks for: found, checked and kept the same way on every engine.

`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (either letter
case) are read once, when a client is created, and the one proxy for the
base URL is handed to the engine explicitly (httpx's own environment
reading is turned off), so httpx, httpx2 and aiohttp go through the same
proxy, or none.

- A plain-http base URL goes through a proxy only with
  `allow_insecure_http=True`: without it the base URL is a loopback one
  (see `check_base_url`), and the uuid, sent in clear, never leaves the
  machine (nor could a proxy reach this machine's loopback).
- A malformed proxy variable is an `InputError` naming the variable, never
  a library's own error, and never with the credentials it holds.
- The proxy's credentials are secrets like the uuid: `EnvironmentProxy.secrets`
  lists what every error text is redacted of.
"""

from __future__ import annotations

import base64
import importlib.util
import os
import re
import urllib.request
from typing import Literal
from urllib.parse import unquote, urlsplit

import httpx

from .._exceptions import InputError

__all__ = ["EnvironmentProxy", "environment_proxy"]

_SCHEMES = ("http", "https", "socks5", "socks5h")
_USERINFO = re.compile(r"//[^/?#]*@")


def _shown(url: str) -> str:
    # Echoed in errors, never with its user name and password.
    return repr(_USERINFO.sub("//***@", url, count=1))


class EnvironmentProxy:
    """The proxy requests to the base URL go through, and where it came from.

    Args:
        url: The proxy URL, credentials included (given to the engine only).
        variable: The environment variable that set it (`HTTPS_PROXY`...).
    """

    __slots__ = ("_url", "secrets", "variable")

    def __init__(self, url: str, variable: str) -> None:
        self._url = url
        self.variable = variable
        self.secrets = _credentials(url)

    def __repr__(self) -> str:
        return f"<EnvironmentProxy {self.variable}={_shown(self._url)}>"

    @property
    def url(self) -> str:
        """The proxy URL with its credentials, for the engine."""
        return self._url

    @property
    def scheme(self) -> str:
        """`http`, `https`, `socks5` or `socks5h`."""
        return urlsplit(self._url).scheme

    def check_engine(self, kind: Literal["httpx", "httpx2", "aiohttp"]) -> None:
        """Refuse a proxy the engine cannot use, before it is used.

        Args:
            kind: The engine.

        Raises:
            InputError: aiohttp and a SOCKS proxy; httpx(2) and a SOCKS proxy
                without the `socksio` package.
        """
        if not self.scheme.startswith("socks"):
            return
        if kind == "aiohttp":
            raise InputError(
                f"{self.variable} names a SOCKS proxy ({_shown(self._url)}), which "
                "transport='aiohttp' cannot use; use transport='httpx2'"
            )
        if importlib.util.find_spec("socksio") is None:
            raise InputError(
                f"{self.variable} names a SOCKS proxy ({_shown(self._url)}), which needs the "
                "socksio package: pip install socksio"
            )


def _credentials(url: str) -> tuple[str, ...]:
    """The texts of a proxy URL to redact: its user information, password, and their forms."""
    netloc = urlsplit(url).netloc
    userinfo, at, _ = netloc.rpartition("@")
    if not at or not userinfo:
        return ()
    user, _, password = userinfo.partition(":")
    found = [userinfo, unquote(userinfo), password, unquote(password)]
    # What an echoing proxy would send back of the Proxy-Authorization header.
    found.append(base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode())
    return tuple(dict.fromkeys(text for text in found if text))


def _variable(key: str, value: str) -> str:
    """The name of the variable that set the proxy of `key` (lower case wins, as in urllib)."""
    wanted = f"{key}_proxy"
    names = [name for name in os.environ if name.lower() == wanted and os.environ[name] == value]
    if wanted in names:
        return wanted
    return names[0] if names else wanted.upper()


def _checked(proxy: str, variable: str) -> EnvironmentProxy | InputError:
    """The proxy, or the error to raise (returned: raised here, it would keep this frame)."""
    if not proxy.isprintable() or any(ch.isspace() for ch in proxy):
        return InputError(f"{variable} contains whitespace or control characters: {_shown(proxy)}")
    url = proxy if "://" in proxy else "http://" + proxy
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL):
        return InputError(f"{variable} is not a valid proxy URL: {_shown(proxy)}")
    if parts.scheme not in _SCHEMES:
        return InputError(
            f"{variable} must be an http://, https:// or socks5:// proxy URL, got {_shown(proxy)}"
        )
    if not host:
        return InputError(f"{variable} names no proxy host: {_shown(proxy)}")
    return EnvironmentProxy(url, variable)


def _find(base_url: str, allow_insecure_http: bool) -> EnvironmentProxy | InputError | None:
    parts = urlsplit(base_url)
    if parts.scheme == "http" and not allow_insecure_http:
        return None
    proxies = urllib.request.getproxies()
    key = parts.scheme if proxies.get(parts.scheme) else "all"
    proxy = proxies.get(key)
    if not proxy:
        return None
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return _checked(proxy, _variable(key, proxy))


def environment_proxy(base_url: str, *, allow_insecure_http: bool) -> EnvironmentProxy | None:
    """Find and check the proxy the environment asks for, for requests to `base_url`.

    Args:
        base_url: The API's base URL.
        allow_insecure_http: The client's `allow_insecure_http`: without it a
            plain-http (so loopback) base URL goes direct.

    Returns:
        The proxy, or None: no proxy set, `NO_PROXY` exempts the host, or a
        plain-http base URL without `allow_insecure_http`.

    Raises:
        InputError: The variable is not a usable proxy URL (named, its
            credentials not shown).
    """
    found = _find(base_url, allow_insecure_http)
    if isinstance(found, InputError):
        # Raised from this frame, which holds no credentials: the frames that
        # read the variable held its value, and error reporters print locals.
        raise found
    return found
