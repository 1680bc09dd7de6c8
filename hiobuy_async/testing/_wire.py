# SPDX-License-Identifier: MIT
"""What the carriers (in-process transport, socket server) hand the fake and get back."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import attrs

__all__ = ["FakeRequest", "FakeResponse", "Handler"]


@attrs.frozen
class FakeRequest:
    """One request as received, whatever carried it.

    Attributes:
        method: The HTTP method.
        target: The request target (path and query).
        headers: `(name, value)` pairs as received.
        body: The raw body.
    """

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """Return the first value of header `name` (case-insensitive), if any.

        Args:
            name: The header name.

        Returns:
            The value, or `None`.
        """
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    def json(self) -> Any:
        """Decode the body as JSON.

        Returns:
            The document, or `None` when the body is not valid UTF-8 JSON.
        """
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return None


@attrs.frozen
class FakeResponse:
    """What to send back.

    Attributes:
        status: The HTTP status.
        headers: `(name, value)` pairs, `content-length` excluded (the
            carrier sets it from `body`).
        body: The full body.
        cut_at: When set, send only `body[:cut_at]`, then break the connection.
        drop: Close the connection without sending anything (`Fault.refuse()`).
    """

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    cut_at: int | None = None
    drop: bool = False


Handler = Callable[[FakeRequest], Awaitable[FakeResponse]]
"""Answers one request (`FakeHiobuy.handle`)."""
