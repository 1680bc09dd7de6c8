"""One RedisQuota shared end to end: 4 processes (2 asyncio, 2 trio), each an AsyncHiobuy
running `search_stream` over its shard, all sending to one loopback fake HioBuy.

Each process runs the Dask recipe's `crawl_shard` (docs/recipes/dask_crawl.py)
without Dask, so what is checked here is what the recipe's workers do. The
fake runs in this process, in a thread with its own event loop: its arrival
times (`time.monotonic()`) share the clock of the test.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio.from_thread
import pytest
from redis_server import RECIPES, RedisServer
from test_quota_local import most_in_any_window

from hiobuy_async.testing import FakeHiobuy, Fault

sys.path.insert(0, str(RECIPES))
import dask_crawl

ROOT = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).resolve().with_name("redis_server.py")
BACKENDS = ("asyncio", "asyncio", "trio", "trio")
RATE = 40
MOST_PER_SECOND = RATE * 1.1 + 1


@pytest.fixture
def restarted(redis_server: RedisServer) -> Iterator[RedisServer]:
    """The module's server, running again after the test even if it stopped or froze it."""
    yield redis_server
    redis_server.thaw_if_frozen()
    redis_server.start()


@dataclasses.dataclass
class Served:
    fake: FakeHiobuy
    base_url: str
    portal: anyio.from_thread.BlockingPortal

    def arrivals(self) -> list[Any]:
        return self.portal.call(lambda: self.fake.requests)


@pytest.fixture
def served() -> Iterator[Served]:
    # Few results per search: less work per request on a 2-core machine, so
    # arrivals keep the spacing the quota gave them.
    fake = FakeHiobuy(results_per_search=2)
    with (
        anyio.from_thread.start_blocking_portal() as portal,
        portal.wrap_async_context_manager(fake.serve()) as base_url,
    ):
        yield Served(fake, base_url, portal)


@dataclasses.dataclass
class Crawl:
    """Four worker processes, one shard each, sharing one RedisQuota key."""

    images: list[str]
    shards: list[dask_crawl.Shard]
    out_dir: Path
    logs: Path
    processes: list[subprocess.Popen[bytes]] = dataclasses.field(default_factory=list)
    waited: int = 0

    def start(self, shard: dask_crawl.Shard, settings: dask_crawl.Settings) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        number = len(self.processes)
        payload = [shard.number, shard.images]
        command = [sys.executable, str(WORKER), "shard"]
        command += [json.dumps(dataclasses.asdict(settings)), json.dumps(payload)]
        with (
            (self.logs / f"{number}.out").open("wb") as out,
            (self.logs / f"{number}.err").open("wb") as err,
        ):
            command.append(str(self.out_dir))
            self.processes.append(subprocess.Popen(command, env=env, stdout=out, stderr=err))

    def wait(self, timeout: float = 40) -> list[dict[str, Any]]:
        """Wait for the processes started since the last wait; the reports of those exiting 0."""
        reports = []
        for number in range(self.waited, len(self.processes)):
            code = self.processes[number].wait(timeout)
            if code == 0:
                out = (self.logs / f"{number}.out").read_text()
                reports.append(json.loads(out.strip().splitlines()[-1]))
            else:
                assert code == -signal.SIGKILL, self.stderr(number)
        self.waited = len(self.processes)
        return reports

    def stderr(self, number: int) -> str:
        return (self.logs / f"{number}.err").read_text()

    def kill_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()

    def shard_of(self, image: str) -> int:
        # .../p2-13.jpg: the 14th image of shard 2.
        return int(image.rsplit("/", 1)[1].split("-", maxsplit=1)[0][1:])

    def lines(self) -> list[dict[str, Any]]:
        """Every outcome line written, each parsed (a line cut short by a kill is left out)."""
        records = []
        for path in sorted(self.out_dir.glob("shard-*.jsonl")):
            for line in path.read_text().splitlines():
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue
        return records


