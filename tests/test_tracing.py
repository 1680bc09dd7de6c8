"""OpenTelemetry spans and metrics, read back with the SDK's in-memory exporters."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import Any

import attrs
import helpers
import httpx
import pytest
from opentelemetry import metrics, trace
from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
from opentelemetry.instrumentation.httpx import HTTPX2ClientInstrumentor, HTTPXClientInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from test_endpoint_create_order import mapping_order

from hiobuy_async import (
    APIError,
    APITimeoutError,
    OrderOutcomeUnknownError,
    _tracing,
)
from hiobuy_async.cache import MemoryCache
from hiobuy_async.testing import FakeHiobuy, Fault

TRANSPORTS = helpers.ENGINES
IMAGES = FakeHiobuy.sample_images()
CANARY = "c4a7a7c0-0000-4d1e-9b5e-5ec7e75ec7e7"

pytestmark = pytest.mark.anyio


@attrs.define
class Otel:
    spans: InMemorySpanExporter
    reader: InMemoryMetricReader

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def named(self, prefix: str) -> list[ReadableSpan]:
        return [s for s in self.finished() if s.name.startswith(prefix)]

    def metric_points(self) -> dict[str, list[Any]]:
        data = self.reader.get_metrics_data()
        found: dict[str, list[Any]] = {}
        if data is None:
            return found
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    found.setdefault(metric.name, []).extend(metric.data.data_points)
        return found


@pytest.fixture
def otel(monkeypatch: pytest.MonkeyPatch) -> Iterator[Otel]:
    """Providers as an app sets them, seen only by this test (the globals stay unset)."""
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: tracer_provider)
    monkeypatch.setattr(metrics, "get_meter_provider", lambda: meter_provider)
    yield Otel(exporter, reader)
    tracer_provider.shutdown()
    meter_provider.shutdown()


make_client = functools.partial(helpers.make_client, uuid=CANARY, initial_backoff=0.001)


def everything_recorded(otel: Otel) -> str:
    parts = []
    for span in otel.finished():
        parts += [span.name, repr(dict(span.attributes or {})), repr(span.status.description)]
        parts += [repr(event.attributes) for event in span.events]
    for points in otel.metric_points().values():
        parts += [repr(dict(point.attributes)) for point in points]
    return "\n".join(parts)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_call_is_one_span_with_its_attempt_as_a_client_child(
    transport: str, anyio_backend: str, otel: Otel
) -> None:
    fake = FakeHiobuy(uuids=[CANARY])
    async with fake.serve() as base_url, make_client(base_url, transport) as client:
        result = await client.image_search(IMAGES[0], platform="1688", language="en_US")
    (call,) = otel.named("hiobuy.")
    (attempt,) = otel.named("POST ")
    assert call.name == "hiobuy.image_search"
    assert call.kind == SpanKind.INTERNAL
    assert call.status.status_code == StatusCode.UNSET
    attributes = dict(call.attributes or {})
    assert attributes["hiobuy.marketplace"] == "1688"
    assert attributes["hiobuy.locale"] == "en_US"
    assert attributes["hiobuy.items"] == len(result.items)
    assert attributes["hiobuy.request_id"] == result.request_id
    assert attributes["http.request.resend_count"] == 0
    assert attempt.kind == SpanKind.CLIENT
    assert attempt.parent is not None
    assert attempt.parent.span_id == call.context.span_id
    host, port = base_url.removeprefix("http://").split(":")
    attempt_attributes = dict(attempt.attributes or {})
    assert attempt_attributes["http.request.method"] == "POST"
    assert attempt_attributes["server.address"] == host
    assert attempt_attributes["server.port"] == int(port)
    assert attempt_attributes["http.response.status_code"] == 200
    assert attempt_attributes["url.full"] == base_url + attempt.name.removeprefix("POST ")
    assert "error.type" not in attempt_attributes
    assert CANARY not in everything_recorded(otel)
    assert IMAGES[0] not in everything_recorded(otel)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_retry_after_a_503_is_a_second_attempt_span(
    transport: str, anyio_backend: str, otel: Otel
) -> None:
    fake = FakeHiobuy(uuids=[CANARY])
    fake.fail_next(1, Fault.status(503))
    async with fake.serve() as base_url, make_client(base_url, transport) as client:
        await client.image_search(IMAGES[0], platform="1688")
    (call,) = otel.named("hiobuy.")
    first, second = sorted(otel.named("POST "), key=lambda s: s.start_time or 0)
    assert dict(call.attributes or {})["http.request.resend_count"] == 1
    assert {first.parent.span_id, second.parent.span_id} == {call.context.span_id}  # type: ignore[union-attr]
    assert dict(first.attributes or {})["http.response.status_code"] == 503
    assert dict(first.attributes or {})["error.type"] == "503"
    assert first.status.status_code == StatusCode.ERROR
    assert dict(second.attributes or {})["http.request.resend_count"] == 1
    assert second.status.status_code == StatusCode.UNSET
    points = otel.metric_points()
    assert sum(p.value for p in points["hiobuy.client.retries"]) == 1
    durations = points["http.client.request.duration"]
    assert sum(p.count for p in durations) == 2
    calls = points["hiobuy.client.calls"]
    assert [dict(p.attributes) for p in calls] == [
        {"hiobuy.operation": "image_search", "hiobuy.outcome": "ok"}
    ]
    assert "hiobuy.client.quota.wait" in points
    assert CANARY not in everything_recorded(otel)


async def test_a_refusal_marks_the_call_span_an_error_though_http_said_200(otel: Otel) -> None:
    fake = FakeHiobuy()
    fake.fail_next(1, Fault.api_error(ret=0, msg="image cannot be fetched"))
    async with fake.client(max_retries=0) as client:
        with pytest.raises(APIError):
            await client.image_search(IMAGES[0], platform="1688")
    (call,) = otel.named("hiobuy.")
    (attempt,) = otel.named("POST ")
    assert call.status.status_code == StatusCode.ERROR
    assert dict(call.attributes or {})["error.type"] == "APIError"
    assert attempt.status.status_code == StatusCode.UNSET
    assert dict(attempt.attributes or {})["http.response.status_code"] == 200
    outcomes = [dict(p.attributes) for p in otel.metric_points()["hiobuy.client.calls"]]
    assert outcomes == [{"hiobuy.operation": "image_search", "hiobuy.outcome": "APIError"}]


async def test_a_timeout_is_an_error_on_both_spans(otel: Otel) -> None:
    fake = FakeHiobuy()
    fake.fail_next(1, Fault.stall(5))
    async with fake.client(timeout=0.05, max_retries=0) as client:
        with pytest.raises(APITimeoutError):
            await client.image_search(IMAGES[0], platform="1688")
    (call,) = otel.named("hiobuy.")
    (attempt,) = otel.named("POST ")
    assert dict(call.attributes or {})["error.type"] == "APITimeoutError"
    assert dict(attempt.attributes or {})["error.type"] == "APITimeoutError"
    assert "http.response.status_code" not in dict(attempt.attributes or {})


async def test_a_batch_of_20_is_one_span_with_20_call_spans_as_children(otel: Otel) -> None:
    fake = FakeHiobuy()
    images = [f"{IMAGES[0]}?n={n}" for n in range(20)]
    async with fake.client() as client:
        outcomes = await client.search_many(images, platform="1688")
    assert len(outcomes) == 20
    calls = otel.named("hiobuy.image_search")
    assert len(calls) == 20
    assert len(otel.named("POST ")) == 20
    (batch,) = otel.named("hiobuy.batch")
    assert {call.parent.span_id for call in calls} == {batch.context.span_id}  # type: ignore[union-attr]
    attributes = dict(batch.attributes or {})
    assert attributes["hiobuy.batch.inputs"] == 20
    assert attributes["hiobuy.batch.ok"] == 20
    assert attributes["hiobuy.batch.failed"] == 0
    assert attributes["hiobuy.batch.retries"] == 0
    assert attributes["hiobuy.batch.cache_hits"] == 0
    assert "?n=" not in everything_recorded(otel)  # no image URL, no query string


async def test_an_order_whose_outcome_is_unknown_is_an_error_span(otel: Otel) -> None:
    fake = FakeHiobuy()
    fake.fail_next(1, Fault.reset())
    order = mapping_order()
    async with fake.client() as client:
        with pytest.raises(OrderOutcomeUnknownError):
            await client.create_order(order)
    (call,) = otel.named("hiobuy.create_order")
    assert dict(call.attributes or {})["error.type"] == "OrderOutcomeUnknownError"
    recorded = everything_recorded(otel)
    assert json.dumps(order["address"])[:20] not in recorded


async def test_nothing_is_recorded_without_a_provider() -> None:
    assert type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider"
    assert _tracing.telemetry() is None
    async with FakeHiobuy().client() as client:
        assert (await client.image_search(IMAGES[0], platform="1688")).items


async def test_nothing_is_recorded_when_opentelemetry_is_absent(
    monkeypatch: pytest.MonkeyPatch, otel: Otel
) -> None:
    monkeypatch.setattr(_tracing._Api, "loaded", True)
    monkeypatch.setattr(_tracing._Api, "trace", None)
    async with FakeHiobuy().client() as client:
        await client.image_search(IMAGES[0], platform="1688")
    assert otel.finished() == []


async def test_a_provider_set_after_import_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeHiobuy().client() as client:
        await client.image_search(IMAGES[0], platform="1688")  # no provider yet
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
        await client.image_search(IMAGES[0], platform="1688")
    assert [s.name for s in exporter.get_finished_spans() if s.name.startswith("hiobuy.")] == [
        "hiobuy.image_search"
    ]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_http_instrumentors_add_no_duplicate_span_under_the_attempt(
    transport: str, anyio_backend: str, otel: Otel
) -> None:
    provider = trace.get_tracer_provider()  # the fixture's
    instrumentors = [HTTPXClientInstrumentor(), HTTPX2ClientInstrumentor()]
    if anyio_backend == "asyncio":
        instrumentors.append(AioHttpClientInstrumentor())
    for instrumentor in instrumentors:
        instrumentor.instrument(tracer_provider=provider)
    try:
        fake = FakeHiobuy(uuids=[CANARY])
        async with fake.serve() as base_url:
            async with make_client(base_url, transport) as client:
                await client.image_search(IMAGES[0], platform="1688")
            async with httpx.AsyncClient() as plain:  # the app's own client: still traced
                await plain.get(base_url + "/elsewhere")
    finally:
        for instrumentor in instrumentors:
            instrumentor.uninstrument()
    client_spans = [s for s in otel.finished() if s.kind == SpanKind.CLIENT]
    (attempt,) = [s for s in client_spans if s.name.startswith("POST ")]
    (call,) = otel.named("hiobuy.")
    assert attempt.parent is not None
    assert attempt.parent.span_id == call.context.span_id
    assert [s.name for s in client_spans if s is not attempt] == ["GET"]  # the plain request only
    assert CANARY not in everything_recorded(otel)


def calls_counted(otel: Otel) -> dict[tuple[str, bool | None], int]:
    """`hiobuy.client.calls` by outcome and `hiobuy.cache.hit` (None when not recorded)."""
    counted: dict[tuple[str, bool | None], int] = {}
    for point in otel.metric_points()["hiobuy.client.calls"]:
        attributes = dict(point.attributes)
        key = (attributes["hiobuy.outcome"], attributes.get("hiobuy.cache.hit"))
        counted[key] = counted.get(key, 0) + point.value
    return counted


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_cache_hit_is_a_call_span_marked_hit_without_an_attempt_span(
    transport: str, anyio_backend: str, otel: Otel
) -> None:
    fake = FakeHiobuy(uuids=[CANARY])
    cache = MemoryCache()
    async with fake.serve() as base_url, make_client(base_url, transport, cache=cache) as client:
        fresh = await client.image_search(IMAGES[0], platform="1688")
        hit = await client.image_search(IMAGES[0], platform="1688")
    assert hit.from_cache
    assert len(fake.requests) == 1
    miss_span, hit_span = otel.named("hiobuy.image_search")
    (attempt,) = otel.named("POST ")
    assert attempt.parent is not None
    assert attempt.parent.span_id == miss_span.context.span_id
    assert dict(miss_span.attributes or {})["hiobuy.cache.hit"] is False
    attributes = dict(hit_span.attributes or {})
    assert attributes["hiobuy.cache.hit"] is True
    assert attributes["hiobuy.items"] == len(hit.items)
    assert attributes["hiobuy.request_id"] == fresh.request_id
    assert hit_span.status.status_code == StatusCode.UNSET
    assert calls_counted(otel) == {("ok", False): 1, ("ok", True): 1}
    assert CANARY not in everything_recorded(otel)


async def test_a_batch_span_counts_its_cache_hits(otel: Otel) -> None:
    fake = FakeHiobuy()
    images = [f"{IMAGES[0]}?n={n}" for n in range(6)]
    async with fake.client(cache=MemoryCache()) as client:
        await client.search_many(images[:4], platform="1688")
        otel.spans.clear()
        outcomes = await client.search_many(images, platform="1688")
    assert sum(outcome.result.from_cache for outcome in outcomes) == 4  # type: ignore[union-attr]
    assert len(fake.requests) == 6
    (batch,) = otel.named("hiobuy.batch")
    calls = otel.named("hiobuy.image_search")
    assert len(calls) == 6
    assert {call.parent.span_id for call in calls} == {batch.context.span_id}  # type: ignore[union-attr]
    hits = [dict(call.attributes or {})["hiobuy.cache.hit"] for call in calls]
    assert (hits.count(True), hits.count(False)) == (4, 2)
    assert len(otel.named("POST ")) == 2
    attributes = dict(batch.attributes or {})
    assert attributes["hiobuy.batch.inputs"] == 6
    assert attributes["hiobuy.batch.ok"] == 6
    assert attributes["hiobuy.batch.cache_hits"] == 4


class _Collect(SpanProcessor):
    """A span processor that keeps finished spans and touches no context (unlike the SDK's)."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.spans.append(span)


async def test_a_traced_call_attaches_one_context_per_span(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from opentelemetry.context import _RUNTIME_CONTEXT  # noqa: PLC0415 - what attach() goes through

    collected = _Collect()
    provider = TracerProvider()
    provider.add_span_processor(collected)
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    attached: list[object] = []
    attach = _RUNTIME_CONTEXT.attach

    def counting(context: Any) -> object:
        attached.append(context)
        return attach(context)

    monkeypatch.setattr(_RUNTIME_CONTEXT, "attach", counting)
    async with FakeHiobuy().client() as client:
        await client.image_search(IMAGES[0], platform="1688")
        attached.clear()
        await client.image_search(IMAGES[0], platform="1688")
    # The call span, then the attempt span with the HTTP instrumentors' suppression key
    # in the same context (not a second attach for the suppression).
    assert len(attached) == 2
    assert [s.name for s in collected.spans][-2:] == [
        "POST /api/client/third-purchase/image/query",
        "hiobuy.image_search",
    ]


async def test_the_providers_are_resolved_once_while_they_stay_the_same(otel: Otel) -> None:
    first = _tracing.telemetry()
    assert first is not None
    assert _tracing.telemetry() is first
    other = TracerProvider()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(trace, "get_tracer_provider", lambda: other)
        changed = _tracing.telemetry()
        assert changed is not None
        assert changed is not first
        assert changed.tracer is not first.tracer
    back = _tracing.telemetry()  # the fixture's providers again: their tracer and instruments
    assert back is not None
    assert (back.tracer, back.instruments) == (first.tracer, first.instruments)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_http_instrumentors_add_no_duplicate_span_without_the_suppression_key(
    transport: str, anyio_backend: str, otel: Otel, monkeypatch: pytest.MonkeyPatch
) -> None:
    _tracing._Api.load()
    monkeypatch.setattr(_tracing._Api, "suppress_key", None)  # a version without it: the public way
    await test_http_instrumentors_add_no_duplicate_span_under_the_attempt(
        transport, anyio_backend, otel
    )
