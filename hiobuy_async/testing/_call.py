# SPDX-License-Identifier: MIT
"""What an endpoint of the fake is given (`Call`, `Settings`) and may answer (`Refusal`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import attrs

from ..marketplaces import DEFAULT_LOCALE
from ._wire import FakeRequest

__all__ = ["Call", "Refusal", "Settings"]


@attrs.frozen
class Call:
    """One request, decoded once for routing, fault matching and the endpoint.

    Attributes:
        path: The path, without the query.
        params: The query parameters (first value of each).
        document: The decoded JSON body, or `None`.
        language: The `Language` header, or the API's default.
    """

    path: str
    params: dict[str, str]
    document: Any
    language: str

    @classmethod
    def of(cls, request: FakeRequest) -> Call:
        """Decode `request`.

        Args:
            request: The request as received.

        Returns:
            The decoded call.
        """
        path, _, query = request.target.partition("?")
        params: dict[str, str] = {}
        if query:  # most routes take none; parse_qsl costs a benchmark's per-request budget
            for name, value in parse_qsl(query, keep_blank_values=True):
                params.setdefault(name, value)
        return cls(
            path=path,
            params=params,
            document=request.json() if request.body else None,
            language=request.header("language") or DEFAULT_LOCALE,
        )

    def field(self, name: str) -> object:
        """Return body field `name`, or `None` (also when the body is not an object).

        Args:
            name: The field.

        Returns:
            Its value.
        """
        return self.document.get(name) if isinstance(self.document, dict) else None


@attrs.frozen
class Settings:
    """The fake's options that change answers (part of the answer caches' keys).

    Attributes:
        results_per_search: Items an image search draws before filters.
        keyword_ignores_page: Keyword search answers page 1 whatever `page` says.
    """

    results_per_search: int
    keyword_ignores_page: bool


@attrs.frozen
class Refusal:
    """An HTTP 200 answer with `ret != 1`.

    Attributes:
        msg: The envelope's `msg`.
        ret: The envelope's `ret`.
    """

    msg: str
    ret: int = 0
