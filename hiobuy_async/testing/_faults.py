# SPDX-License-Identifier: MIT
"""Scripted failures: what the fake does instead of (or before) answering normally."""

from __future__ import annotations

import http
from typing import Literal

import attrs

__all__ = ["Fault", "FaultKind", "FaultQueue"]

FaultKind = Literal["status", "rate_limit", "stall", "reset", "malformed", "api_error", "refuse"]

_ERROR_PAGE = (
    "<html>\r\n<head><title>{status}</title></head>\r\n<body>\r\n"
    "<center><h1>{status}</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


def _phrase(code: int) -> str:
    try:
        return http.HTTPStatus(code).phrase
    except ValueError:
        return ""


@attrs.frozen
class Fault:
    """One scripted failure; build it with a constructor such as `Fault.status(503)`.

    On create-order, whether the fake records the order depends on the
    fault: `refuse`, `rate_limit`, `api_error` and a status below 500
    record nothing (the request was refused unprocessed); `reset`, `stall`,
    `malformed` and a 5xx `status` hit after the order was recorded (its
    answer is lost, the order exists).

    Attributes:
        kind: What happens: `"status"`, `"rate_limit"`, `"stall"`, `"reset"`,
            `"malformed"`, `"api_error"` or `"refuse"`.
        status_code: The HTTP status, for `status` and `rate_limit`.
        body: The response body, for `status`.
        retry_after: The `Retry-After` seconds, for `rate_limit` (`None`: no header).
        seconds: How long a `stall` waits before the normal answer.
        ret: The envelope's `ret`, for `api_error`.
        msg: The envelope's `msg`, for `api_error`.
    """

    kind: FaultKind
    status_code: int = 200
    body: bytes = b""
    retry_after: float | None = None
    seconds: float = 0.0
    ret: object = 0
    msg: str = ""

    @classmethod
    def status(cls, code: int, body: bytes | str | None = None) -> Fault:
        """Answer with HTTP status `code` instead of the normal answer.

        Args:
            code: The status, e.g. 500, 502, 503, 403.
            body: The body; by default an nginx-style HTML page for 5xx (as a
                proxy sends) and a JSON envelope otherwise.

        Returns:
            The fault.

        Raises:
            ValueError: `code` is not an HTTP status (100-599).
        """
        if not 100 <= code <= 599:
            raise ValueError(f"not an HTTP status code: {code!r}")
        if body is None:
            if code >= 500:
                body = _ERROR_PAGE.format(status=f"{code} {_phrase(code)}".strip())
            else:
                body = f'{{"ret":0,"msg":"HTTP {code}"}}'
        raw = body.encode() if isinstance(body, str) else bytes(body)
        return cls(kind="status", status_code=code, body=raw)

    @classmethod
    def rate_limit(cls, retry_after: float | None = 0.05) -> Fault:
        """Answer HTTP 429 with a `Retry-After` header.

        Args:
            retry_after: Seconds sent in `Retry-After` (fractions allowed, to
                keep tests fast), or `None` to send no header.

        Returns:
            The fault.
        """
        return cls(kind="rate_limit", status_code=429, retry_after=retry_after)

    @classmethod
    def stall(cls, seconds: float) -> Fault:
        """Wait `seconds` before answering normally (exceed the client's timeout to time out).

        Args:
            seconds: The wait.

        Returns:
            The fault.
        """
        return cls(kind="stall", seconds=float(seconds))

    @classmethod
    def reset(cls) -> Fault:
        """Cut the connection in the middle of the response body.

        Over sockets the server sends the headers and half the body, then
        closes the connection; in process the transport raises
        `httpx.ReadError` after half the body.

        Returns:
            The fault.
        """
        return cls(kind="reset")

    @classmethod
    def refuse(cls) -> Fault:
        """Close the connection without answering and without processing the request.

        Like a server that refused the request before reading it: no order
        is recorded. Over sockets the connection closes without a byte of
        answer; in process the transport raises `RemoteProtocolError`. The
        client cannot tell whether the request was processed.

        Returns:
            The fault.
        """
        return cls(kind="refuse")

    @property
    def records_order(self) -> bool:
        """Whether a create-order hit by this fault is recorded (processed) first."""
        if self.kind == "status":
            return self.status_code >= 500
        return self.kind in ("reset", "stall", "malformed")

    @classmethod
    def malformed(cls) -> Fault:
        """Answer HTTP 200 with the normal JSON body cut in half (invalid JSON).

        Returns:
            The fault.
        """
        return cls(kind="malformed")

    @classmethod
    def api_error(cls, ret: object = 0, msg: str = "system busy, please retry later") -> Fault:
        """Answer HTTP 200 with an envelope whose `ret` is not 1.

        Args:
            ret: The envelope's `ret`.
            msg: The envelope's `msg`.

        Returns:
            The fault.
        """
        return cls(kind="api_error", ret=ret, msg=msg)


@attrs.define
class _Rule:
    fault: Fault
    remaining: int | None
    substring: str | None
    subject: str | None
    endpoint: str | None

    def matches(self, endpoint: str | None, subject: str | None, text: str) -> bool:
        return (
            self.remaining != 0
            and (self.endpoint is None or self.endpoint == endpoint)
            and (self.subject is None or self.subject == subject)
            and (self.substring is None or self.substring in text)
        )


class FaultQueue:
    """The faults scripted on a fake: matching rules, then a queue of next ones."""

    def __init__(self) -> None:
        self._next: list[Fault] = []
        self._rules: list[_Rule] = []

    def add_next(self, n: int, fault: Fault) -> None:
        """Queue `fault` for the next `n` requests (after those already queued).

        Args:
            n: How many requests.
            fault: The fault.

        Raises:
            ValueError: `n` is negative.
        """
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n!r}")
        self._next.extend([fault] * n)

    def add_rule(
        self,
        fault: Fault,
        times: int | None,
        *,
        substring: str | None = None,
        subject: str | None = None,
        endpoint: str | None = None,
    ) -> None:
        """Apply `fault` to the requests matching every criterion given.

        Args:
            fault: The fault.
            times: How many matching requests, or `None` for all of them.
            substring: Must occur in the request's subject (or, when it has
                none, in its raw body).
            subject: Must equal the request's subject.
            endpoint: Must be the request's endpoint name.

        Raises:
            ValueError: `times` is negative.
        """
        if times is not None and times < 0:
            raise ValueError(f"times must be >= 0 or None, got {times!r}")
        self._rules.append(_Rule(fault, times, substring, subject, endpoint))

    def take(self, endpoint: str | None, subject: str | None, text: str) -> Fault | None:
        """Pick the fault for one request, consuming it.

        Args:
            endpoint: The request's endpoint name (`None`: no route).
            subject: The request's subject (image URL, keyword, product, shop id).
            text: What `substring` rules search: the subject, else the raw body.

        Returns:
            The first matching rule's fault, else the next queued fault, else None.
        """
        for rule in self._rules:
            if rule.matches(endpoint, subject, text):
                if rule.remaining is not None:
                    rule.remaining -= 1
                return rule.fault
        if self._next:
            return self._next.pop(0)
        return None

    def clear(self) -> None:
        """Forget every scripted fault."""
        self._next.clear()
        self._rules.clear()