@pytest.fixture
def crawl(tmp_path: Path) -> Iterator[Callable[[int], Crawl]]:
    made: list[Crawl] = []

    def make(per_process: int) -> Crawl:
        images = [
            f"https://cbu01.alicdn.com/img/ibank/e2e/p{shard}-{n}.jpg"
            for shard in range(len(BACKENDS))
            for n in range(per_process)
        ]
        numbered = list(enumerate(images))
        shards = [
            dask_crawl.Shard(n, numbered[n * per_process : (n + 1) * per_process])
            for n in range(len(BACKENDS))
        ]
        (tmp_path / "out").mkdir()
        (tmp_path / "logs").mkdir()
        made.append(Crawl(images, shards, tmp_path / "out", tmp_path / "logs"))
        return made[-1]

    yield make
    for one in made:
        one.kill_all()


def settings_for(
    server: RedisServer, served: Served, key: str, backend: str, **kwargs: Any
) -> dask_crawl.Settings:
    return dask_crawl.Settings(
        redis_url=server.url,
        quota_key=key,
        rate=RATE,
        expected_processes=len(BACKENDS),
        concurrency=4,
        backend=backend,
        uuid=FakeHiobuy.DEFAULT_UUID,
        base_url=served.base_url,
        **{"redis_timeout": 2.0, **kwargs},  # generous unless Redis is to fail: a busy machine
    )


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def image_of(request: Any) -> str:
    return str(request.json["img"])


def sent_by_all(served: Served, crawl: Crawl, at_least: int) -> Callable[[], bool]:
    def check() -> bool:
        per_shard = Counter(crawl.shard_of(image_of(r)) for r in served.arrivals())
        return all(per_shard[n] >= at_least for n in range(len(BACKENDS)))

    return check


def start_together(served: Served, crawl: Crawl, settings: list[dask_crawl.Settings]) -> None:
    """Start the four processes; hold the answers until each has sent, so none runs ahead."""
    served.portal.call(served.fake.hold)
    for shard, one in zip(crawl.shards, settings, strict=True):
        crawl.start(shard, one)
    wait_for(sent_by_all(served, crawl, 1), "every process to send")
    served.portal.call(served.fake.release)


def test_four_processes_share_one_quota_and_one_429_pause(
    redis_server: RedisServer, served: Served, crawl: Callable[[int], Crawl]
) -> None:
    run = crawl(50)
    key = f"hiobuy-e2e:{uuid.uuid4().hex}"
    start_together(served, run, [settings_for(redis_server, served, key, b) for b in BACKENDS])
    wait_for(sent_by_all(served, run, 5), "every process to send")
    served.portal.call(served.fake.fail_next, 1, Fault.rate_limit(retry_after=1))
    reports = run.wait()

    assert sorted(report["backend"] for report in reports) == sorted(BACKENDS)
    assert [report["written"] for report in reports] == [50] * 4
    assert all(report["stopped"] is None for report in reports)
    requests = served.arrivals()
    assert most_in_any_window([r.time for r in requests]) <= MOST_PER_SECOND

    # Every input done exactly once: one line each, all ok, and one answered
    # request each at the server (the 429'd one was sent again after the pause).
    lines = run.lines()
    assert sorted(line["index"] for line in lines) == list(range(200))
    assert all(line["ok"] for line in lines)
    answered = Counter(image_of(r) for r in requests if r.fault is None)
    assert answered == Counter(run.images)
    faulted = [r for r in requests if r.fault is not None]
    assert len(faulted) == 1
    assert len(requests) == 201

    # The 429 paused all four processes: nothing from any of them in the
    # pause (each may still send the request it already held a slot for, just
    # after the 429), and every one of them sent more after it.
    paused_at = faulted[0].time
    assert [r.time for r in requests if paused_at + 0.3 < r.time < paused_at + 0.9] == []
    after = {run.shard_of(image_of(r)) for r in requests if r.time >= paused_at + 0.9}
    assert after == set(range(4))


