# SPDX-License-Identifier: MIT
"""What tracing costs per call: absent, installed without a provider, with a provider.

Runs `--calls` image searches against an in-process `FakeHiobuy` (CPU only, no
sockets) three ways, in rounds so that load drifts evenly: OpenTelemetry
treated as absent, installed with no provider set, and with an SDK tracer and
meter provider whose exporter drops everything. Prints the median CPU
microseconds per call and each way's cost against "absent". Needs
`opentelemetry-sdk`.

    python -m bench.tracing [--calls N] [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from typing import Any

import anyio


class _DropSpans:
    """A span exporter that drops everything (the cost of recording, not of exporting)."""

    def export(self, spans: Sequence[Any]) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult  # noqa: PLC0415

        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


async def _run(calls: int) -> float:
    from hiobuy_async.testing import FakeHiobuy  # noqa: PLC0415

    image = FakeHiobuy.sample_images()[0]
    async with FakeHiobuy().client() as client:
        await client.image_search(image, platform="1688")
        started = time.process_time()
        for _ in range(calls):
            await client.image_search(image, platform="1688")
        return (time.process_time() - started) / calls * 1e6


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
    results: dict[str, list[float]] = {"absent": [], "no provider": [], "provider": []}
    for _ in range(args.rounds):
        for way, values in results.items():
            _tracing._Api.loaded = way == "absent"
            if way == "absent":
                _tracing._Api.trace = None
            if way == "provider":
                trace.get_tracer_provider = lambda: tracer_provider  # type: ignore[assignment]
                metrics.get_meter_provider = lambda: meter_provider  # type: ignore[assignment]
            else:
                trace.get_tracer_provider = unset_tracer
                metrics.get_meter_provider = unset_meter
            values.append(anyio.run(_run, args.calls))
    base = statistics.median(results["absent"])
    for way, values in results.items():
        median = statistics.median(values)
        print(f"{way:12} {median:8.1f} us CPU per call  ({100 * (median / base - 1):+.1f}%)")


if __name__ == "__main__":
    main()
