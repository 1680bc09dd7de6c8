"""What is retried, how long the SDK waits (time controlled), Retry-After, deadlines."""

from __future__ import annotations

import email.utils
import functools
import itertools
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import helpers
import httpx
import pytest

from hiobuy_async import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AsyncHiobuy,
    AuthenticationError,
    HiobuyError,
    InputError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
    _retry,
)
from hiobuy_async._retry import RetryPolicy, is_retryable, parse_retry_after, retry_call

BASE = "https://api.hiobuy.test"
IMG = "https://example.com/a.jpg"
SEED_SAMPLE = (Path(__file__).parent / "fixtures" / "seed_sample_response.json").read_bytes()


class SleepRecorder:
    """Stands in for the `anyio` module inside hiobuy_async._retry: records waits, skips them."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def sleep(self, delay: float) -> None:
        self.delays.append(delay)
        await anyio.lowlevel.checkpoint()

    def __getattr__(self, name: str) -> Any:
        return getattr(anyio, name)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> SleepRecorder:
    recorder = SleepRecorder()
    monkeypatch.setattr(_retry, "anyio", recorder)
    return recorder


class Script:
    """A handler that plays a list of answers (responses or exceptions), then succeeds."""

    def __init__(self, *answers: httpx.Response | Exception | Callable[[], Any]) -> None:
        self.answers = list(answers)
        self.attempts = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        if not self.answers:
            return httpx.Response(200, content=SEED_SAMPLE)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            # Responses are single-use: hand out a fresh copy each time.
            return httpx.Response(
                answer.status_code, headers=answer.headers, content=answer.content
            )
        return answer()  # type: ignore[no-any-return]


def always(answer: httpx.Response | Exception) -> Script:
    return Script(answer)


def then_ok(*answers: httpx.Response | Exception) -> Script:
    return Script(*answers, httpx.Response(200, content=SEED_SAMPLE))


mock_client = functools.partial(helpers.mock_client, uuid="r-uuid", base_url=BASE)


async def search(client: AsyncHiobuy) -> Any:
    return await client.image_search(IMG, platform="taobao")


# --- parse_retry_after ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", 5.0),
        (" 5 ", 5.0),
        ("0", 0.0),
        ("0.25", 0.25),
        ("-3", None),  # a wait in the past: absent
        ("86400", 86400.0),
        ("86401", None),  # more than the 24 h ceiling: absent
        ("1765000000", None),  # a Unix timestamp where seconds were meant
        (None, None),
        ("", None),
        ("   ", None),
        ("soon", None),
        ("5 seconds", None),
        ("inf", None),
        ("nan", None),
        ("1e400", None),
        ("Mon, 99 Foo 2015 07:28:00 GMT", None),
    ],
)
def test_parse_retry_after_values(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date() -> None:
    moment = 1_445_412_480.0  # Wed, 21 Oct 2015 07:28:00 GMT
    header = email.utils.formatdate(moment, usegmt=True)
    assert header == "Wed, 21 Oct 2015 07:28:00 GMT"
    assert parse_retry_after(header, now=moment - 10) == pytest.approx(10.0)
    assert parse_retry_after(header, now=moment + 10) is None  # in the past: absent
    assert parse_retry_after(header, now=moment - 3 * 365 * 86400) is None  # years ahead


def test_parse_retry_after_http_date_uses_the_clock() -> None:
    header = email.utils.formatdate(time.time() + 30, usegmt=True)
    seconds = parse_retry_after(header)
    assert seconds is not None
    assert 28 <= seconds <= 31


# --- what is retryable ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (APIConnectionError("x"), True),
        (APITimeoutError("x"), True),
        (APIStatusError("x", status_code=408), True),
        (RateLimitError("x"), True),
        (ServerError("x", status_code=500), True),
        (ServerError("x", status_code=503), True),
        (APIStatusError("x", status_code=400), False),
        (APIStatusError("x", status_code=404), False),
        (APIStatusError("x", status_code=302), False),
        (AuthenticationError("x", status_code=401), False),
        (APIError("x", ret=0, msg="no"), False),
        (ResponseValidationError("x"), False),
        (InputError("x"), False),
    ],
)
def test_is_retryable(error: HiobuyError, retryable: bool) -> None:
    assert is_retryable(error) is retryable


@pytest.mark.parametrize("bad", [-1, 1.5, "2", True, None])
def test_retry_policy_rejects_bad_max_retries(bad: object) -> None:
    with pytest.raises(InputError, match="max_retries"):
        RetryPolicy(max_retries=bad)  # type: ignore[arg-type]


# --- backoff: exponential, jittered, capped -------------------------------------------


@pytest.mark.parametrize("rand", [0.0, 0.5, 0.999999])
def test_backoff_is_exponential_with_bounded_jitter(
    monkeypatch: pytest.MonkeyPatch, rand: float
) -> None:
    monkeypatch.setattr(_retry, "random", SimpleNamespace(random=lambda: rand))
    policy = RetryPolicy(initial_backoff=0.5, max_backoff=8.0)
    for retry, base in enumerate([0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0], start=1):
        delay = policy.backoff(retry)
        assert delay == pytest.approx(base * (1 - 0.25 * rand))
        assert 0.75 * base <= delay <= base


def test_backoff_jitter_varies() -> None:
    policy = RetryPolicy()
    assert len({policy.backoff(3) for _ in range(20)}) > 1


@pytest.mark.anyio
async def test_client_backoff_schedule_grows_and_is_capped(sleeps: SleepRecorder) -> None:
    script = always(httpx.Response(503))
    async with mock_client(script, max_retries=7) as client:
        with pytest.raises(ServerError):
            await search(client)
    assert script.attempts == 8
    assert len(sleeps.delays) == 7
    for delay, base in zip(sleeps.delays, [0.5, 1, 2, 4, 8, 8, 8], strict=True):
        assert 0.75 * base <= delay <= base
    first_four = sleeps.delays[:4]
    assert first_four == sorted(first_four)
    assert max(sleeps.delays) <= 8.0


# --- what the client retries, counted at the handler ----------------------------------

RETRIED: list[Any] = [
    pytest.param(httpx.ConnectError("refused"), APIConnectionError, id="connect-error"),
    pytest.param(httpx.ReadError("reset"), APIConnectionError, id="read-error"),
    pytest.param(httpx.ReadTimeout("slow"), APITimeoutError, id="read-timeout"),
    pytest.param(httpx.ConnectTimeout("slow"), APITimeoutError, id="connect-timeout"),
    pytest.param(httpx.Response(408), APIStatusError, id="408"),
    pytest.param(httpx.Response(429), RateLimitError, id="429"),
    pytest.param(httpx.Response(500), ServerError, id="500"),
    pytest.param(httpx.Response(502, text="<html>bad gateway</html>"), ServerError, id="502"),
    pytest.param(httpx.Response(503), ServerError, id="503"),
    pytest.param(httpx.Response(504), ServerError, id="504"),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("answer", "error"), RETRIED)
async def test_retryable_failures_are_retried_up_to_max_retries(
    answer: Any, error: type[Exception], sleeps: SleepRecorder
) -> None:
    script = always(answer)
    async with mock_client(script, max_retries=3) as client:
        with pytest.raises(error) as info:
            await search(client)
    assert type(info.value) is error
    assert script.attempts == 4
    assert len(sleeps.delays) == 3


@pytest.mark.anyio
@pytest.mark.parametrize(("answer", "error"), RETRIED)
async def test_retryable_failure_then_success(
    answer: Any, error: type[Exception], sleeps: SleepRecorder
) -> None:
    script = then_ok(answer, answer)
    async with mock_client(script, max_retries=2) as client:
        result = await search(client)
    assert result.items[0].num_iid == 808368541552
    assert script.attempts == 3


@pytest.mark.anyio
async def test_max_retries_zero_means_one_attempt(sleeps: SleepRecorder) -> None:
    script = always(httpx.Response(503))
    async with mock_client(script, max_retries=0) as client:
        with pytest.raises(ServerError):
            await search(client)
    assert script.attempts == 1
    assert sleeps.delays == []


NOT_RETRIED: list[Any] = [
    pytest.param(httpx.Response(400), APIStatusError, id="400"),
    pytest.param(httpx.Response(401), AuthenticationError, id="401"),
    pytest.param(httpx.Response(403), AuthenticationError, id="403"),
    pytest.param(httpx.Response(404), APIStatusError, id="404"),
    pytest.param(httpx.Response(409), APIStatusError, id="409"),
    pytest.param(httpx.Response(422), APIStatusError, id="422"),
    pytest.param(httpx.Response(302, headers={"Location": "/x"}), APIStatusError, id="302"),
    pytest.param(httpx.Response(200, json={"ret": 0, "msg": "no"}), APIError, id="ret-0"),
    pytest.param(httpx.Response(200, text="<html>oops</html>"), ResponseValidationError, id="html"),
    pytest.param(httpx.Response(200, text='{"ret": 1, "da'), ResponseValidationError, id="trunc"),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("answer", "error"), NOT_RETRIED)
async def test_final_failures_are_not_retried(
    answer: httpx.Response, error: type[Exception], sleeps: SleepRecorder
) -> None:
    script = always(answer)
    async with mock_client(script, max_retries=5) as client:
        with pytest.raises(error) as info:
            await search(client)
    assert type(info.value) is error
    assert script.attempts == 1
    assert sleeps.delays == []


# --- Retry-After ----------------------------------------------------------------------


@pytest.mark.anyio
async def test_retry_after_seconds_is_honoured(sleeps: SleepRecorder) -> None:
    script = then_ok(httpx.Response(429, headers={"Retry-After": "3"}))
    async with mock_client(script) as client:
        await search(client)
    assert script.attempts == 2
    (delay,) = sleeps.delays
    assert 3.0 <= delay <= 3.5


@pytest.mark.anyio
async def test_retry_after_on_a_503_is_honoured_too(sleeps: SleepRecorder) -> None:
    script = then_ok(httpx.Response(503, headers={"Retry-After": "4"}))
    async with mock_client(script) as client:
        await search(client)
    assert script.attempts == 2
    (delay,) = sleeps.delays
    assert delay >= 4.0  # the plain backoff would have been at most 0.5 s


@pytest.mark.anyio
async def test_a_503_whose_retry_after_is_above_the_ceiling_fails_at_once(
    sleeps: SleepRecorder,
) -> None:
    script = always(httpx.Response(503, headers={"Retry-After": "600"}))
    async with mock_client(script, max_retry_after=5.0) as client:
        with pytest.raises(ServerError) as info:
            await search(client)
    assert info.value.retry_after == 600
    assert script.attempts == 1
    assert sleeps.delays == []


@pytest.mark.anyio
async def test_retry_after_http_date_is_honoured(sleeps: SleepRecorder) -> None:
    header = email.utils.formatdate(time.time() + 5, usegmt=True)
    script = then_ok(httpx.Response(429, headers={"Retry-After": header}))
    async with mock_client(script) as client:
        await search(client)
    (delay,) = sleeps.delays
    assert 3.0 < delay <= 6.0


@pytest.mark.anyio
async def test_retry_after_up_to_the_ceiling_is_slept(sleeps: SleepRecorder) -> None:
    script = then_ok(httpx.Response(429, headers={"Retry-After": "2"}))
    async with mock_client(script, max_retry_after=2.0) as client:
        await search(client)
    assert sleeps.delays == [2.0]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("header", "ceiling", "expected"), [("120", 60.0, 120.0), ("2.5", 1.0, 2.5)]
)
async def test_retry_after_above_ceiling_raises_at_once(
    header: str, ceiling: float, expected: float, sleeps: SleepRecorder
) -> None:
    script = always(httpx.Response(429, headers={"Retry-After": header, "x-request-id": "rl"}))
    async with mock_client(script, max_retries=5, max_retry_after=ceiling) as client:
        with pytest.raises(RateLimitError) as info:
            await search(client)
    assert script.attempts == 1
    assert sleeps.delays == []
    assert info.value.retry_after == expected
    assert info.value.status_code == 429
    assert info.value.request_id == "rl"


@pytest.mark.anyio
async def test_retry_after_above_ceiling_raises_even_without_backoff(
    sleeps: SleepRecorder,
) -> None:
    _retry.set_no_backoff(True)
    script = always(httpx.Response(429, headers={"Retry-After": "3600"}))
    async with mock_client(script, max_retries=5) as client:
        with pytest.raises(RateLimitError):
            await search(client)
    assert script.attempts == 1


@pytest.mark.anyio
async def test_rate_limit_error_reports_retry_after_when_retries_run_out(
    sleeps: SleepRecorder,
) -> None:
    script = always(httpx.Response(429, headers={"Retry-After": "7"}))
    async with mock_client(script, max_retries=1) as client:
        with pytest.raises(RateLimitError) as info:
            await search(client)
    assert script.attempts == 2
    assert info.value.retry_after == 7.0
    assert sleeps.delays == [7.0]


@pytest.mark.anyio
async def test_rate_limit_error_http_date_retry_after(sleeps: SleepRecorder) -> None:
    header = email.utils.formatdate(time.time() + 20, usegmt=True)
    script = always(httpx.Response(429, headers={"Retry-After": header}))
    async with mock_client(script, max_retries=0) as client:
        with pytest.raises(RateLimitError) as info:
            await search(client)
    assert info.value.retry_after is not None
    assert 18 < info.value.retry_after <= 21


@pytest.mark.anyio
async def test_garbage_retry_after_falls_back_to_backoff(sleeps: SleepRecorder) -> None:
    script = then_ok(httpx.Response(429, headers={"Retry-After": "whenever"}))
    async with mock_client(script) as client:
        await search(client)
    (delay,) = sleeps.delays
    assert 0.375 <= delay <= 0.5


# --- no_backoff switch ----------------------------------------------------------------


@pytest.mark.anyio
async def test_no_backoff_keeps_attempts_but_skips_waits(sleeps: SleepRecorder) -> None:
    _retry.set_no_backoff(True)
    script = always(httpx.Response(503))
    async with mock_client(script, max_retries=3) as client:
        with pytest.raises(ServerError):
            await search(client)
    assert script.attempts == 4
    assert sleeps.delays == []


# --- the total deadline ---------------------------------------------------------------


@pytest.mark.anyio
async def test_deadline_bounds_a_stalled_attempt() -> None:
    attempts = itertools.count(1)

    async def stall(request: httpx.Request) -> httpx.Response:
        next(attempts)
        await anyio.sleep(30)
        return httpx.Response(200, content=SEED_SAMPLE)

    async with mock_client(stall, deadline=0.05, max_retries=3) as client:
        with pytest.raises(APITimeoutError, match="deadline"):
            await search(client)
    assert next(attempts) == 2  # one attempt started, never finished


@pytest.mark.anyio
async def test_deadline_bounds_all_attempts_together() -> None:
    _retry.set_no_backoff(True)
    attempts = itertools.count(1)

    async def slow_failure(request: httpx.Request) -> httpx.Response:
        next(attempts)
        await anyio.sleep(0.02)
        return httpx.Response(503)

    async with mock_client(slow_failure, deadline=0.1, max_retries=1000) as client:
        with pytest.raises(APITimeoutError):
            await search(client)
    made = next(attempts) - 1
    assert 2 <= made < 1000


@pytest.mark.anyio
async def test_no_retry_is_started_when_its_wait_would_pass_the_deadline(
    sleeps: SleepRecorder,
) -> None:
    script = always(httpx.Response(503))
    async with mock_client(script, deadline=0.3, max_retries=5) as client:
        with pytest.raises(ServerError):
            await search(client)
    assert script.attempts == 1
    assert sleeps.delays == []


@pytest.mark.anyio
async def test_no_deadline_allows_none() -> None:
    script = then_ok(httpx.Response(503))
    _retry.set_no_backoff(True)
    async with mock_client(script, deadline=None) as client:
        await search(client)
    assert script.attempts == 2


# --- retry_call directly --------------------------------------------------------------


@pytest.mark.anyio
async def test_retry_call_passes_attempt_numbers_and_calls_on_retry(
    sleeps: SleepRecorder,
) -> None:
    numbers: list[int] = []
    retried: list[HiobuyError] = []

    async def attempt(number: int) -> str:
        numbers.append(number)
        if number < 3:
            raise ServerError("down", status_code=503)
        return "done"

    result = await retry_call(
        attempt, policy=RetryPolicy(max_retries=5, max_backoff=1.0), on_retry=retried.append
    )
    assert result == "done"
    assert numbers == [1, 2, 3]
    assert [type(e) for e in retried] == [ServerError, ServerError]
    assert len(sleeps.delays) == 2
    assert all(d <= 1.0 for d in sleeps.delays)


@pytest.mark.anyio
async def test_retry_call_does_not_catch_non_sdk_errors(sleeps: SleepRecorder) -> None:
    calls = 0

    async def attempt(number: int) -> None:
        nonlocal calls
        calls += 1
        raise KeyError("bug")

    with pytest.raises(KeyError):
        await retry_call(attempt, policy=RetryPolicy(max_retries=3))
    assert calls == 1
