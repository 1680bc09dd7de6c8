# SPDX-License-Identifier: MIT
"""Memory check: `search_stream` over many inputs from an async generator.

Runs the benchmark server in a subprocess (127.0.0.1), streams N searches
(distinct URLs from an async generator) through one `AsyncHiobuy`, and reads
this process's resident set size (VmRSS in /proc/self/status) every 10,000
outcomes. The target (issue #5): growth <= 2 MiB from 10k to 100k, i.e.
memory independent of the number of inputs.

Then (issue #13, point 5) the same with large bodies, to check that the
de-duplication cache stays within its budget (`DEDUPE_BUDGET`, 16 MiB)
whatever the body size: `--dedupe-items` answers of that many items (~690
bytes each: 150 items is a ~100 KiB body, 1500 a ~1 MiB one), 200 inputs each;
the target is growth <= the budget + 8 MiB from the 20th outcome to the last.
Each kept result is sized in O(1) from its body's length (`_batch._footprint`).

Then (issue #18, point 9) the command line, when asked: `hiobuy-async
search-many` in a subprocess over files of N image URLs (`--cli-inputs
10000,100000`, answers of `--cli-items` products), writing `--output` to a
temporary directory, then `--resume` of that output (every input already
done: only the index of the resumed file costs memory); and `--resume` alone
over outputs of N records the benchmark writes itself (`--cli-resume-inputs
1000000`: a million searches take too long for a benchmark run). It reports
each process's peak RSS (VmHWM); the target is a peak independent of N:
growth <= 8 MiB from the smallest N to the largest. `--only-cli` skips the rest.

    python -m bench.memory [--inputs 100000] [--concurrency 64] [--transport default|httpx|aiohttp]
        [--dedupe-items 150,1500] [--cli-inputs 10000,100000] [--cli-items 20]
        [--cli-resume-inputs 10000,1000000] [--only-cli]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio

from bench.client import UUID, image_url
from bench.run import RESULTS, _cpus, running_server


def rss_kib() -> int:
    """This process's VmRSS in KiB (Linux), or the peak RSS elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


async def stream_searches(
    port: int,
    inputs: int,
    concurrency: int,
    transport: str,
    items: int = 20,
    checkpoints: set[int] | None = None,
) -> tuple[list[tuple[int, int]], int, int]:
    """Stream `inputs` searches; return the RSS samples and the dedupe cache's bytes and size."""
    from hiobuy_async import AsyncHiobuy, Ok  # noqa: PLC0415 - after the server started

    async def images() -> AsyncIterator[str]:
        for i in range(inputs):
            yield image_url(i)

    samples: list[tuple[int, int]] = [(0, rss_kib())]
    client = AsyncHiobuy(
        UUID,
        base_url=f"http://127.0.0.1:{port}/i{items}/l0",
        max_connections=concurrency,
        transport=None if transport == "default" else transport,  # type: ignore[arg-type]
        max_response_bytes=max(256 * 1024, items * 1024),  # a 1,500-item body is ~1 MiB
    )
    stream_cm = client.search_stream(images(), platform="taobao", concurrency=concurrency)
    if checkpoints is None:
        checkpoints = {1_000, 5_000} | set(range(10_000, inputs + 1, 10_000))
    async with client, stream_cm as stream:
        done = 0
        async for outcome in stream:
            if not isinstance(outcome, Ok):
                raise RuntimeError(f"search failed: {outcome}")
            done += 1
            if done in checkpoints:
                gc.collect()
                samples.append((done, rss_kib()))
                print(f"{done:>7} outcomes  VmRSS {samples[-1][1] / 1024:7.1f} MiB", flush=True)
        cache = stream._batch.finished
        return samples, cache.bytes, len(cache)


def dedupe_check(port: int, items: int, concurrency: int, transport: str, backend: str) -> dict:
    """Stream 200 searches with `items`-item bodies; report growth against the budget."""
    from hiobuy_async._batch import DEDUPE_BUDGET  # noqa: PLC0415

    inputs = 200
    samples, cache_bytes, cache_len = anyio.run(
        stream_searches,
        port,
        inputs,
        concurrency,
        transport,
        items,
        {20, *range(50, inputs + 1, 50)},
        backend=backend,
    )
    first, last = samples[1], samples[-1]
    growth = (last[1] - first[1]) / 1024
    target = DEDUPE_BUDGET / 2**20 + 8
    verdict = "met" if growth <= target else "MISSED"
    print(
        f"search_stream dedupe, {inputs} inputs of {items} items: VmRSS growth "
        f"{growth:+.1f} MiB from {first[0]} to {last[0]} outcomes (target <= {target:.0f} MiB: "
        f"{verdict}); cache holds {cache_len} results, {cache_bytes / 2**20:.1f} MiB estimated"
    )
    return {
        "items": items,
        "samples_kib": samples,
        "growth_mib": growth,
        "cache_bytes": cache_bytes,
        "cache_results": cache_len,
    }


