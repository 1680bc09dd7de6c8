# SPDX-License-Identifier: MIT
"""OpenTelemetry spans and metrics for the pipeline, when an app configured them.

Optional (`hiobuy-async[otel]`, `opentelemetry-api` only). Nothing is imported
until the first call, and nothing is recorded unless a tracer (or meter)
provider is set: each call asks the API for the global provider, so an app
that configures OpenTelemetry after importing the SDK is traced. The spans:
one per SDK call (`hiobuy.<operation>`, INTERNAL) and one per HTTP attempt
(CLIENT, stable HTTP conventions) as its child. No attribute holds a header,
the uuid, a query string or a request body.
"""

from __future__ import annotations

import contextlib
import importlib
import time
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["Instruments", "Telemetry", "telemetry"]

_MARKETPLACES = frozenset({"1688", "taobao", "weidian"})


class _Api:
    """The OpenTelemetry API modules, imported once on first use; `None` when absent."""

    loaded = False
    trace: Any = None
    metrics: Any = None
    status: Any = None
    suppress: Any = None

    @classmethod
    def load(cls) -> bool:
        if not cls.loaded:
            cls.loaded = True
            try:
                from opentelemetry import metrics, trace  # noqa: PLC0415 - optional, lazily
                from opentelemetry.trace import Status, StatusCode  # noqa: PLC0415
            except ImportError:
                return False
            cls.trace, cls.metrics = trace, metrics
            cls.status = (Status, StatusCode)
            try:  # what the HTTP instrumentors check (opentelemetry-instrumentation)
                utils = importlib.import_module("opentelemetry.instrumentation.utils")
            except ImportError:
                utils = None
            suppress_http_instrumentation = getattr(utils, "suppress_http_instrumentation", None)
            cls.suppress = suppress_http_instrumentation
        return cls.trace is not None


class Instruments:
    """The SDK's metric instruments on one meter provider."""

    def __init__(self, meter: Any) -> None:
        self.duration = meter.create_histogram(
            "http.client.request.duration",
            unit="s",
            description="Duration of HTTP client requests.",
        )
        self.calls = meter.create_counter(
            "hiobuy.client.calls", unit="{call}", description="SDK calls, by operation and outcome."
        )
        self.retries = meter.create_counter(
            "hiobuy.client.retries", unit="{retry}", description="Requests sent again."
        )
        self.quota_wait = meter.create_histogram(
            "hiobuy.client.quota.wait", unit="s", description="Time waiting for the quota."
        )


_instruments: dict[int, tuple[Any, Instruments]] = {}
_tracers: dict[int, tuple[Any, Any]] = {}


_NO_PROVIDER = frozenset(
    {"ProxyTracerProvider", "NoOpTracerProvider", "_ProxyMeterProvider", "NoOpMeterProvider"}
)
"""The API's stand-ins before an app sets a provider: nothing would be recorded."""


def _is_noop(provider: Any) -> bool:
    return type(provider).__name__ in _NO_PROVIDER


