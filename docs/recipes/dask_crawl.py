"""Crawl a list of images across a Dask cluster, every worker under one shared HioBuy quota.

The driver cuts the input into shards and submits one Dask task per shard.
Each task runs in a worker process: it opens the shared `RedisQuota` and its
own `AsyncHiobuy`, runs `search_stream` over its shard and appends one JSON
line per input (`ok` with the top hits, or the error) to its own file,
`shard-00003.jsonl`, flushed as it goes. A shard run again (Dask retries the
task of a worker that died, or you run the crawl again) skips the inputs its
files already hold. At the end the driver reads every file and lists the
inputs that have no outcome: run the crawl again to do those, none is dropped
silently.

Needs `pip install 'hiobuy-async[redis,dask]'`, a Redis every worker reaches,
and `HIOBUY_UUID` set on the workers (the credential never travels through the
scheduler). Run it with `python dask_crawl.py images.txt out/ --redis URL`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import socket
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from hiobuy_async import AsyncHiobuy, Ok, Outcome, PlatformName, QuotaExhaustedError
from hiobuy_async.quota import RedisQuota

if TYPE_CHECKING:
    from distributed import Client


@dataclasses.dataclass(frozen=True)
class Settings:
    """What every shard needs; pickled to the workers, so it holds no credential."""

    redis_url: str
    quota_key: str  # one per merchant account: every worker shares its quota
    rate: float  # requests per second for the whole cluster together
    expected_processes: int = 1  # while Redis is down, each paces at rate / this
    platform: PlatformName = "1688"
    concurrency: int = 8  # requests in flight per worker process
    top: int = 3  # hits kept per image
    backend: str = "asyncio"  # or "trio": the SDK and the quota run on both
    uuid: str | None = None  # None: HIOBUY_UUID on the worker
    base_url: str | None = None  # None: HIOBUY_BASE_URL, or the real API
    deadline: float = 120.0  # seconds per call, retries included
    redis_timeout: float = 0.25  # seconds per Redis round trip before falling back
    redis_retry_interval: float = 1.0


@dataclasses.dataclass(frozen=True)
class Shard:
    number: int
    images: list[tuple[int, str]]  # (index in the whole input, image URL)


@dataclasses.dataclass(frozen=True)
class ShardReport:
    number: int
    written: int  # outcomes this run wrote
    skipped: int  # inputs its files already held
    stopped: str | None  # why it stopped early (the quota is used up)
    process: str  # where it ran: host:pid


@dataclasses.dataclass(frozen=True)
class CrawlReport:
    ok: int
    failed: int  # inputs with an error outcome (in their JSON line)
    missing: list[int]  # inputs with no outcome: run the crawl again
    shards: list[ShardReport]
    shard_errors: dict[int, str]  # shards whose task failed (e.g. its worker died)


def shard_path(out_dir: Path, number: int) -> Path:
    return out_dir / f"shard-{number:05d}.jsonl"


def read_outcomes(out_dir: Path) -> dict[int, dict[str, Any]]:
    """Every outcome written so far, by input index (the first one, if any is doubled)."""
    outcomes: dict[int, dict[str, Any]] = {}
    for path in sorted(out_dir.glob("shard-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # cut short by a process killed while writing it
            outcomes.setdefault(record["index"], record)
    return outcomes


def missing_inputs(count: int, out_dir: Path) -> list[int]:
    """The indices among `range(count)` that have no outcome in `out_dir`."""
    done = read_outcomes(out_dir)
    return [index for index in range(count) if index not in done]


def to_record(index: int, image: str, outcome: Outcome, top: int) -> dict[str, Any]:
    if isinstance(outcome, Ok):
        hits = [
            {"num_iid": p.num_iid, "title": p.title, "price": str(p.price), "url": p.detail_url}
            for p in outcome.result.items[:top]
        ]
        return {"index": index, "image": image, "ok": True, "hits": hits}
    error = outcome.error
    return {
        "index": index,
        "image": image,
        "ok": False,
        "error": type(error).__name__,
        "message": str(error),
        "request_id": error.request_id,
    }


async def _crawl(todo: list[tuple[int, str]], path: Path, settings: Settings) -> str | None:
    """Search `todo`, appending one line per outcome to `path`; why it stopped early, if it did."""
    quota = RedisQuota(
        settings.redis_url,
        key=settings.quota_key,
        rate=settings.rate,
        expected_processes=settings.expected_processes,
        timeout=settings.redis_timeout,
        retry_interval=settings.redis_retry_interval,
    )
    client = AsyncHiobuy(
        settings.uuid,
        base_url=settings.base_url,
        quota=quota,
        deadline=settings.deadline,
        max_connections=settings.concurrency,
    )
    images = [image for _, image in todo]
    try:
        async with (
            quota,  # opened in the task that runs the client
            client,
            await anyio.open_file(path, "a", encoding="utf-8") as out,
            client.search_stream(
                images, platform=settings.platform, concurrency=settings.concurrency
            ) as stream,
        ):
            async for outcome in stream:
                index, image = todo[outcome.index]
                await out.write(json.dumps(to_record(index, image, outcome, settings.top)) + "\n")
                await out.flush()  # the driver sees it even if this process dies next
    except QuotaExhaustedError as exc:
        # The daily quota is used up for every worker: stop cleanly; the rest
        # are listed as missing, to run again after `exc.retry_after`.
        return str(exc)
    return None


def crawl_shard(shard: Shard, out_dir: str, settings: Settings) -> ShardReport:
    """One Dask task: search one shard's images and append their outcomes to its file.

    Inputs that already have an outcome in `out_dir` are skipped, so a task
    run again (its worker died) does only the rest.
    """
    path = shard_path(Path(out_dir), shard.number)
    done = read_outcomes(path.parent)
    todo = [(index, image) for index, image in shard.images if index not in done]
    if path.exists() and path.read_bytes()[-1:] not in (b"", b"\n"):
        with path.open("a", encoding="utf-8") as out:
            out.write("\n")  # end the line a killed run left half written
    stopped = anyio.run(_crawl, todo, path, settings, backend=settings.backend)
    written = sum(1 for index, _ in todo if index in read_outcomes(path.parent))
    process = f"{socket.gethostname()}:{os.getpid()}"
    return ShardReport(shard.number, written, len(shard.images) - len(todo), stopped, process)


def make_shards(images: Sequence[str], shard_size: int, skip: Iterable[int] = ()) -> list[Shard]:
    skipped = set(skip)
    todo = [(index, image) for index, image in enumerate(images) if index not in skipped]
    return [
        Shard(number, todo[start : start + shard_size])
        for number, start in enumerate(range(0, len(todo), shard_size))
    ]


def crawl(
    client: Client,
    images: Sequence[str],
    out_dir: Path,
    settings: Settings,
    *,
    shard_size: int = 250,
) -> CrawlReport:
    """Crawl `images` on the cluster `client` is connected to; resumes from `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    # Shards are numbered after the files already there, so a run again
    # never appends to a file another shard of this run writes.
    first = len(list(out_dir.glob("shard-*.jsonl")))
    shards = make_shards(images, shard_size, skip=read_outcomes(out_dir))
    shards = [dataclasses.replace(shard, number=first + shard.number) for shard in shards]
    futures = [
        # retries=1: a shard whose worker died runs again elsewhere, skipping
        # what it had written.
        client.submit(crawl_shard, shard, str(out_dir), settings, pure=False, retries=1)
        for shard in shards
    ]
    reports: list[ShardReport] = []
    shard_errors: dict[int, str] = {}
    for shard, future in zip(shards, futures, strict=True):
        try:
            reports.append(future.result())
        except Exception as exc:  # noqa: BLE001 - its inputs are listed as missing below
            shard_errors[shard.number] = repr(exc)
    outcomes = read_outcomes(out_dir)
    ok = sum(1 for index in range(len(images)) if outcomes.get(index, {}).get("ok") is True)
    failed = sum(1 for index in range(len(images)) if outcomes.get(index, {}).get("ok") is False)
    return CrawlReport(ok, failed, missing_inputs(len(images), out_dir), reports, shard_errors)


def main() -> None:
    from distributed import Client, LocalCluster  # noqa: PLC0415 - the driver only

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", type=Path, help="a file with one image URL per line")
    parser.add_argument("out_dir", type=Path, help="where the shard-*.jsonl files go")
    parser.add_argument("--redis", required=True, help="e.g. redis://redis.internal:6379/0")
    parser.add_argument("--quota-key", default="hiobuy:merchant")
    parser.add_argument("--rate", type=float, default=40, help="requests/s, whole cluster")
    parser.add_argument("--scheduler", help="a scheduler address; default: a local cluster")
    parser.add_argument("--workers", type=int, default=2, help="for the local cluster")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    images = [line.strip() for line in args.images.read_text().splitlines() if line.strip()]
    if args.scheduler:
        client = Client(args.scheduler)
    else:
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True)
        client = Client(cluster)
    with client:
        processes = len(client.scheduler_info()["workers"])
        settings = Settings(args.redis, args.quota_key, args.rate, expected_processes=processes)
        report = crawl(client, images, args.out_dir, settings)
    print(f"{report.ok} ok, {report.failed} failed, {len(report.missing)} missing")
    for number, error in report.shard_errors.items():
        print(f"shard {number} failed: {error}")
    if report.missing:
        print(f"run again to do the {len(report.missing)} inputs without an outcome")


if __name__ == "__main__":
    main()
