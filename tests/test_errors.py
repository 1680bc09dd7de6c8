"""The error tree, and every error path of a search through the client."""

from __future__ import annotations

import functools
import json
import pickle
from typing import Any

import cattrs
import helpers
import httpx
import pytest
from helpers import exception_chain

import hiobuy_async
from hiobuy_async import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    HiobuyError,
    InputError,
    OrderOutcomeUnknownError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
)
from hiobuy_async._exceptions import EXCERPT_LIMIT, error_for_status, sanitise_excerpt
from hiobuy_async._retry import set_no_backoff

BASE = "https://api.hiobuy.test"
IMG = "https://example.com/a.jpg"
LEAKY = (json.JSONDecodeError, UnicodeDecodeError, RecursionError, cattrs.BaseValidationError)


def assert_excerpt_is_sanitised(excerpt: str | None) -> None:
    assert excerpt is not None
    assert excerpt.isprintable()
    assert "\n" not in excerpt
    assert "\r" not in excerpt
    assert len(excerpt) <= EXCERPT_LIMIT + 1


mock_client = functools.partial(helpers.mock_client, uuid="e-uuid", base_url=BASE, max_retries=0)


async def fail_with(response: httpx.Response, **kwargs: Any) -> HiobuyError:
    def handler(request: httpx.Request) -> httpx.Response:
        return response

    async with mock_client(handler, **kwargs) as client:
        with pytest.raises(HiobuyError) as info:
            await client.image_search(IMG, platform="taobao")
    return info.value


# --- the tree -------------------------------------------------------------------------


def test_hierarchy() -> None:
    assert issubclass(InputError, HiobuyError)
    assert issubclass(InputError, ValueError)
    for status_cls in (AuthenticationError, RateLimitError, ServerError):
        assert issubclass(status_cls, APIStatusError)
    assert issubclass(APITimeoutError, APIConnectionError)
    for cls in (APIError, APIStatusError, APIConnectionError, ResponseValidationError):
        assert issubclass(cls, HiobuyError)
        assert not issubclass(cls, ValueError)
    assert issubclass(HiobuyError, Exception)


def test_order_outcome_unknown_is_not_a_connection_error() -> None:
    # Generic `except APIConnectionError: retry` code must not swallow it.
    assert issubclass(OrderOutcomeUnknownError, HiobuyError)
    assert not issubclass(OrderOutcomeUnknownError, APIConnectionError)
    assert APIConnectionError("m").delivery == "maybe_delivered"


def test_every_error_is_exported() -> None:
    for name in (
        "HiobuyError",
        "InputError",
        "APIError",
        "APIStatusError",
        "AuthenticationError",
        "RateLimitError",
        "ServerError",
        "APIConnectionError",
        "APITimeoutError",
        "ResponseValidationError",
        "OrderOutcomeUnknownError",
    ):
        assert name in hiobuy_async.__all__
        assert getattr(hiobuy_async, name).__module__.startswith("hiobuy_async")


def test_str_includes_request_id_and_excerpt() -> None:
    error = ServerError(
        "HTTP 503: server error", status_code=503, request_id="r1", body_excerpt="x"
    )
    assert str(error) == "HTTP 503: server error (request_id=r1) body: x"
    assert str(HiobuyError("plain")) == "plain"


@pytest.mark.parametrize(
    "error",
    [
        HiobuyError("m", request_id="r", body_excerpt="b"),
        InputError("bad"),
        APIError("m", ret=0, msg="no", request_id="r"),
        APIStatusError("m", status_code=404, request_id="r"),
        AuthenticationError("m", status_code=401),
        RateLimitError("m", retry_after=2.5, request_id="r"),
        ServerError("m", status_code=502, body_excerpt="<html>"),
        APIConnectionError("m"),
        APITimeoutError("m"),
        ResponseValidationError("m", request_id="r"),
        APIConnectionError("m", delivery="not_sent"),
        OrderOutcomeUnknownError("m", idempotency_key="k", client_reference="c", attempts=2),
    ],
)
def test_errors_pickle_round_trip(error: HiobuyError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.__dict__ == error.__dict__


# --- error_for_status -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (401, AuthenticationError),
        (403, AuthenticationError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (599, ServerError),
        (400, APIStatusError),
        (404, APIStatusError),
        (408, APIStatusError),
        (301, APIStatusError),
        (302, APIStatusError),
        (304, APIStatusError),
    ],
)
def test_error_for_status_classes(status: int, cls: type[APIStatusError]) -> None:
    error = error_for_status(status, body=b"oops", request_id="rq", retry_after=None)
    assert type(error) is cls
    assert error.status_code == status
    assert error.request_id == "rq"
    assert error.body_excerpt == "oops"
    assert str(status) in str(error)


def test_error_for_status_redirect_says_so() -> None:
    error = error_for_status(302, body=b"", request_id=None, retry_after=None)
    assert "redirect" in str(error)
    assert error.body_excerpt is None


# --- sanitise_excerpt -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", None),
        (None, None),
        (b"   \n\t ", None),
        (b"hello", "hello"),
        (b"a\r\nb\tc\x00d\x1b[31me", "a b c d [31me"),
        ("ünïcödé", "ünïcödé"),
        (b"\xff\xfeok", "\ufffd\ufffdok"),
        (b"<html>\n  <h1>502</h1>\n</html>", "<html> <h1>502</h1> </html>"),
    ],
)
def test_sanitise_excerpt(body: bytes | str | None, expected: str | None) -> None:
    assert sanitise_excerpt(body) == expected


