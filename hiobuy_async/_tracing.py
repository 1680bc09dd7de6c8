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
from urllib.parse import urlsplit

from ._request import ENDPOINTS

__all__ = ["Instruments", "Telemetry", "telemetry"]

_MARKETPLACES = frozenset({"1688", "taobao", "weidian"})


class _Api:
    """The OpenTelemetry API modules, imported once on first use; `None` when absent."""

    loaded = False
    trace: Any = None
    metrics: Any = None
    status: Any = None
    suppress: Any = None
    suppress_key: Any = None
    """The context key the HTTP instrumentors check, when importable: set with the span."""
    attach: Any = None
    detach: Any = None
    set_value: Any = None
    in_context: Any = None
    client: Any = None

    @classmethod
    def load(cls) -> bool:
        if not cls.loaded:
            cls.loaded = True
            try:
                from opentelemetry import context, metrics, trace  # noqa: PLC0415 - optional, lazily
                from opentelemetry.trace import Status, StatusCode  # noqa: PLC0415
            except ImportError:
                return False
            cls.trace, cls.metrics = trace, metrics
            cls.status = (Status, StatusCode)
            cls.attach, cls.detach, cls.set_value = (
                context.attach,
                context.detach,
                context.set_value,
            )
            cls.in_context, cls.client = trace.set_span_in_context, trace.SpanKind.CLIENT
            try:  # what the HTTP instrumentors check (opentelemetry-instrumentation)
                utils = importlib.import_module("opentelemetry.instrumentation.utils")
            except ImportError:
                utils = None
            suppress_http_instrumentation = getattr(utils, "suppress_http_instrumentation", None)
            cls.suppress = suppress_http_instrumentation
            # The key `suppress_http_instrumentation()` sets: set in the attempt span's own
            # context, it saves a second attach and detach per attempt.
            cls.suppress_key = getattr(utils, "_SUPPRESS_HTTP_INSTRUMENTATION_KEY", None)
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
    """The tracer and instruments of the current providers (either may be `None`).

    Kept while the providers stay the same: it holds nothing of a call.
    """

    __slots__ = ("instruments", "tracer")

    def __init__(self, tracer: Any, instruments: Instruments | None) -> None:
        self.tracer = tracer
        self.instruments = instruments

    def call_span(self, request: Any) -> _Current:
        """Open the call's span (`None` when not tracing) as the current span."""
        if self.tracer is None:
            return _NOT_TRACED
        attributes: dict[str, Any] = {"hiobuy.operation": request.endpoint}
        body = request.json if isinstance(request.json, Mapping) else request.params
        platform = body.get("platform") if isinstance(body, Mapping) else None
        if isinstance(platform, str) and platform in _MARKETPLACES:
            attributes["hiobuy.marketplace"] = platform
        if request.language:
            attributes["hiobuy.locale"] = request.language
        return _Current(
            self.tracer.start_span(
                _CALL_NAMES.get(request.endpoint) or f"hiobuy.{request.endpoint}",
                attributes=attributes,
                record_exception=False,
                set_status_on_exception=False,
            )
        )

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
        meta = getattr(error if error is not None else result, "meta", None)
        hit = cached and error is None and bool(getattr(meta, "from_cache", False))
        if span is not None:
            attributes: dict[str, Any] = {}
            if cached:
                attributes["hiobuy.cache.hit"] = hit
            if meta is not None:
                attributes["http.request.resend_count"] = max(meta.attempts - 1, 0)
                if meta.request_id:
                    attributes["hiobuy.request_id"] = meta.request_id
            if error is None:
                items = getattr(result, "items", None)
                attributes["hiobuy.items"] = len(items) if items is not None else 1
            else:
                attributes["error.type"] = type(error).__name__
            span.set_attributes(attributes)  # one lock and one check, not one per attribute
            if error is not None:
                status, code = _Api.status
                span.set_status(status(code.ERROR, type(error).__name__))
        if self.instruments is not None:
            outcome = "ok" if error is None else type(error).__name__
            labels: Mapping[str, str | bool] = _labels(request.endpoint, outcome)
            if cached:
                labels = {**labels, "hiobuy.cache.hit": hit}
            self.instruments.calls.add(1, labels)

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

    def attempt_span(self, request: Any, base_url: str, number: int) -> _Attempt:
        """Open one HTTP attempt's CLIENT span, with the HTTP instrumentors suppressed.

        Used as a context manager; the pipeline fills in the returned record's
        `status_code` and `error_type` before it exits.
        """
        route = _route(base_url, request.method, request.path)
        if number > 1 and self.instruments is not None:
            self.instruments.retries.add(1, _labels(request.endpoint))
        return _Attempt(self, route, number)

    def quota_waited(self, seconds: float) -> None:
        """Record a wait for the quota in `hiobuy.client.quota.wait`."""
        if self.instruments is not None:
            self.instruments.quota_wait.record(seconds)


class _Current:
    """A started span, current (with `extra` context values) until exit, then ended.

    What `start_as_current_span` does, without its two generator-based context managers
    and with one `attach` for the span and the suppression key together.
    """

    __slots__ = ("_extra", "_token", "span")

    def __init__(self, span: Any, extra: Any = None) -> None:
        self.span = span
        self._extra = extra
        self._token: Any = None

    def __enter__(self) -> Any:
        if self.span is not None:
            context = _Api.in_context(self.span)
            if self._extra is not None:
                context = _Api.set_value(self._extra, True, context)
            self._token = _Api.attach(context)
        return self.span

    def __exit__(self, *exc_info: object) -> None:
        if self.span is not None:
            _Api.detach(self._token)
            self.span.end()


