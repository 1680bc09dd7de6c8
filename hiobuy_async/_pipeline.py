# SPDX-License-Identifier: MIT
"""The one request pipeline every endpoint goes through.

build (the endpoint's `ApiRequest`) → gate → send (the transport) → status
→ envelope → parse (the endpoint's parser), with retries, the per-call
deadline, redaction, error enrichment and logging written here once.

Every request the SDK puts on the wire (first attempt, retry, page, batch
item) passes one gate, `Pipeline._gate`, at the moment it is sent: the
batch's pause and cap around the client's quota. The transports never resend
on their own; each attempt counts against `max_retries` (and a batch's
budget), and a failed one says whether it was sent (`delivery`). An
operation that must not run twice (`ApiRequest.safe_to_repeat=False`) is sent
again only when it provably was not sent or was refused unprocessed (`429`,
`408`); any other failure after it may have left is an
`OrderOutcomeUnknownError`. The
transport below refuses redirects, caps bodies and maps wire failures to SDK
errors; the endpoint modules above only describe requests and parse answers.

No local variable of a frame an SDK error's traceback keeps holds the uuid
(error reporters print locals): it lives in a `Secret`, headers holding it
are built as temporaries, and errors are re-raised from `attempt` without the
frames below it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from ._cached import CachedCalls
from ._convert import parse_envelope
from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    HiobuyError,
    OrderOutcomeUnknownError,
    QuotaExhaustedError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
    error_for_status,
    redact_error,
    redact_text,
    redacting,
    sanitise_excerpt,
)
from ._lifecycle import Lifecycle, closed_error
from ._meta import from_response, with_meta
from ._ratelimit import CALL_DEADLINE
from ._request import ApiRequest
from ._retry import (
    RetryHooks,
    RetryPolicy,
    is_resendable_once_sent,
    is_retryable,
    parse_retry_after,
    retry_call,
)
from ._tracing import Telemetry, telemetry
from ._transport import HttpTransport, RawResponse
from .quota import Quota

if TYPE_CHECKING:
    import httpx

__all__ = ["Pipeline", "Secret"]

logger = logging.getLogger("hiobuy_async")

T = TypeVar("T")

_TELEMETRY: ContextVar[Telemetry | None] = ContextVar("hiobuy_telemetry", default=None)
"""The running call's spans and metrics, for its attempts and quota waits."""


