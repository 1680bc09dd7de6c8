# SPDX-License-Identifier: MIT
"""Event-loop stalls while a response body is turned into models.

For each body shape, filled to the default `max_response_bytes`, runs the
client's parse step (`aparse_image_search`) beside a ticker task that yields
back to the loop at every chance, and reports the longest gap between two
ticks: the longest time the event loop could not run anything else. Bodies are
parsed with orjson (the "fast" extra) and with the stdlib decoder.

    python -m bench.blocking [--cap BYTES] [--backend asyncio|trio] [--repeats N]

Target: no stall above 50 ms on any body the default cap admits.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import anyio
import anyio.lowlevel

try:
    import orjson
except ImportError:  # pragma: no cover - depends on the environment
    orjson = None  # type: ignore[assignment]

from bench.fixtures import make_item
from hiobuy_async import ResponseValidationError, _convert
from hiobuy_async._client import DEFAULT_MAX_RESPONSE_BYTES
from hiobuy_async._endpoints.image_search import aparse_image_search

TARGET_MS = 50.0


def _envelope(data_json: bytes) -> bytes:
    return b'{"ret":1,"msg":"success","data":' + data_json + b"}"


def _fill(prefix: bytes, unit: bytes, suffix: bytes, cap: int, *, last: bytes = b"") -> bytes:
    """`prefix unit,unit,...,unit[,last] suffix`, as long as fits in `cap` bytes."""
    room = cap - len(prefix) - len(suffix) - len(last) - 1
    count = max(1, room // (len(unit) + 1))
    middle = b",".join([unit] * count)
    if last:
        middle += b"," + last
    return prefix + middle + suffix


def _items_body(unit: bytes, cap: int, *, last: bytes = b"") -> bytes:
    return _fill(
        b'{"ret":1,"msg":"success","data":{"api_type":"taobao","items":{"item":[',
        unit,
        b'],"total_results":1000}}}',
        cap,
        last=last,
    )


def shapes(cap: int) -> dict[str, bytes]:
    """Hostile and ordinary bodies of (almost) `cap` bytes each."""
    real = json.dumps(make_item(random.Random(5)), ensure_ascii=False).encode()
    return {
        "real items (~650 B each), all valid": _items_body(real, cap),
        'minimal items {"num_iid":1}': _items_body(b'{"num_iid":1}', cap),
        'every item bad {"num_iid":"x"}': _items_body(b'{"num_iid":"x"}', cap),
        "valid items, the last one bad": _items_body(real, cap, last=b'{"num_iid":"x"}'),
        "items that are not objects [0,0,...]": _items_body(b"0", cap),
        "one item, a huge tags list": _fill(
            b'{"ret":1,"data":{"items":{"item":[{"num_iid":1,"tags":[', b'"a"', b"]}]}}}", cap
        ),
        "one item, a huge extra object": _fill(
            b'{"ret":1,"data":{"items":{"item":[{"num_iid":1,"x":{', b'"k":0', b"}}]}}}", cap
        ),
        "data: a flat list of small ints": _envelope(_fill(b'{"x":[', b"7", b"]}", cap - 40)),
        "data: a list of empty objects": _envelope(_fill(b'{"x":[', b"{}", b"]}", cap - 40)),
        "data: a list of 20-digit ints": _envelope(
            _fill(b'{"x":[', b"12345678901234567890", b"]}", cap - 40)
        ),
        "data: a list of floats": _envelope(_fill(b'{"x":[', b"1.5e300", b"]}", cap - 40)),
        "data: escaped surrogate pairs": _envelope(
            _fill(b'{"x":"', b"\\ud83d\\ude00", b'"}', cap - 40)
        ),
        "data: nested 1024 deep (the most both decoders take), repeated": _envelope(
            _fill(b'{"x":[', b"[" * 1021 + b"]" * 1021, b"]}", cap - 40)
        ),
    }


async def _longest_stall(parse: Callable[[], Any]) -> tuple[float, float]:
    """(longest gap between ticks, total time) in ms while `parse()` runs."""
    longest = 0.0
    done = False

    async def ticker() -> None:
        nonlocal longest
        last = time.perf_counter()
        while not done:
            await anyio.lowlevel.checkpoint()
            now = time.perf_counter()
            longest = max(longest, now - last)
            last = now

    async def work() -> None:
        nonlocal done
        await anyio.lowlevel.checkpoint()  # let the ticker start first
        try:
            await parse()
        except ResponseValidationError:
            pass
        finally:
            done = True

    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        tg.start_soon(work)
    return longest * 1e3, (time.perf_counter() - start) * 1e3


def _decoders() -> dict[str, Callable[[bytes], Any]]:
    decoders: dict[str, Callable[[bytes], Any]] = {}
    if orjson is not None:
        decoders["orjson"] = orjson.loads
    decoders["stdlib"] = _convert._stdlib_loads
    return decoders


async def _run(cap: int, repeats: int) -> list[tuple[str, str, int, float, float]]:
    rows = []
    previous = _convert._loads
    try:
        for decoder, loads in _decoders().items():
            _convert._loads = loads
            for label, body in shapes(cap).items():
                best = (float("inf"), 0.0)
                for _ in range(repeats):
                    stall = await _longest_stall(partial(aparse_image_search, body))
                    best = min(best, stall)
                rows.append((label, decoder, len(body), *best))
    finally:
        _convert._loads = previous
    return rows


def main(argv: list[str] | None = None) -> int:
    """Print the longest event-loop stall per body shape and the verdict.

    Exits 1 on a missed target only with `--check` (a benchmark reports; the
    bench session runs it without).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cap", type=int, default=DEFAULT_MAX_RESPONSE_BYTES)
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--repeats", type=int, default=3, help="best of N runs per cell")
    parser.add_argument("--check", action="store_true", help="exit 1 if the target is missed")
    args = parser.parse_args(argv)
    rows = anyio.run(_run, args.cap, args.repeats, backend=args.backend)
    print(
        f"Python {platform.python_version()}, {args.backend}, body size {args.cap} B"
        f" (default cap {DEFAULT_MAX_RESPONSE_BYTES} B), best of {args.repeats}\n"
    )
    print("| body shape | decoder | longest stall (ms) | parse time (ms) |")
    print("|---|---|---:|---:|")
    for label, decoder, _size, stall, total in rows:
        print(f"| {label} | {decoder} | {stall:.1f} | {total:.1f} |")
    worst = max(row[3] for row in rows)
    verdict = "met" if worst <= TARGET_MS else "MISSED"
    print(f"\ntarget: longest stall <= {TARGET_MS:.0f} ms: {worst:.1f} ms -> {verdict}")
    return 1 if args.check and worst > TARGET_MS else 0


if __name__ == "__main__":
    raise SystemExit(main())
