# SPDX-License-Identifier: MIT
"""The benchmark runner: every client config, in fresh processes, in one run.

Starts `bench.server` on 127.0.0.1 (pinned to one core when the machine has
two or more), then, for each repeat, runs every cell (config x backend x
concurrency x latency x items) as its own `bench.client` process pinned to
another core, so configs alternate and share the same conditions. Reports
medians: requests/s, client CPU-µs per request, new connections the server
accepted; and the ratio of each SDK figure to its raw baseline.

    python -m bench.run --quick          # a few minutes on 2 cores
    python -m bench.run                  # more requests, 5 repeats, all cells
    python -m bench.run --only sdk_search_many,httpx_sharded --repeats 5

Each client process runs in the venv for its engine when `--venv NAME=PYTHON`
is given (`nox -s bench` makes them: `base` holds only the SDK, `aiohttp` the
SDK and its `aiohttp` extra, `trio` the SDK and its `trio` extra — no test
dependencies, so nothing the SDK forgot to declare is there by accident — and
`aiohttp-fast` the `aiohttp` and `fast` extras, the install the docs advise).

Results: bench/results/bench-<UTC time>.{json,md} and bench/results/latest.{json,md}.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.client import CONFIGS

RESULTS = Path(__file__).parent / "results"
ROOT = Path(__file__).parent.parent

# SDK config -> (baseline with the same settings and transport, other references).
BASELINES: dict[str, tuple[str, ...]] = {
    "sdk_search_many": ("httpx_sharded", "httpx_default"),
    "sdk_image_search": ("httpx_sharded", "httpx_default"),
    # The baseline is raw httpx2 in one pool; the SDK shards it (16 per
    # client), and raw httpx2 in shards of 16 is the reference for that.
    "sdk_httpx2_search_many": ("httpx2", "httpx2_sharded"),
    "sdk_httpx2_image_search": ("httpx2", "httpx2_sharded"),
    # transport="aiohttp" drives aiohttp directly: raw aiohttp is its baseline;
    # httpx on the httpx-aiohttp transport (what it used before) stays as a reference.
    "sdk_aiohttp_search_many": ("aiohttp", "httpx_aiohttp"),
    "sdk_aiohttp_image_search": ("aiohttp", "httpx_aiohttp"),
    # What the recommended install (`[aiohttp,fast]`) gets, against raw aiohttp
    # with json.loads: for information, not one of the targets.
    "sdk_aiohttp_fast_search_many": ("aiohttp",),
}
SIXTY_ITEM_CONFIGS = (
    "floor",
    "aiohttp",
    "httpx2",
    "httpx_sharded",
    "sdk_search_many",
    "sdk_aiohttp_search_many",
    "sdk_httpx2_search_many",
)
# Needs httpx-aiohttp, which no minimal venv holds: run only when named in --only.
ON_REQUEST = {"httpx_aiohttp"}

Cell = tuple[str, str, int, int, int]  # config, backend, concurrency, latency ms, items

# --quick runs these configs only in the listed (concurrency, latency ms) cells, to stay
# within a few minutes; the full run measures every cell.
QUICK_ONLY: dict[str, set[tuple[int, int]]] = {
    "httpx": {(64, 0), (256, 20)},
    "httpx_default": {(64, 0), (256, 20)},
    "httpx2_sharded": {(64, 0), (256, 0), (256, 20)},
    "sdk_image_search": {(64, 0), (256, 20)},
    "sdk_aiohttp_image_search": {(64, 0), (256, 20)},
    "sdk_httpx2_image_search": {(64, 0), (256, 20)},
}


def venv_for(config: str, backend: str) -> str:
    """Which minimal venv a client process runs in: `trio`, `aiohttp`, `aiohttp-fast` or `base`."""
    if backend == "trio":
        return "trio"
    if config.startswith("sdk_aiohttp_fast"):
        return "aiohttp-fast"
    if config in ("floor", "aiohttp") or config.startswith("sdk_aiohttp"):
        return "aiohttp"
    return "base"


def make_cells(*, quick: bool, only: set[str] | None) -> list[Cell]:
    """Every measured combination, in the order each repeat runs them."""
    grid: list[tuple[int, int, int]] = [(c, 0, 20) for c in (16, 64, 256)]
    grid += [(c, 20, 20) for c in (16, 64, 256)]
    sixty = [(64, 0, 60)] if quick else [(c, 0, 60) for c in (16, 64, 256)]
    cells: list[Cell] = []
    for concurrency, latency, items in grid + sixty:
        for config, (backends, _) in CONFIGS.items():
            if (only and config not in only) or (config in ON_REQUEST and not only):
                continue
            if items == 60 and config not in SIXTY_ITEM_CONFIGS:
                continue
            if (
                quick
                and items == 20
                and (concurrency, latency) not in QUICK_ONLY.get(config, {(concurrency, latency)})
            ):
                continue
            cells.extend((config, backend, concurrency, latency, items) for backend in backends)
    return cells


def _cpus() -> tuple[set[int] | None, set[int] | None]:
    if not hasattr(os, "sched_getaffinity"):
        return None, None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    return {cpus[0]}, {cpus[1]}


def _pin(cpus: set[int] | None) -> Any:
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


@contextlib.contextmanager
def running_server(cpus: set[int] | None) -> Iterator[int]:
    """Start `bench.server` on 127.0.0.1 and yield its port; stop it afterwards."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.server", "--parent-pid", str(os.getpid())],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=_pin(cpus),  # noqa: PLW1509 - only sets the CPU affinity
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"benchmark server did not start: {line!r}")
        yield int(line.split()[1])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_cell(
    cell: Cell,
    *,
    port: int,
    requests: int,
    budget: float,
    cpus: set[int] | None,
    venvs: dict[str, str],
) -> dict[str, Any]:
    """One client process; returns its JSON result or {"error": ...}."""
    config, backend, concurrency, latency, items = cell
    command = [
        venvs.get(venv_for(config, backend), sys.executable),
        "-m",
        "bench.client",
        f"--config={config}",
        f"--backend={backend}",
        f"--port={port}",
        f"--concurrency={concurrency}",
        f"--latency-ms={latency}",
        f"--items={items}",
        f"--requests={max(requests, 4 * concurrency)}",
        f"--budget-seconds={budget}",
        "--max-seconds=120",
    ]
    try:
        done = subprocess.run(
            command,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=150,
            preexec_fn=_pin(cpus),
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"error": "timed out"}
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1][:300]}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def summarise(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians of the successful repeats of one cell."""
    good = [s for s in samples if "error" not in s]
    if not good:
        return {"error": samples[-1].get("error", "no result"), "repeats": 0}
    return {
        "repeats": len(good),
        "requests": int(statistics.median(s["requests"] for s in good)),
        "rps": statistics.median(s["rps"] for s in good),
        "cpu_us": statistics.median(s["cpu_us"] for s in good),
        "new_connections": int(statistics.median(s["new_connections"] for s in good)),
        "rps_all": [round(s["rps"]) for s in good],
        "cpu_us_all": [round(s["cpu_us"]) for s in good],
    }


def key(cell: Cell) -> str:
    config, backend, concurrency, latency, items = cell
    return f"{config}|{backend}|c{concurrency}|l{latency}|i{items}"


def ratios(medians: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each SDK cell against its baselines (same backend, concurrency, latency, items)."""
    out: dict[str, dict[str, Any]] = {}
    for cell_key, sdk in medians.items():
        config, rest = cell_key.split("|", 1)
        if config not in BASELINES or "error" in sdk:
            continue
        entry: dict[str, Any] = {}
        for baseline in BASELINES[config]:
            base = medians.get(f"{baseline}|{rest}")
            if base is None or "error" in base:
                continue
            entry[baseline] = {
                "rps_ratio": sdk["rps"] / base["rps"],
                "cpu_ratio": sdk["cpu_us"] / base["cpu_us"],
                "cpu_overhead_us": sdk["cpu_us"] - base["cpu_us"],
            }
        out[cell_key] = entry
    return out


TARGET_PAIRS = (
    ("sdk_aiohttp_search_many", "aiohttp", ("asyncio",)),
    ("sdk_httpx2_search_many", "httpx2", ("asyncio", "trio")),
)
SDK_CONFIGS = ("sdk_search_many", "sdk_aiohttp_search_many", "sdk_httpx2_search_many")


def check_targets(medians: dict[str, dict[str, Any]]) -> list[tuple[str, str, bool]]:
    """The targets of issue #11 that this run can judge: (target, evidence, met).

    SDK `search_many` against the raw engine under it, 20 items, c=16/64/256,
    0 and 20 ms: CPU per request <= 1.15x, throughput >= 0.9x; and for every
    SDK engine, new connections <= C + 5% of N.
    """
    checks: list[tuple[str, str, bool]] = []

    def get(config: str, backend: str, c: int, lat: int) -> dict[str, Any]:
        return medians.get(f"{config}|{backend}|c{c}|l{lat}|i20", {"error": "not run"})

    for sdk_cfg, raw_cfg, backends in TARGET_PAIRS:
        for backend in backends:
            for lat in (0, 20):
                for c in (16, 64, 256):
                    sdk, raw = get(sdk_cfg, backend, c, lat), get(raw_cfg, backend, c, lat)
                    if "error" in sdk or "error" in raw:
                        continue
                    where = f"{sdk_cfg} / {raw_cfg}, {backend}, c={c}, {lat} ms"
                    cpu = sdk["cpu_us"] / raw["cpu_us"]
                    checks.append((f"CPU <= 1.15x raw ({where})", f"{cpu:.2f}x", cpu <= 1.15))
                    rps = sdk["rps"] / raw["rps"]
                    checks.append((f"throughput >= 0.9x raw ({where})", f"{rps:.2f}x", rps >= 0.9))
    for sdk_cfg in SDK_CONFIGS:
        for backend in ("asyncio", "trio"):
            for lat in (0, 20):
                for c in (16, 64, 256):
                    sdk = get(sdk_cfg, backend, c, lat)
                    if "error" in sdk:
                        continue
                    allowed = c + 0.05 * sdk["requests"]
                    checks.append(
                        (
                            f"new connections <= C + 5% N ({sdk_cfg}, {backend}, c={c}, {lat} ms)",
                            f"{sdk['new_connections']} for N={sdk['requests']} "
                            f"(limit {allowed:.0f})",
                            sdk["new_connections"] <= allowed,
                        )
                    )
    return checks


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown tables."""
    medians: dict[str, dict[str, Any]] = report["medians"]
    lines = [
        f"Run {report['started']} · {report['mode']} · {report['repeats']} repeats · "
        f"Python {report['python']} · {report['cpus']} · "
        f"{report['elapsed_s']:.0f} s",
        "",
        "Each cell: requests/s · client CPU-µs per request · new connections (medians).",
        "",
    ]
    groups: dict[tuple[int, int], list[int]] = {}
    for cell_key in medians:
        _, _, c, lat, items = cell_key.split("|")
        group = groups.setdefault((int(lat[1:]), int(items[1:])), [])
        if int(c[1:]) not in group:
            group.append(int(c[1:]))
    for (lat, items), concurrencies in sorted(groups.items(), key=lambda g: (g[0][1], g[0][0])):
        concurrencies.sort()
        lines.append(f"### {items} items, server latency {lat} ms")
        lines.append("")
        lines.append("| backend | client | " + " | ".join(f"c={c}" for c in concurrencies) + " |")
        lines.append("|---|---|" + "---:|" * len(concurrencies))
        for backend in ("asyncio", "trio"):
            for config in CONFIGS:
                cells = [
                    medians.get(f"{config}|{backend}|c{c}|l{lat}|i{items}") for c in concurrencies
                ]
                if all(cell is None for cell in cells):
                    continue
                shown = []
                for cell in cells:
                    if cell is None:
                        shown.append("-")
                    elif "error" in cell:
                        shown.append("error")
                    else:
                        rps, cpu, conns = cell["rps"], cell["cpu_us"], cell["new_connections"]
                        shown.append(f"{rps:,.0f} · {cpu:,.0f} · {conns}")
                lines.append(f"| {backend} | {config} | " + " | ".join(shown) + " |")
        lines.append("")
    lines.append("### SDK against its raw baseline (same backend, concurrency, latency, items)")
    lines.append("")
    lines.append("| SDK cell | baseline | throughput ratio | CPU ratio | CPU overhead µs |")
    lines.append("|---|---|---:|---:|---:|")
    for cell_key, entry in report["ratios"].items():
        for baseline, r in entry.items():
            lines.append(
                f"| {cell_key} | {baseline} | {r['rps_ratio']:.2f} | {r['cpu_ratio']:.2f} | "
                f"{r['cpu_overhead_us']:+,.0f} |"
            )
    lines.append("")
    lines.append("### Targets (issue #11) judged by this run")
    lines.append("")
    lines.append("| target | measured | verdict |")
    lines.append("|---|---:|---|")
    for target, evidence, met in report["targets"]:
        lines.append(f"| {target} | {evidence} | {'met' if met else '**missed**'} |")
    lines.append("")
    lines.append("Clients:")
    lines.append("")
    for config, (backends, text) in CONFIGS.items():
        lines.append(f"- `{config}` ({', '.join(backends)}): {text}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests and cells")
    parser.add_argument("--repeats", type=int, help="repeats per cell (quick 3, full 5)")
    parser.add_argument("--only", help="comma-separated configs to run")
    parser.add_argument("--requests", type=int, help="requests per run (at least 4 x C)")
    parser.add_argument(
        "--venv",
        action="append",
        default=[],
        metavar="NAME=PYTHON",
        help="a minimal venv's interpreter (base, aiohttp, aiohttp-fast, trio); default: this one",
    )
    args = parser.parse_args(argv)
    venvs = dict(item.split("=", 1) for item in args.venv)
    repeats = args.repeats or (3 if args.quick else 5)
    requests = args.requests or (400 if args.quick else 2000)
    budget = 2.0 if args.quick else 8.0
    only = set(args.only.split(",")) if args.only else None
    cells = make_cells(quick=args.quick, only=only)
    server_cpus, client_cpus = _cpus()
    started = dt.datetime.now(dt.UTC)
    t0 = time.monotonic()
    samples: dict[str, list[dict[str, Any]]] = {key(cell): [] for cell in cells}
    print(
        f"{len(cells)} cells x {repeats} repeats; server on CPU {server_cpus}, "
        f"clients on CPU {client_cpus}",
        flush=True,
    )
    with running_server(server_cpus) as port:
        for repeat in range(repeats):
            for cell in cells:
                result = run_cell(
                    cell,
                    port=port,
                    requests=requests,
                    budget=budget,
                    cpus=client_cpus,
                    venvs=venvs,
                )
                samples[key(cell)].append(result)
                shown = (
                    result["error"]
                    if "error" in result
                    else f"{result['rps']:8.0f} req/s {result['cpu_us']:7.0f} µs "
                    f"{result['new_connections']:4d} conns"
                )
                print(f"[{repeat + 1}/{repeats}] {key(cell):48s} {shown}", flush=True)
    medians = {cell_key: summarise(runs) for cell_key, runs in samples.items()}
    report: dict[str, Any] = {
        "started": started.strftime("%Y-%m-%d %H:%M UTC"),
        "mode": "quick" if args.quick else "full",
        "repeats": repeats,
        "python": platform.python_version(),
        "cpus": f"server CPU {server_cpus}, clients CPU {client_cpus}",
        "venvs": venvs,
        "elapsed_s": time.monotonic() - t0,
        "medians": medians,
    }
    report["ratios"] = ratios(medians)
    report["targets"] = check_targets(medians)
    RESULTS.mkdir(exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    text = markdown(report)
    for name in (f"bench-{stamp}", "latest"):
        (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2))
        (RESULTS / f"{name}.md").write_text(text)
    print()
    print(text)
    print(f"written: {RESULTS / f'bench-{stamp}.md'} and .json")


if __name__ == "__main__":
    main()