def test_sanitise_excerpt_is_bounded() -> None:
    excerpt = sanitise_excerpt(b"x" * 100_000)
    assert excerpt == "x" * EXCERPT_LIMIT + "…"
    assert sanitise_excerpt("y" * 50, limit=10) == "y" * 10 + "…"


# --- status errors through the client -------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (401, AuthenticationError),
        (403, AuthenticationError),
        (429, RateLimitError),
        (500, ServerError),
        (503, ServerError),
        (400, APIStatusError),
        (404, APIStatusError),
        (418, APIStatusError),
        (302, APIStatusError),
    ],
)
async def test_status_errors(status: int, cls: type[APIStatusError]) -> None:
    body = b'{"error": "line one\nline two\x00"}' + b"z" * 5000
    error = await fail_with(httpx.Response(status, content=body, headers={"x-request-id": "q1"}))
    assert type(error) is cls
    assert isinstance(error, APIStatusError)
    assert error.status_code == status
    assert error.request_id == "q1"
    assert_excerpt_is_sanitised(error.body_excerpt)
    assert error.body_excerpt is not None
    assert error.body_excerpt.startswith('{"error": "line one line two')


@pytest.mark.anyio
async def test_status_error_without_request_id_or_body() -> None:
    error = await fail_with(httpx.Response(500))
    assert isinstance(error, ServerError)
    assert error.request_id is None
    assert error.body_excerpt is None


@pytest.mark.anyio
async def test_rate_limit_error_carries_retry_after() -> None:
    error = await fail_with(httpx.Response(429, headers={"Retry-After": "0.5"}))
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 0.5
    error = await fail_with(httpx.Response(429))
    assert isinstance(error, RateLimitError)
    assert error.retry_after is None


@pytest.mark.anyio
async def test_error_never_includes_headers() -> None:
    error = await fail_with(
        httpx.Response(
            500,
            content=b"down",
            headers={"x-request-id": "q2", "Set-Cookie": "session=COOKIEVALUE", "X-Debug": "HDR"},
        )
    )
    text = str(error) + repr(error) + repr(error.__dict__)
    assert "COOKIEVALUE" not in text
    assert "HDR" not in text
    assert "e-uuid" not in text


# --- ret != 1 through the client ------------------------------------------------------


@pytest.mark.anyio
async def test_api_error_through_client() -> None:
    error = await fail_with(
        httpx.Response(
            200,
            json={"ret": 0, "msg": "image cannot be fetched", "data": None},
            headers={"x-request-id": "q3"},
        )
    )
    assert type(error) is APIError
    assert isinstance(error, APIError)
    assert error.ret == 0
    assert error.msg == "image cannot be fetched"
    assert error.request_id == "q3"
    assert_excerpt_is_sanitised(error.body_excerpt)
    assert "image cannot be fetched" in str(error)


# --- malformed 2xx bodies through the client ------------------------------------------

MALFORMED: list[Any] = [
    pytest.param(b"<html><body><h1>502 Bad Gateway</h1>\n</body></html>", id="html-200"),
    pytest.param(b'{"ret": 1, "msg": "success", "data": {"items": {"item": [{"num', id="trunc"),
    pytest.param(b'{"ret": 1, "msg": "\xff\xfe"}', id="invalid-utf8"),
    pytest.param(b"[" * 100_000 + b"]" * 100_000, id="deeply-nested"),
    pytest.param(b'[{"ret": 1}]', id="json-list"),
    pytest.param(b'{"ret": 1, "data": [1, 2]}', id="data-not-object"),
    pytest.param(b'{"ret": 1, "data": {"items": {"item": [{"num_iid": "x"}]}}}', id="bad-id"),
    # An item's unreadable field (a price that is a list) costs only that field
    # (None, the raw value in `extra`): tests/test_convert.py covers it.
    pytest.param(b'{"ret": 1, "data": {"items": {"item": ["a", 1]}}}', id="items-not-objects"),
    pytest.param(b'{"ret": 1, "data": {"items": {"item": 3}}}', id="item-not-list"),
    pytest.param(b"", id="empty"),
]


@pytest.mark.anyio
@pytest.mark.parametrize("body", MALFORMED)
async def test_malformed_bodies_raise_response_validation_error(body: bytes) -> None:
    error = await fail_with(httpx.Response(200, content=body, headers={"x-request-id": "q4"}))
    assert type(error) is ResponseValidationError
    for _, link in exception_chain(error, suppressed=False):
        assert not isinstance(link, LEAKY), f"{type(link).__name__} leaks"
    assert error.request_id == "q4"


@pytest.mark.anyio
@pytest.mark.parametrize("body", [p for p in MALFORMED if p.id != "empty"])
async def test_malformed_bodies_carry_a_sanitised_excerpt(body: bytes) -> None:
    error = await fail_with(httpx.Response(200, content=body, headers={"x-request-id": "q5"}))
    assert_excerpt_is_sanitised(error.body_excerpt)


# --- connection failures through the client -------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("raised", "cls"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), APIConnectionError),
        (httpx.ReadTimeout("timed out"), APITimeoutError),
    ],
)
async def test_connection_errors_after_retries(raised: Exception, cls: type[Exception]) -> None:
    set_no_backoff(True)
    attempts = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal attempts
        attempts += 1
        raise raised

    async with mock_client(handler, max_retries=2) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.image_search(IMG, platform="taobao")
    assert type(info.value) is cls
    assert attempts == 3
    assert info.value.request_id is None
    for _, link in exception_chain(info.value, suppressed=False):
        assert not isinstance(link, httpx.HTTPError)