_NOT_TRACED = _Current(None)


class _Route:
    """What every attempt at one route of one server records alike, computed once."""

    __slots__ = ("metric_labels", "name", "server", "span_attributes")

    def __init__(self, base_url: str, method: str, path: str) -> None:
        parts = urlsplit(base_url)
        host = parts.hostname or ""  # never the userinfo
        port = parts.port or (443 if parts.scheme == "https" else 80)
        self.name = f"{method} {path}"
        self.server = {"http.request.method": method, "server.address": host, "server.port": port}
        self.span_attributes: dict[str, Any] = {
            **self.server,
            # The route only: no query string (an image URL), no credentials.
            "url.full": f"{parts.scheme}://{host}:{port}{path}",
            "url.template": path,
        }
        self.metric_labels: dict[tuple[int | None, str | None], dict[str, Any]] = {}

    def labels(self, status_code: int | None, error_type: str | None) -> dict[str, Any]:
        """The duration's attributes for one outcome (shared: nobody mutates them)."""
        found = self.metric_labels.get((status_code, error_type))
        if found is None:
            found = dict(self.server)
            if status_code is not None:
                found["http.response.status_code"] = status_code
            if error_type is not None:
                found["error.type"] = error_type
            if len(self.metric_labels) < 64:
                self.metric_labels[status_code, error_type] = found
        return found


_routes: dict[tuple[str, str, str], _Route] = {}


def _route(base_url: str, method: str, path: str) -> _Route:
    found = _routes.get((base_url, method, path))
    if found is None:
        if len(_routes) >= 256:  # clients of many servers (tests): forget, never grow
            _routes.clear()
        found = _routes[base_url, method, path] = _Route(base_url, method, path)
    return found


_label_sets: dict[tuple[str, ...], dict[str, str]] = {}


def _labels(operation: str, outcome: str | None = None) -> dict[str, str]:
    """`hiobuy.client.calls`'s (or, without an outcome, `.retries`') attributes, made once."""
    key = (operation,) if outcome is None else (operation, outcome)
    found = _label_sets.get(key)
    if found is None:
        found = {"hiobuy.operation": operation}
        if outcome is not None:
            found["hiobuy.outcome"] = outcome
        if len(_label_sets) < 256:
            _label_sets[key] = found
    return found


_CALL_NAMES = {name: f"hiobuy.{name}" for name in ENDPOINTS}


class _Attempt:
    """One attempt's span and duration: the pipeline fills in what the answer said.

    A context manager: on entry the CLIENT span starts, current and with the HTTP
    instrumentors suppressed; on exit it gets the status and ends, and the duration
    is recorded.
    """

    __slots__ = ("_current", "_fallback", "_route", "_started", "_tel", "error_type", "status_code")

    def __init__(self, tel: Telemetry, route: _Route, number: int) -> None:
        self._tel = tel
        self._route = route
        self.status_code: int | None = None
        self.error_type: str | None = None
        self._fallback: Any = None
        self._current = _NOT_TRACED
        if tel.tracer is not None:
            attributes = route.span_attributes
            if number > 1:
                attributes = {**attributes, "http.request.resend_count": number - 1}
            span = tel.tracer.start_span(
                route.name,
                kind=_Api.client,
                attributes=attributes,
                record_exception=False,
                set_status_on_exception=False,
            )
            self._current = _Current(span, _Api.suppress_key)
            if _Api.suppress_key is None and _Api.suppress is not None:
                self._fallback = _Api.suppress()
        self._started = time.perf_counter()

    def __enter__(self) -> _Attempt:
        self._current.__enter__()
        if self._fallback is not None:
            self._fallback.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._fallback is not None:
            self._fallback.__exit__(None, None, None)
        span = self._current.span
        if span is not None:
            if self.status_code is not None:
                span.set_attribute("http.response.status_code", self.status_code)
            if self.error_type is not None:
                span.set_attribute("error.type", self.error_type)
                status, code = _Api.status
                span.set_status(status(code.ERROR))
        instruments = self._tel.instruments
        if instruments is not None:  # while the span is current: its exemplar
            instruments.duration.record(
                time.perf_counter() - self._started,
                self._route.labels(self.status_code, self.error_type),
            )
        self._current.__exit__()


_last: tuple[Any, Any, Telemetry | None] | None = None
"""The providers of the last call and what `telemetry()` made of them."""


def telemetry() -> Telemetry | None:
    """Return the current providers' tracer and instruments; `None` when nothing would be recorded.

    Asked per call: the global providers an app sets after importing the SDK count.
    """
    global _last  # noqa: PLW0603 - a one-entry cache
    if not _Api.load():
        return None
    provider = _Api.trace.get_tracer_provider()
    meter_provider = _Api.metrics.get_meter_provider()
    last = _last
    if last is not None and last[0] is provider and last[1] is meter_provider:
        return last[2]
    tracer = None
    if not _is_noop(provider):
        known = _tracers.get(id(provider))
        if known is None or known[0] is not provider:
            known = _tracers[id(provider)] = (provider, provider.get_tracer("hiobuy_async"))
        tracer = known[1]
    instruments = None
    if not _is_noop(meter_provider):
        cached = _instruments.get(id(meter_provider))
        if cached is None or cached[0] is not meter_provider:
            cached = (meter_provider, Instruments(meter_provider.get_meter("hiobuy_async")))
            _instruments[id(meter_provider)] = cached
        instruments = cached[1]
    found = None if tracer is None and instruments is None else Telemetry(tracer, instruments)
    _last = (provider, meter_provider, found)
    return found
