# SPDX-License-Identifier: MIT
"""What the fake remembers of each request, with the credential redacted."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs

from ._faults import Fault

__all__ = ["REDACTED", "SECRET_HEADERS", "HeaderMap", "RecordedOrder", "RecordedRequest"]

REDACTED = "***"
"""What a recorded secret header value is replaced with."""
SECRET_HEADERS = frozenset({"x-uuid", "authorization", "cookie"})


class HeaderMap(Mapping[str, str]):
    """A read-only, case-insensitive header mapping; names iterate lower-cased.

    Args:
        items: `(name, value)` pairs; a repeated name keeps its values joined
            by `", "`.
    """

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        data: dict[str, str] = {}
        for name, value in items:
            key = name.lower()
            data[key] = f"{data[key]}, {value}" if key in data else value
        self._data = data

    @classmethod
    def redacted(cls, items: Iterable[tuple[str, str]]) -> HeaderMap:
        """Build a map whose secret headers (`X-Uuid` and the like) read `"***"`.

        Args:
            items: `(name, value)` pairs as received.

        Returns:
            The map, safe to log or print.
        """
        return cls(
            (name, REDACTED if name.lower() in SECRET_HEADERS else value) for name, value in items
        )

    def __getitem__(self, name: str) -> str:
        return self._data[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self._data == {str(k).lower(): v for k, v in other.items()}
        return NotImplemented

    def __hash__(self) -> int:
        return hash(frozenset(self._data.items()))

    def __repr__(self) -> str:
        return f"HeaderMap({self._data!r})"


@attrs.frozen
class RecordedRequest:
    """One request as the fake received it.

    Attributes:
        method: The HTTP method, e.g. `"POST"`.
        path: The request target (path and query), e.g.
            `"/api/client/third-purchase/image/query"`.
        headers: The request headers, case-insensitive; `X-Uuid` reads `"***"`.
        json: The decoded JSON body, or `None` when the body is not JSON.
        time: `time.monotonic()` when the request arrived.
        body: The raw body.
        request_id: The `x-request-id` the fake answered with.
        fault: The scripted fault applied to this request, if any.
        endpoint: The endpoint its path names (`"image_search"`,
            `"keyword_search"`, `"product_details"`, `"shop_nick"`), even
            when the method was wrong; `None` for an unknown path.
    """

    method: str
    path: str
    headers: HeaderMap
    json: Any
    time: float
    body: bytes = attrs.field(default=b"", repr=False)
    request_id: str = ""
    fault: Fault | None = None
    endpoint: str | None = None


@attrs.frozen
class RecordedOrder:
    """One order the fake accepted (create-order): what a merchant would see twice if sent twice.

    Attributes:
        number: The order's number, from 1 (`data.fake_order_no` is `FAKE` and it).
        body: The decoded JSON body as received.
        currency: The `Currency` header, if any.
        request_id: The `x-request-id` the fake answered with.
        time: `time.monotonic()` when it was recorded.
    """

    number: int
    body: Any = attrs.field(repr=False)
    currency: str | None
    request_id: str
    time: float

    @property
    def remark(self) -> str | None:
        """The order's `remark` (where `client_reference` is written), if any."""
        remark = self.body.get("remark") if isinstance(self.body, dict) else None
        return remark if isinstance(remark, str) else None
