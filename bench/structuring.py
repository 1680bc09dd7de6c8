# SPDX-License-Identifier: MIT
"""Structuring micro-benchmark: response bytes -> `ImageSearchResult`.

Compares the SDK's `parse_image_search` (JSON decode + envelope + products)
with `json.loads` alone, `orjson.loads` alone, and a hand-built floor
(orjson + direct attrs construction, no validation beyond what the model needs).

    python -m bench.structuring [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.fixtures import RESPONSE_20, RESPONSE_60

try:
    import orjson
except ImportError:  # pragma: no cover
    orjson = None  # type: ignore[assignment]

from hiobuy_async import _convert
from hiobuy_async._endpoints.image_search import parse_image_search
from hiobuy_async._models import ImageSearchResult, Product


def hand_built(body: bytes) -> ImageSearchResult:
    """The floor: decode and build the models directly, trusting the shape.

    Positional arguments in `Product`'s field order, as the SDK's generated
    fast path does; no type checks, no `extra` capture.
    """
    data = (orjson.loads if orjson else json.loads)(body)["data"]
    block = data["items"]
    get = dict.get
    products = tuple(
        Product(
            item["num_iid"],
            get(item, "title"),
            get(item, "title_cn"),
            get(item, "detail_url"),
            get(item, "pic_url"),
            Decimal(item["price"]),
            get(item, "sales"),
            get(item, "seller_nick"),
            tuple(get(item, "tags", ())),
            get(item, "quantity"),
            get(item, "tag_percent"),
            get(item, "trace_info"),
            get(item, "top_category_id"),
            get(item, "category_id"),
            {},
        )
        for item in block["item"]
    )
    return ImageSearchResult(products, block["total_results"], data["api_type"], None, data)


def sdk_with_stdlib_json(body: bytes) -> ImageSearchResult:
    """`parse_image_search` as it runs without the "fast" extra (no orjson)."""
    previous = _convert._loads
    _convert._loads = _convert._stdlib_loads
    try:
        return parse_image_search(body)
    finally:
        _convert._loads = previous


def time_per_call(fn: Callable[[bytes], Any], body: bytes, *, rounds: int, number: int) -> float:
    """Median microseconds per call over `rounds` rounds of `number` calls."""
    fn(body)
    samples = []
    gc.collect()
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(number):
            fn(body)
        samples.append((time.perf_counter() - start) / number * 1e6)
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    rounds, number = (7, 200) if args.quick else (15, 500)

    cases: dict[str, Callable[[bytes], Any]] = {"json.loads": json.loads}
    if orjson is not None:
        cases["orjson.loads"] = orjson.loads
        cases["hand-built floor (orjson + attrs)"] = hand_built
    cases["SDK parse_image_search"] = parse_image_search
    if orjson is not None:
        cases["SDK parse_image_search, stdlib json (no orjson)"] = sdk_with_stdlib_json

    results: dict[str, dict[str, float]] = {}
    for label, fn in cases.items():
        results[label] = {
            f"{n}": time_per_call(fn, body, rounds=rounds, number=number)
            for n, body in ((20, RESPONSE_20), (60, RESPONSE_60))
        }
    decoder = getattr(_convert._loads, "__module__", None) or "json"
    print(f"Python {platform.python_version()}, SDK JSON decoder: {decoder}")
    print(f"Response sizes: 20 items {len(RESPONSE_20)} B, 60 items {len(RESPONSE_60)} B\n")
    print("| µs per response (median) | 20 items | 60 items |")
    print("|---|---:|---:|")
    for label, row in results.items():
        print(f"| {label} | {row['20']:.1f} | {row['60']:.1f} |")
    targets = {"20": 75.0, "60": 220.0}
    sdk = results["SDK parse_image_search"]
    for n, target in targets.items():
        verdict = "met" if sdk[n] <= target else "MISSED"
        print(f"target {n} items <= {target:.0f} µs: {sdk[n]:.1f} µs -> {verdict}")
    out = {"python": platform.python_version(), "decoder": decoder, "us_per_call": results}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