_CLI_CHILD = """
import sys
from pathlib import Path
from hiobuy_async._cli import main
code = main(sys.argv[1:])
status = Path("/proc/self/status").read_text().splitlines()
peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
print(f"BENCH peak_kib={peak} exit={code}", file=sys.stderr)
"""


def _cli_run(argv: list[str], env: dict[str, str]) -> tuple[int, float, str]:
    """Run the command line in a fresh process: its peak RSS (KiB), seconds, and summary."""
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", _CLI_CHILD, *argv],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.monotonic() - started
    lines = proc.stderr.strip().splitlines()
    fields = dict(part.split("=") for part in lines[-1].split()[1:]) if lines else {}
    if fields.get("exit") != "0":
        raise RuntimeError(f"hiobuy-async {argv[0]} failed: {proc.stderr[-2000:]}")
    summary = next((line for line in lines if " done: " in line), "")
    return int(fields["peak_kib"]), elapsed, summary


def cli_check(port: int, counts: list[int], items: int, concurrency: int, backend: str) -> dict:
    """`search-many` then `--resume` over N inputs, for each N: peak RSS of each process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HIOBUY_")}
    env |= {"HIOBUY_UUID": UUID, "HIOBUY_BASE_URL": f"http://127.0.0.1:{port}/i{items}/l0"}
    rows = []
    for inputs in counts:
        with tempfile.TemporaryDirectory(prefix="hiobuy-bench-cli-") as tmp:
            source, output = Path(tmp, "urls.txt"), Path(tmp, "out.jsonl")
            with source.open("w") as file:
                for i in range(inputs):
                    file.write(image_url(i) + "\n")
            argv = ["search-many", str(source), "-p", "taobao", "-o", str(output)]
            argv += ["-c", str(concurrency), "--backend", backend]
            run_peak, run_s, summary = _cli_run(argv, env)
            size = output.stat().st_size
            resume_peak, resume_s, _ = _cli_run([*argv, "--resume"], env)
        rows.append(
            {
                "inputs": inputs,
                "run_peak_kib": run_peak,
                "run_s": run_s,
                "output_bytes": size,
                "resume_peak_kib": resume_peak,
                "resume_s": resume_s,
            }
        )
        print(
            f"{inputs:>9,} inputs: search-many peak RSS {run_peak / 1024:6.1f} MiB "
            f"({run_s:.0f} s, output {size / 2**20:,.0f} MiB); --resume of it peak RSS "
            f"{resume_peak / 1024:6.1f} MiB ({resume_s:.0f} s)  [{summary}]",
            flush=True,
        )
    first, last = rows[0], rows[-1]
    for what in ("run", "resume"):
        growth = (last[f"{what}_peak_kib"] - first[f"{what}_peak_kib"]) / 1024
        verdict = "met" if growth <= 8 else "MISSED"
        print(
            f"hiobuy-async search-many{' --resume' if what == 'resume' else ''}, "
            f"{items} items per answer, concurrency {concurrency}, {backend}: peak RSS growth "
            f"{growth:+.1f} MiB from {first['inputs']:,} to {last['inputs']:,} inputs "
            f"(target <= 8 MiB: {verdict})"
        )
    return {"items": items, "concurrency": concurrency, "backend": backend, "rows": rows}


def resume_check(port: int, counts: list[int], backend: str) -> dict:
    """`--resume` of an output already holding all N inputs (written here, not searched)."""
    from hiobuy_async._cli._runs import read_inputs, run_header, write_run  # noqa: PLC0415

    env = {k: v for k, v in os.environ.items() if not k.startswith("HIOBUY_")}
    env |= {"HIOBUY_UUID": UUID, "HIOBUY_BASE_URL": f"http://127.0.0.1:{port}/i1/l0"}
    options = {"platform": "taobao", "language": "zh_CN", "use_platform": False, "filters": None}
    rows = []
    for inputs in counts:
        with tempfile.TemporaryDirectory(prefix="hiobuy-bench-resume-") as tmp:
            source, output = Path(tmp, "urls.txt"), Path(tmp, "out.jsonl")
            with source.open("w") as urls, output.open("w") as out:
                for i in range(inputs):
                    urls.write(image_url(i) + "\n")
                    record = {"line": i + 1, "img": image_url(i), **options, "ok": True}
                    out.write(json.dumps({**record, "error": None, "products": []}) + "\n")
            opened = read_inputs(str(source), sys.stdin)
            write_run(str(output), run_header("search-many", opened, options))
            opened.close()
            argv = ["search-many", str(source), "-p", "taobao", "-o", str(output), "--resume"]
            peak, elapsed, summary = _cli_run([*argv, "--backend", backend], env)
        rows.append({"inputs": inputs, "resume_peak_kib": peak, "resume_s": elapsed})
        print(
            f"{inputs:>9,} inputs, all done: --resume peak RSS {peak / 1024:6.1f} MiB "
            f"({elapsed:.0f} s)  [{summary}]",
            flush=True,
        )
    return {"backend": backend, "rows": rows}


def cli_checks(port: int, args: argparse.Namespace) -> dict:
    """The command-line checks asked for on the command line (none by default)."""
    cli_counts = [int(n) for n in args.cli_inputs.split(",") if n.strip()]
    resume_counts = [int(n) for n in args.cli_resume_inputs.split(",") if n.strip()]
    cli: dict = {}
    if cli_counts:
        cli = cli_check(port, cli_counts, args.cli_items, args.concurrency, args.backend)
    if resume_counts:
        cli["resume_only"] = resume_check(port, resume_counts, args.backend)
    return cli


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--transport", choices=("default", "httpx", "aiohttp"), default="default")
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--quick", action="store_true", help="accepted for nox; same run")
    parser.add_argument(
        "--dedupe-items",
        default="150,1500",
        help="items per answer for the dedupe-budget runs, comma-separated ('' for none)",
    )
    parser.add_argument(
        "--cli-inputs",
        default="",
        help="inputs of the command-line runs, comma-separated (default: none)",
    )
    parser.add_argument("--cli-items", type=int, default=20, help="items per answer (CLI runs)")
    parser.add_argument(
        "--cli-resume-inputs",
        default="",
        help="inputs of --resume runs over outputs written by the benchmark, comma-separated",
    )
    parser.add_argument("--only-cli", action="store_true", help="run the command-line check alone")
    args = parser.parse_args(argv)
    server_cpus, client_cpus = _cpus()
    if client_cpus is not None:
        os.sched_setaffinity(0, client_cpus)
    started = time.monotonic()
    if args.only_cli:
        with running_server(server_cpus) as port:
            cli = cli_checks(port, args)
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"memory-cli-{args.backend}.json").write_text(json.dumps(cli, indent=2))
        return
    with running_server(server_cpus) as port:
        samples, _, _ = anyio.run(
            stream_searches,
            port,
            args.inputs,
            args.concurrency,
            args.transport,
            backend=args.backend,
        )
        elapsed = time.monotonic() - started
        dedupe = [
            dedupe_check(port, int(items), 8, args.transport, args.backend)
            for items in args.dedupe_items.split(",")
            if items.strip()
        ]
        cli = cli_checks(port, args)
    start = samples[0]
    first = next(s for s in samples if s[0] >= 10_000)
    last = samples[-1]
    growth = (last[1] - first[1]) / 1024
    verdict = "met" if growth <= 2.0 else "MISSED"
    print(
        f"search_stream, {args.inputs:,} inputs from an async generator, concurrency "
        f"{args.concurrency}, transport {args.transport}, {args.backend}: "
        f"VmRSS {first[1] / 1024:.1f} MiB at {first[0]:,} -> {last[1] / 1024:.1f} MiB at "
        f"{last[0]:,}: growth {growth:+.2f} MiB (target <= 2 MiB: {verdict}); "
        f"{(first[1] - start[1]) / 1024:+.1f} MiB from before the first request to 10,000; "
        f"{elapsed:.0f} s, {args.inputs / elapsed:,.0f} searches/s"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"memory-{args.backend}-{args.transport}.json").write_text(
        json.dumps(
            {
                "inputs": args.inputs,
                "concurrency": args.concurrency,
                "transport": args.transport,
                "backend": args.backend,
                "samples_kib": samples,
                "growth_mib": growth,
                "elapsed_s": elapsed,
                "dedupe": dedupe,
                "cli": cli,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
