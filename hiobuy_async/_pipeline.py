# SPDX-License-Identifier: MIT
"""The one request pipeline every endpoint goes through.

build (the endpoint's `ApiRequest`) → send (the transport) → status →
envelope → parse (the endpoint's parser), with retries, the per-call
deadline, error enrichment and logging written here once. The transport
below refuses redirects, caps bodies and maps wire failures to SDK errors;
the endpoint modules above only describe requests and parse answers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import anyio

from ._convert import parse_envelope
from ._exceptions import APITimeoutError, HiobuyError, error_for_status, redact_error
from ._request import ApiRequest
from ._retry import RetryHooks, RetryPolicy, parse_retry_after, retry_call
from ._transport import HttpTransport, RawResponse

__all__ = ["Pipeline"]

logger = logging.getLogger("hiobuy_async")

T = TypeVar("T")


class Pipeline:
    """Runs `ApiRequest`s: one attempt after another until success or a final error.

    Args:
        transport: Sends requests and reads responses.
        headers: Headers sent with every request (the credentials).
        retry_policy: What is retried, and the waits.
        deadline: Seconds one call may take across all its attempts, or `None`.
        secret: The value redacted from every error (the uuid).
    """

    def __init__(
        self,
        transport: HttpTransport,
        *,
        headers: Mapping[str, str],
        retry_policy: RetryPolicy,
        deadline: float | None,
        secret: str,
    ) -> None:
        self._transport = transport
        self._headers = dict(headers)
        self.retry_policy = retry_policy
        self._deadline = deadline
        self._secret = secret

    async def call(
        self,
        request: ApiRequest[T],
        *,
        hooks: RetryHooks | None = None,
        on_retry: Callable[[HiobuyError], None] | None = None,
    ) -> T:
        """Send `request`, retrying as the policy allows, and parse the answer.

        Args:
            request: The call, as its endpoint module described it.
            hooks: A batch's coordination (pacing, shared pause, budget).
            on_retry: Called with the error before each retry.

        Returns:
            The endpoint parser's result.

        Raises:
            HiobuyError: The call failed for good; `error.endpoint` names the
                endpoint.
        """
        try:
            return await self._call(request, hooks=hooks, on_retry=on_retry)
        except HiobuyError as error:
            error.endpoint = request.endpoint
            raise

    async def _call(
        self,
        request: ApiRequest[T],
        *,
        hooks: RetryHooks | None,
        on_retry: Callable[[HiobuyError], None] | None,
    ) -> T:
        headers = self._headers
        if request.language is not None:
            headers = {**headers, "Language": request.language}

        async def attempt(number: int) -> T:
            raw = await self._transport.request(
                request.method,
                request.path,
                json=request.json,
                params=request.params,
                headers=headers,
            )
            _log_response(request, raw, number)
            try:
                return _result(request, raw)
            except HiobuyError as error:
                failure = redact_error(error, self._secret)
            raise failure

        policy = self.retry_policy
        if self._deadline is None:
            return await retry_call(
                attempt, policy=policy, hooks=hooks, on_retry=on_retry, label=request.endpoint
            )
        deadline_at = anyio.current_time() + self._deadline
        with anyio.move_on_after(self._deadline):
            return await retry_call(
                attempt,
                policy=policy,
                deadline=deadline_at,
                hooks=hooks,
                on_retry=on_retry,
                label=request.endpoint,
            )
        raise APITimeoutError(
            f"{request.endpoint} did not finish within the {self._deadline:g}s deadline"
        )


def _log_response(request: ApiRequest[Any], raw: RawResponse, attempt: int) -> None:
    logger.debug(
        "%s %s %s -> %d attempt=%d elapsed=%.3fs request_id=%s",
        request.endpoint,
        request.method,
        request.path,
        raw.status_code,
        attempt,
        raw.elapsed,
        raw.request_id,
        extra={"hiobuy_endpoint": request.endpoint},
    )


def _result(request: ApiRequest[T], raw: RawResponse) -> T:
    if not 200 <= raw.status_code < 300:
        raise error_for_status(
            raw.status_code,
            body=raw.body,
            request_id=raw.request_id,
            retry_after=parse_retry_after(raw.retry_after),
        )
    data = parse_envelope(raw.body, request_id=raw.request_id)
    try:
        return request.parse(data, raw.request_id)
    except HiobuyError as error:
        error.request_id = error.request_id or raw.request_id
        raise