def test_a_process_killed_mid_run_loses_no_input(
    redis_server: RedisServer, served: Served, crawl: Callable[[int], Crawl]
) -> None:
    run = crawl(30)
    key = f"hiobuy-e2e:{uuid.uuid4().hex}"
    settings = [settings_for(redis_server, served, key, backend) for backend in BACKENDS]
    start_together(served, run, settings)
    victim = 2  # a trio process
    victim_file = dask_crawl.shard_path(run.out_dir, victim)
    wait_for(
        lambda: victim_file.exists() and victim_file.read_text().count("\n") >= 8,
        "the victim to write some outcomes",
    )
    run.processes[victim].send_signal(signal.SIGKILL)
    reports = run.wait()
    assert len(reports) == 3
    assert run.processes[victim].returncode == -signal.SIGKILL

    victims = {index for index, _ in run.shards[victim].images}
    written = {line["index"] for line in run.lines()}
    missing = dask_crawl.missing_inputs(len(run.images), run.out_dir)
    # The driver lists exactly the inputs with no outcome: some of the
    # victim's, none of the others'.
    assert missing
    assert set(missing) == victims - written
    assert set(range(120)) - victims <= written

    # Run the victim's shard again: it does only the missing ones.
    sent_before = Counter(image_of(r) for r in served.arrivals())
    rerun = dask_crawl.Shard(victim, run.shards[victim].images)
    run.start(rerun, settings[victim])
    (report,) = run.wait()
    assert report["skipped"] == 30 - len(missing)
    assert report["written"] == len(missing)
    assert dask_crawl.missing_inputs(len(run.images), run.out_dir) == []
    assert sorted(line["index"] for line in run.lines()) == list(range(120))
    assert all(line["ok"] for line in run.lines())
    # What was written before the kill was not sent again.
    sent_after = Counter(image_of(r) for r in served.arrivals()) - sent_before
    assert set(sent_after) == {run.images[index] for index in missing}


def test_redis_down_mid_run_falls_back_to_local_pacing_without_hanging(
    restarted: RedisServer, served: Served, crawl: Callable[[int], Crawl]
) -> None:
    run = crawl(30)
    key = f"hiobuy-e2e:{uuid.uuid4().hex}"
    options = {"redis_timeout": 0.2, "redis_retry_interval": 0.3, "deadline": 10.0}
    start_together(
        served, run, [settings_for(restarted, served, key, b, **options) for b in BACKENDS]
    )
    wait_for(sent_by_all(served, run, 3), "every process to send")
    # Hung first (connections stay open, nothing answers), then gone
    # (connections refused): one outage, both ways Redis fails.
    restarted.freeze()
    down_at = time.monotonic()
    wait_for(lambda: len(served.arrivals()) >= 40, "the processes to go on without Redis")
    restarted.stop()
    reports = run.wait()

    # Every input done, none failed: no call waited on Redis until its deadline.
    assert [report["written"] for report in reports] == [30] * 4
    lines = run.lines()
    assert sorted(line["index"] for line in lines) == list(range(120))
    assert [line for line in lines if not line["ok"]] == []
    # The documented fallback: one warning per process ...
    for number in range(4):
        warnings = [
            line
            for line in run.stderr(number).splitlines()
            if line.startswith("WARNING hiobuy_async") and "unreachable" in line
        ]
        assert len(warnings) == 1, run.stderr(number)
        assert "pacing locally at 10 requests/s" in warnings[0]
    # ... and each process paces itself at rate / expected_processes = 10/s
    # (slots already reserved from Redis may land just after it went down).
    requests = served.arrivals()
    for number in range(4):
        own = [
            r.time
            for r in requests
            if run.shard_of(image_of(r)) == number and r.time > down_at + 0.3
        ]
        assert len(own) >= 10
        assert most_in_any_window(own) <= 10 * 1.1 + 1
    assert most_in_any_window([r.time for r in requests]) <= MOST_PER_SECOND