class Secret:
    """Holds the uuid; its repr (in tracebacks' locals, `vars(client)`) hides it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def __repr__(self) -> str:
        return "<secret>"

    def reveal(self) -> str:
        """Return the secret itself.

        Returns:
            The uuid.
        """
        return self._value


class Pipeline:
    """Runs `ApiRequest`s: one attempt after another until success or a final error.

    Args:
        transport: Sends requests and reads responses.
        uuid: The credential sent as `X-Uuid` and redacted from every error.
        retry_policy: What is retried, and the waits.
        deadline: Seconds one call may take across all its attempts, or `None`.
        quota: Consulted before every attempt (pacing, the client-wide
            `429` pause, exhaustion), and told of every `Retry-After`.
        lifecycle: The client's event loop and open/closed state, checked
            before each call touches the transport.
        cached: The client's response cache, if it has one.
    """

    def __init__(
        self,
        transport: HttpTransport,
        *,
        uuid: Secret,
        retry_policy: RetryPolicy,
        deadline: float | None,
        quota: Quota,
        lifecycle: Lifecycle,
        cached: CachedCalls | None = None,
    ) -> None:
        self.cached = cached
        self._transport = transport
        self._lifecycle = lifecycle
        self._uuid = uuid
        self.retry_policy = retry_policy
        self.deadline = deadline
        self.quota = quota
        self.timeout: httpx.Timeout | None = None
        """Each attempt's timeout, when a client view overrides the transport's."""
        self.cache_ttl: float | None = None
        """The cached reads' TTL, when a client view overrides the cache's."""

    def view(
        self,
        *,
        retry_policy: RetryPolicy,
        deadline: float | None,
        timeout: httpx.Timeout | None,
    ) -> Pipeline:
        """Return a pipeline sharing this one's transport, quota and lifecycle, with other options.

        Args:
            retry_policy: The view's retries.
            deadline: The view's deadline.
            timeout: The view's per-attempt timeout, or `None` for the transport's.

        Returns:
            The new pipeline (cheap: a few attribute copies).
        """
        view = object.__new__(Pipeline)
        view.__dict__.update(self.__dict__)
        view.retry_policy = retry_policy
        view.deadline = deadline
        view.timeout = timeout
        return view

    async def call(
        self,
        request: ApiRequest[T],
        *,
        hooks: RetryHooks | None = None,
        on_retry: Callable[[HiobuyError], None] | None = None,
        on_body: Callable[[bytes], None] | None = None,
        cache_ttl: float | None = None,
    ) -> T:
        """Serve `request` from the client's cache, or send it (`send`).

        The cache is looked up before the send gate: a hit sends nothing and
        takes no quota slot. Concurrent identical cacheable calls share one
        request. Without a cache, or for a call that is not cached, this is
        `send`.

        Args:
            request: The call, as its endpoint module described it.
            hooks: A batch's coordination (pacing, shared pause, budget).
            on_retry: Called with the error before each retry.
            on_body: Called with each 2xx response's (decoded) body.
            cache_ttl: The call's `cache_ttl` (checked): `None` for the
                view's (`self.cache_ttl`) or the cache's TTL, `0` to bypass
                the cache.

        Returns:
            The endpoint parser's result.

        Raises:
            HiobuyError: As `send`.
        """
        cached = self.cached
        if cached is not None:
            ttl = cached.ttl_for(request, cache_ttl, self.cache_ttl)
            if ttl is not None:
                self._lifecycle.check()
                return await self._cached_call(
                    cached, request, ttl, hooks=hooks, on_retry=on_retry, on_body=on_body
                )
        return await self.send(request, hooks=hooks, on_retry=on_retry, on_body=on_body)

    async def _cached_call(
        self,
        cached: CachedCalls,
        request: ApiRequest[T],
        ttl: float,
        *,
        hooks: RetryHooks | None,
        on_retry: Callable[[HiobuyError], None] | None,
        on_body: Callable[[bytes], None] | None,
    ) -> T:
        # The call span covers the lookup: a hit is a call span without attempts.
        engine = self._transport.kind_in_use

        async def untraced(request: ApiRequest[T]) -> T:
            return await self._call(request, hooks=hooks, on_retry=on_retry, on_body=on_body)

        tel = telemetry()
        if tel is None:
            return await cached.call(request, ttl, untraced, engine)
        token = _TELEMETRY.set(tel)
        try:
            with tel.call_span(request) as span:
                try:
                    result = await cached.call(request, ttl, untraced, engine)
                except Exception as error:
                    tel.end_call(span, request, None, error, cached=True)
                    raise
                tel.end_call(span, request, result, None, cached=True)
                return result
        finally:
            _TELEMETRY.reset(token)

    async def send(
        self,
        request: ApiRequest[T],
        *,
        hooks: RetryHooks | None = None,
        on_retry: Callable[[HiobuyError], None] | None = None,
        on_body: Callable[[bytes], None] | None = None,
    ) -> T:
        """Send `request`, retrying as the policy allows, and parse the answer.

        Args:
            request: The call, as its endpoint module described it.
            hooks: A batch's coordination (pacing, shared pause, budget).
            on_retry: Called with the error before each retry.
            on_body: Called with each 2xx response's (decoded) body, before
                it is parsed: a batch sizes what it keeps from it.

        Returns:
            The endpoint parser's result.

        Raises:
            WrongEventLoopError: The client belongs to another event loop
                (raised before the transport is touched).
            ClientClosedError: The client is closed, or was closed during the call.
            HiobuyError: The call failed for good; `error.endpoint` names the
                endpoint.
        """
        tel = telemetry()
        if tel is None:
            return await self._call(request, hooks=hooks, on_retry=on_retry, on_body=on_body)
        token = _TELEMETRY.set(tel)
        try:
            with tel.call_span(request) as span:
                try:
                    result = await self._call(
                        request, hooks=hooks, on_retry=on_retry, on_body=on_body
                    )
                except Exception as error:
                    tel.end_call(span, request, None, error)
                    raise
                tel.end_call(span, request, result, None)
                return result
        finally:
            _TELEMETRY.reset(token)

    async def _call(
        self,
        request: ApiRequest[T],
        *,
        hooks: RetryHooks | None,
        on_retry: Callable[[HiobuyError], None] | None,
        on_body: Callable[[bytes], None] | None,
    ) -> T:
        # One cancel scope per call: aclose() cancels it, and the deadline ends it.
        scope = self._lifecycle.start_call(self.deadline)
        sends = _Sends()
        deadline_token = CALL_DEADLINE.set(scope.deadline)
        try:
            with scope, redacting(self._uuid.reveal(), *self._transport.proxy_secrets):
                try:
                    return await self._retried(
                        request,
                        sends,
                        deadline=scope.deadline,
                        hooks=hooks,
                        on_retry=on_retry,
                        on_body=on_body,
                    )
                except HiobuyError as error:
                    error.endpoint = request.endpoint
                    raise
        except Exception:
            # Whatever the closed pool made of the call, it ends as closed.
            if not self._lifecycle.closed:
                raise
        finally:
            CALL_DEADLINE.reset(deadline_token)
            self._lifecycle.end_call(scope)
        if self._lifecycle.closed:
            # aclose() cancelled the call, or the pool failed under it.
            failure: HiobuyError = closed_error(during_call=True)
        else:
            what = request.endpoint.replace("_", " ")
            failure = APITimeoutError(
                f"{what} did not finish within the {self.deadline:g}s deadline"
            )
        if sends.in_flight and not request.safe_to_repeat:
            failure = _outcome_unknown(request, failure, sends.count)
        failure.endpoint = request.endpoint
        raise failure

    async def _gate(self, hooks: RetryHooks | None) -> None:
        """Wait until one request may leave: the batch's pause and cap around the client's quota.

        Every request on the wire passes here, at the moment it is sent.
        """
        tel = _TELEMETRY.get()
        started = time.perf_counter() if tel is not None else 0.0
        if hooks is None:
            await self.quota.acquire()
        else:
            await hooks.before_attempt(self.quota.acquire)
        if tel is not None:
            tel.quota_waited(time.perf_counter() - started)

    async def _retried(
        self,
        request: ApiRequest[T],
        sends: _Sends,
        *,
        deadline: float,
        hooks: RetryHooks | None,
        on_retry: Callable[[HiobuyError], None] | None,
        on_body: Callable[[bytes], None] | None,
    ) -> T:
        async def attempt(number: int) -> T:
            try:
                await self._gate(hooks)
                sends.count += 1
                sends.in_flight = True
                result = await self._attempt(request, number, on_body, sends)
                sends.in_flight = False
                return result
            except HiobuyError as error:
                sends.in_flight = False
                # Raised from here without the frames below (they hold the
                # request headers and the body) and without its chain.
                failure = redact_error(error, self._uuid.reveal())
            shared = await self._shared_wait(failure)
            shared.meta = failure.meta
            raise shared

        try:
            return await retry_call(
                attempt,
                policy=self.retry_policy,
                deadline=None if deadline == math.inf else deadline,
                hooks=hooks,
                on_retry=on_retry,
                label=request.endpoint,
                retryable=is_retryable if request.safe_to_repeat else is_resendable_once_sent,
            )
        except HiobuyError as error:
            if request.safe_to_repeat or not _may_have_acted(error):
                raise
            unknown = _outcome_unknown(request, error, sends.count)
        raise unknown

    async def _shared_wait(self, error: HiobuyError) -> HiobuyError:
        """Tell the quota of a server's `Retry-After`; return the error to raise.

        A wait the retry policy accepts pauses every request of the client
        (and of every process sharing its quota); a longer one on a `429`
        marks the quota exhausted, so later calls fail without a request.
        """
        if not isinstance(error, APIStatusError) or error.retry_after is None:
            return error
        if not is_retryable(error) or isinstance(error, QuotaExhaustedError):
            return error
        if error.retry_after <= self.retry_policy.max_retry_after:
            await self.quota.pause_for(error.retry_after)
            return error
        if not isinstance(error, RateLimitError):
            return error
        await self.quota.exhaust_for(error.retry_after)
        return QuotaExhaustedError(
            f"{error.message}: more than max_retry_after "
            f"({self.retry_policy.max_retry_after:g}s); every call fails at once until then",
            retry_after=error.retry_after,
            request_id=error.request_id,
            body_excerpt=error.body_excerpt,
        )

    async def _attempt(
        self,
        request: ApiRequest[T],
        number: int,
        on_body: Callable[[bytes], None] | None,
        sends: _Sends | None = None,
    ) -> T:
        tel = _TELEMETRY.get()
        if tel is None:
            raw = await self._send(request)
        else:
            with tel.attempt_span(request, self._transport.base_url, number) as record:
                try:
                    raw = await self._send(request)
                except HiobuyError as error:
                    record.error_type = type(error).__name__
                    raise
                record.status_code = raw.status_code
                if raw.status_code >= 400:
                    record.error_type = str(raw.status_code)
        if raw.request_id:
            # A server may echo the uuid in its request id: it reaches results and logs.
            request_id = redact_text(raw.request_id, (self._uuid.reveal(),))
            if request_id != raw.request_id:
                raw = attrs.evolve(raw, request_id=request_id)
        _log_response(request, raw, number)
        if on_body is not None and 200 <= raw.status_code < 300:
            on_body(raw.body)
        meta = from_response(
            status_code=raw.status_code,
            headers=raw.headers,
            request_id=raw.request_id,
            attempts=number if sends is None else sends.count,
            elapsed=raw.elapsed if sends is None else time.perf_counter() - sends.started,
            engine=self._transport.kind_in_use,
            redact=redact_text,
        )
        try:
            result = await _result(request, raw)
        except HiobuyError as error:
            error.meta = meta  # an answer came: what it said
            raise
        return with_meta(result, meta)

    async def _send(self, request: ApiRequest[Any]) -> RawResponse:
        return await self._transport.request(
            request.method,
            request.path,
            json=request.json,
            params=request.params,
            headers=_headers(self._uuid, request.language, request.currency),
            attempt_timeout=self.timeout,
        )


class _Sends:
    """What one call put on the wire: how many requests, whether one is in flight, since when."""

    __slots__ = ("count", "in_flight", "started")

    def __init__(self) -> None:
        self.count = 0
        self.in_flight = False
        self.started = time.perf_counter()


def _may_have_acted(error: HiobuyError) -> bool:
    """Whether the server may have acted on the request that failed with `error`.

    Definite: an answer refusing it (`ret != 1`, a 4xx), or a request that
    was never sent. Maybe: a connection failure after it may have left, a
    5xx, a 2xx whose body could not be read.
    """
    if isinstance(error, APIConnectionError):
        return error.delivery != "not_sent"
    return isinstance(error, ServerError | ResponseValidationError)


def _outcome_unknown(
    request: ApiRequest[Any], cause: HiobuyError, attempts: int
) -> OrderOutcomeUnknownError:
    what = request.endpoint.replace("_", " ")
    unknown = OrderOutcomeUnknownError(
        f"{what}: the outcome is unknown, the order may or may not have been placed "
        f"({type(cause).__name__}: {cause.message}); it is not sent again",
        idempotency_key=request.idempotency_key,
        client_reference=request.client_reference,
        attempts=attempts,
        request_id=cause.request_id,
    )
    unknown.__cause__ = cause
    unknown.meta = cause.meta
    return unknown


def _headers(uuid: Secret, language: str | None, currency: str | None = None) -> dict[str, str]:
    if currency is not None:
        headers = {"X-Uuid": uuid.reveal(), "Currency": currency}
        if language is not None:
            headers["Language"] = language
        return headers
    if language is None:
        return {"X-Uuid": uuid.reveal()}
    return {"X-Uuid": uuid.reveal(), "Language": language}


def _log_response(request: ApiRequest[Any], raw: RawResponse, attempt: int) -> None:
    if not logger.isEnabledFor(logging.DEBUG):
        return  # the common case: skip building the record's arguments
    logger.debug(
        "%s: %s %s -> %d attempt=%d elapsed=%.3fs request_id=%s",
        request.endpoint,
        request.method,
        request.path,
        raw.status_code,
        attempt,
        raw.elapsed,
        raw.request_id,
        extra={"hiobuy_endpoint": request.endpoint},
    )


async def _result(request: ApiRequest[T], raw: RawResponse) -> T:
    if not 200 <= raw.status_code < 300:
        raise error_for_status(
            raw.status_code,
            body=raw.body,
            request_id=raw.request_id,
            retry_after=parse_retry_after(raw.retry_after),
        )
    data = parse_envelope(raw.body, request_id=raw.request_id, exact_numbers=request.exact_numbers)
    try:
        return await request.parse(data, raw.request_id)
    except ResponseValidationError as error:
        error.request_id = raw.request_id
        error.body_excerpt = error.body_excerpt or sanitise_excerpt(raw.body)
        raise
