# SPDX-License-Identifier: MIT
"""What tracing costs per call: absent, installed without a provider, with a provider.

Runs `--calls` image searches against an in-process `FakeHiobuy` (CPU only, no
sockets) four ways, in rounds so that load drifts evenly: OpenTelemetry
treated as absent, installed with no provider set, with an SDK tracer and
meter provider whose exporter drops everything, and "OpenTelemetry alone":
tracing absent in the SDK, and after each call the OpenTelemetry SDK records
by hand what the SDK records for that call (the two spans with the same
attributes, nested and current, and the same metric records) with no SDK code
in between, the floor any instrumentation of the call pays. Prints the median
CPU microseconds per call and each way's cost against "absent", and the same
for each way's best round (the least disturbed by a loaded machine). Needs
`opentelemetry-sdk`.

    python -m bench.tracing [--calls N] [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import anyio


class _DropSpans:
    """A span exporter that drops everything (the cost of recording, not of exporting)."""

    def __init__(self) -> None:
        from opentelemetry.sdk.trace.export import SpanExportResult  # noqa: PLC0415

        self.success = SpanExportResult.SUCCESS  # imported once, not per span

    def export(self, spans: Sequence[Any]) -> Any:
        return self.success

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


async def _run(calls: int, by_hand: Callable[[], None] | None = None) -> float:
    from hiobuy_async.testing import FakeHiobuy  # noqa: PLC0415

    image = FakeHiobuy.sample_images()[0]
    async with FakeHiobuy().client() as client:
        await client.image_search(image, platform="1688")
        started = time.process_time()
        for _ in range(calls):
            await client.image_search(image, platform="1688")
            if by_hand is not None:
                by_hand()
        return (time.process_time() - started) / calls * 1e6


def _by_hand(tracer_provider: Any, meter_provider: Any) -> Callable[[], None]:
    """What one traced image search records, with the OpenTelemetry SDK alone."""
    from opentelemetry import context, trace  # noqa: PLC0415

    from hiobuy_async.testing import FAKE_BASE_URL  # noqa: PLC0415

    tracer = tracer_provider.get_tracer("bench")
    meter = meter_provider.get_meter("bench")
    duration = meter.create_histogram("http.client.request.duration", unit="s")
    calls = meter.create_counter("hiobuy.client.calls")
    quota_wait = meter.create_histogram("hiobuy.client.quota.wait", unit="s")
    path = "/api/client/third-purchase/image/query"
    base = urlsplit(FAKE_BASE_URL)
    host, port = base.hostname or "", base.port or 443
    server = {"http.request.method": "POST", "server.address": host, "server.port": port}

    def record() -> None:
        call = tracer.start_span(
            "hiobuy.image_search",
            attributes={"hiobuy.operation": "image_search", "hiobuy.marketplace": "1688"},
        )
        outer = context.attach(trace.set_span_in_context(call))
        quota_wait.record(0.0)
        attempt = tracer.start_span(
            f"POST {path}",
            kind=trace.SpanKind.CLIENT,
            attributes={
                **server,
                "url.full": f"{base.scheme}://{host}:{port}{path}",
                "url.template": path,
            },
        )
        inner = context.attach(trace.set_span_in_context(attempt))
        attempt.set_attribute("http.response.status_code", 200)
        duration.record(0.001, {**server, "http.response.status_code": 200})
        context.detach(inner)
        attempt.end()
        call.set_attributes(
            {"http.request.resend_count": 0, "hiobuy.request_id": "r", "hiobuy.items": 20}
        )
        calls.add(1, {"hiobuy.operation": "image_search", "hiobuy.outcome": "ok"})
        context.detach(outer)
        call.end()

    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    from opentelemetry import metrics, trace  # noqa: PLC0415
    from opentelemetry.sdk.metrics import MeterProvider  # noqa: PLC0415
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: PLC0415

    from hiobuy_async import _tracing  # noqa: PLC0415

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(_DropSpans()))  # type: ignore[arg-type]
    meter_provider = MeterProvider()
    unset_tracer, unset_meter = trace.get_tracer_provider, metrics.get_meter_provider
    by_hand = _by_hand(tracer_provider, meter_provider)
    results: dict[str, list[float]] = {
        "absent": [],
        "no provider": [],
        "provider": [],
        "OTel alone": [],
    }
    for _ in range(args.rounds):
        for way, values in results.items():
            _tracing._Api.loaded = way in ("absent", "OTel alone")
            if way in ("absent", "OTel alone"):
                _tracing._Api.trace = None
            if way == "provider":
                trace.get_tracer_provider = lambda: tracer_provider  # type: ignore[assignment]
                metrics.get_meter_provider = lambda: meter_provider  # type: ignore[assignment]
            else:
                trace.get_tracer_provider = unset_tracer
                metrics.get_meter_provider = unset_meter
            values.append(anyio.run(_run, args.calls, by_hand if way == "OTel alone" else None))
    base, floor = statistics.median(results["absent"]), min(results["absent"])
    for way, values in results.items():
        median, least = statistics.median(values), min(values)
        print(
            f"{way:12} {median:8.1f} us CPU per call  ({100 * (median / base - 1):+5.1f}%)"
            f"   best round {least:7.1f} us  ({100 * (least / floor - 1):+5.1f}%)"
        )


if __name__ == "__main__":
    main()