class Telemetry:
    """One call's tracer and instruments (either may be `None`)."""

    __slots__ = ("instruments", "tracer")

    def __init__(self, tracer: Any, instruments: Instruments | None) -> None:
        self.tracer = tracer
        self.instruments = instruments

    @contextlib.contextmanager
    def call_span(self, request: Any) -> Iterator[Any]:
        """Open the call's span (`None` when not tracing) as the current span."""
        if self.tracer is None:
            yield None
            return
        attributes: dict[str, Any] = {"hiobuy.operation": request.endpoint}
        body = request.json if isinstance(request.json, Mapping) else request.params
        platform = body.get("platform") if isinstance(body, Mapping) else None
        if isinstance(platform, str) and platform in _MARKETPLACES:
            attributes["hiobuy.marketplace"] = platform
        if request.language:
            attributes["hiobuy.locale"] = request.language
        with self.tracer.start_as_current_span(
            f"hiobuy.{request.endpoint}",
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            yield span

    def end_call(
        self,
        span: Any,
        request: Any,
        result: Any,
        error: BaseException | None,
        *,
        cached: bool = False,
    ) -> None:
        """Record a call's outcome on its span and in `hiobuy.client.calls`.

        `cached`: the call went through the client's cache (`hiobuy.cache.hit` is recorded).
        """
        attempts = 0
        meta = getattr(error if error is not None else result, "meta", None)
        if meta is not None:
            attempts = meta.attempts
        hit = cached and error is None and bool(getattr(meta, "from_cache", False))
        if span is not None:
            if cached:
                span.set_attribute("hiobuy.cache.hit", hit)
            if meta is not None:
                span.set_attribute("http.request.resend_count", max(attempts - 1, 0))
                if meta.request_id:
                    span.set_attribute("hiobuy.request_id", meta.request_id)
            if error is None:
                items = getattr(result, "items", None)
                span.set_attribute("hiobuy.items", len(items) if items is not None else 1)
            else:
                span.set_attribute("error.type", type(error).__name__)
                status, code = _Api.status
                span.set_status(status(code.ERROR, type(error).__name__))
        if self.instruments is not None:
            outcome = "ok" if error is None else type(error).__name__
            attributes = {"hiobuy.operation": request.endpoint, "hiobuy.outcome": outcome}
            if cached:
                attributes["hiobuy.cache.hit"] = hit
            self.instruments.calls.add(1, attributes)

    @contextlib.contextmanager
    def batch_span(self, what: str) -> Iterator[Any]:
        """Open a batch's span as the current one: its items' call spans are its children."""
        if self.tracer is None:
            yield None
            return
        with self.tracer.start_as_current_span(
            "hiobuy.batch",
            attributes={"hiobuy.batch.kind": what},
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            yield span

    def end_batch(
        self,
        span: Any,
        *,
        inputs: int,
        ok: int,
        failed: int,
        retries: int,
        error: str | None,
        cache_hits: int = 0,
    ) -> None:
        """Record a batch's counts on its span."""
        if span is None:
            return
        span.set_attribute("hiobuy.batch.inputs", inputs)
        span.set_attribute("hiobuy.batch.ok", ok)
        span.set_attribute("hiobuy.batch.failed", failed)
        span.set_attribute("hiobuy.batch.retries", retries)
        span.set_attribute("hiobuy.batch.cache_hits", cache_hits)
        if error is not None:
            span.set_attribute("error.type", error)
            status, code = _Api.status
            span.set_status(status(code.ERROR, error))

    @contextlib.contextmanager
    def attempt_span(
        self, request: Any, base_url: tuple[str, str, int], number: int
    ) -> Iterator[_Attempt]:
        """Open one HTTP attempt's CLIENT span, with the HTTP instrumentors suppressed."""
        record = _Attempt(request.method, base_url, number)
        if number > 1 and self.instruments is not None:
            self.instruments.retries.add(1, {"hiobuy.operation": request.endpoint})
        started = time.perf_counter()
        if self.tracer is None:
            try:
                yield record
            finally:
                self._measure(record, started)
            return
        scheme, host, port = base_url
        attributes: dict[str, Any] = {
            "http.request.method": request.method,
            "server.address": host,
            "server.port": port,
            # The route only: no query string (an image URL), no credentials.
            "url.full": f"{scheme}://{host}:{port}{request.path}",
            "url.template": request.path,
        }
        if number > 1:
            attributes["http.request.resend_count"] = number - 1
        kind = _Api.trace.SpanKind.CLIENT
        with (
            self.tracer.start_as_current_span(
                f"{request.method} {request.path}",
                kind=kind,
                attributes=attributes,
                record_exception=False,
                set_status_on_exception=False,
            ) as span,
            _Api.suppress() if _Api.suppress is not None else contextlib.nullcontext(),
        ):
            try:
                yield record
            finally:
                if record.status_code is not None:
                    span.set_attribute("http.response.status_code", record.status_code)
                if record.error_type is not None:
                    span.set_attribute("error.type", record.error_type)
                    status, code = _Api.status
                    span.set_status(status(code.ERROR))
                self._measure(record, started)

    def _measure(self, record: _Attempt, started: float) -> None:
        if self.instruments is None:
            return
        _, host, port = record.base_url
        attributes: dict[str, Any] = {
            "http.request.method": record.method,
            "server.address": host,
            "server.port": port,
        }
        if record.status_code is not None:
            attributes["http.response.status_code"] = record.status_code
        if record.error_type is not None:
            attributes["error.type"] = record.error_type
        self.instruments.duration.record(time.perf_counter() - started, attributes)

    def quota_waited(self, seconds: float) -> None:
        """Record a wait for the quota in `hiobuy.client.quota.wait`."""
        if self.instruments is not None:
            self.instruments.quota_wait.record(seconds)


class _Attempt:
    """What one attempt's span and duration record: filled in by the pipeline."""

    __slots__ = ("base_url", "error_type", "method", "number", "status_code")

    def __init__(self, method: str, base_url: tuple[str, str, int], number: int) -> None:
        self.method = method
        self.base_url = base_url
        self.number = number
        self.status_code: int | None = None
        self.error_type: str | None = None


def telemetry() -> Telemetry | None:
    """Return this call's tracer and instruments, or `None` when nothing would be recorded.

    Asked per call: the global providers an app sets after importing the SDK count.
    """
    if not _Api.load():
        return None
    trace, metrics = _Api.trace, _Api.metrics
    provider = trace.get_tracer_provider()
    tracer = None
    if not _is_noop(provider):
        known = _tracers.get(id(provider))
        if known is None or known[0] is not provider:
            known = _tracers[id(provider)] = (provider, provider.get_tracer("hiobuy_async"))
        tracer = known[1]
    meter_provider = metrics.get_meter_provider()
    instruments = None
    if not _is_noop(meter_provider):
        cached = _instruments.get(id(meter_provider))
        if cached is None or cached[0] is not meter_provider:
            cached = (meter_provider, Instruments(meter_provider.get_meter("hiobuy_async")))
            _instruments[id(meter_provider)] = cached
        instruments = cached[1]
    if tracer is None and instruments is None:
        return None
    return Telemetry(tracer, instruments)
