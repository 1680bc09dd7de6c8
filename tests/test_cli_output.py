"""The batch commands' output under trouble: issue #18 (lost data) and #21 (13, 14, 9).

Each test runs the command as a user does, through `main()` (exit code and
stderr included) or `run_command`, against the embedded fake over loopback
sockets, on asyncio and trio.
"""

from __future__ import annotations

import errno
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from conftest import BACKENDS
from helpers import cli, unused_port

from hiobuy_async._cli import _commands, main
from hiobuy_async._cli._args import CliError, ExitCode, parse_args
from hiobuy_async._cli._jsonl import open_output
from hiobuy_async.testing import FakeHiobuy, Fault

IMAGES = FakeHiobuy.sample_images()[:6]
UNFETCHABLE = "https://img.example.com/unfetchable.jpg"
PASSWORD = "redis-pa55word-never-shown"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeHiobuy:
    """The fake every `--demo` run of the test uses, so faults can be set on it."""
    shared = FakeHiobuy()
    monkeypatch.setattr(_commands, "_make_fake", lambda uuid=None: shared)
    return shared


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The event loop `main()` runs the command on."""
    return str(request.param)


def run_main(capsys: pytest.CaptureFixture[str], backend: str, *argv: str) -> tuple[int, str, str]:
    """Run the command line in this process; return its exit code, stdout and stderr."""
    capsys.readouterr()
    code = main([*argv, "--backend", backend])
    out, err = capsys.readouterr()
    return code, out, err


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def write_inputs(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


# -- #21.13: every line of --output is a result record ---------------------------


@pytest.mark.anyio
async def test_output_holds_only_result_records_and_resume_still_refuses_another_run(
    fake: FakeHiobuy, tmp_path: Path
) -> None:
    inputs = write_inputs(tmp_path / "in.txt", IMAGES[:3])
    out = tmp_path / "out.jsonl"
    argv = ("search-many", str(inputs), "--demo", "-o", str(out))

    assert (await cli(*argv))[0] == ExitCode.OK

    # What jq '.products[]', pandas.read_json(lines=True) or DuckDB see: results only.
    lines = records(out)
    assert sorted(r["line"] for r in lines) == [1, 2, 3]
    assert all(r["ok"] is True and r["products"] for r in lines)
    run = json.loads((tmp_path / "out.jsonl.run.json").read_text(encoding="utf-8"))
    assert run["input"]["sha256"]
    # The run file still tells this run from another.
    before = out.read_bytes()
    write_inputs(inputs, [IMAGES[5], *IMAGES[:3]])
    with pytest.raises(CliError, match="another input"):
        await cli(*argv, "--resume")
    assert out.read_bytes() == before


@pytest.mark.anyio
async def test_output_of_version_0_1_with_its_header_line_is_still_resumed(
    fake: FakeHiobuy, tmp_path: Path
) -> None:
    inputs = write_inputs(tmp_path / "in.txt", IMAGES[:3])
    out = tmp_path / "out.jsonl"
    argv = ("search-many", str(inputs), "--demo", "-o", str(out))
    assert (await cli(*argv))[0] == ExitCode.OK
    run_file = tmp_path / "out.jsonl.run.json"
    old = run_file.read_text(encoding="utf-8")
    run_file.unlink()
    kept = out.read_text(encoding="utf-8").splitlines(keepends=True)[:2]
    out.write_text(old + "".join(kept), encoding="utf-8")  # how 0.1 wrote it

    code, _, err = await cli(*argv, "--resume")

    assert code == ExitCode.OK, err
    assert "2 skipped" in err
    assert sorted(r["line"] for r in records(out)[1:]) == [1, 2, 3]


# -- #18.8: a refused file stays byte for byte unchanged ---------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["text-file", "other-command", "other-input"])
async def test_resume_refusal_leaves_the_output_byte_for_byte_unchanged(
    fake: FakeHiobuy, tmp_path: Path, kind: str
) -> None:
    inputs = write_inputs(tmp_path / "in.txt", IMAGES[:3])
    out = tmp_path / "out.jsonl"
    argv = ("search-many", str(inputs), "--demo", "-o", str(out))
    if kind == "text-file":  # a mistyped path
        out.write_text("notes\nthe last line has no newline", encoding="utf-8")
    elif kind == "other-command":
        ids = write_inputs(tmp_path / "ids.txt", ["661281151434"])
        assert (await cli("details-many", str(ids), "--demo", "-p", "1688", "-o", str(out)))[0] == 0
        with out.open("a", encoding="utf-8") as file:
            file.write('{"line": 2, "product": "66')  # that run was killed mid-write
    else:
        assert (await cli(*argv))[0] == ExitCode.OK
        with out.open("a", encoding="utf-8") as file:
            file.write('{"line": 4, "img": "ht')
        write_inputs(inputs, [IMAGES[5], *IMAGES[:3]])
    before = out.read_bytes()

    with pytest.raises(CliError) as info:
        await cli(*argv, "--resume")

    assert info.value.code == ExitCode.USAGE
    assert "cannot resume" in info.value.message
    assert out.read_bytes() == before


# -- #18.9: nothing kept per input ----------------------------------------------------


@pytest.mark.anyio
async def test_cli_streams_outcomes_and_reads_inputs_lazily(
    fake: FakeHiobuy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each outcome is written before the batch reads much past it; none is kept."""
    inputs = write_inputs(tmp_path / "in.txt", [f"{IMAGES[n % 6]}?n={n}" for n in range(40)])
    out = tmp_path / "out.jsonl"
    seen: list[tuple[int, int]] = []  # (inputs handed to the batch, lines in the file)
    original = _commands._run_batch

    async def spy(stream_of: Any, pending: Iterator[tuple[int, str]], **kwargs: Any) -> Any:
        def counted() -> Iterator[tuple[int, str]]:
            for handed, item in enumerate(pending, 1):
                seen.append((handed, len(out.read_bytes().splitlines())))
                yield item

        return await original(stream_of, counted(), **kwargs)

    monkeypatch.setattr(_commands, "_run_batch", spy)

    code, _, err = await cli("search-many", str(inputs), "--demo", "-c", "2", "-o", str(out))

    assert code == ExitCode.OK, err
    assert len(seen) == 40
    # With 2 workers, input 40 is pulled once most results are on disk already.
    assert seen[-1][1] >= 30
    assert len(records(out)) == 40


# -- #18.10: a full disk ------------------------------------------------------------


def test_full_disk_says_cannot_write_output_with_its_own_exit_code(tmp_path: Path) -> None:
    inputs = write_inputs(tmp_path / "in.txt", IMAGES[:3])
    out = tmp_path / "out.jsonl"
    out.symlink_to("/dev/full")  # every write: ENOSPC

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "hiobuy_async",
            "search-many",
            str(inputs),
            "--demo",
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert proc.returncode == ExitCode.OUTPUT
    assert proc.stderr == "hiobuy-async: error: cannot write output: No space left on device\n"


@pytest.mark.anyio
async def test_output_to_a_device_writes_no_run_file(fake: FakeHiobuy, tmp_path: Path) -> None:
    inputs = write_inputs(tmp_path / "in.txt", IMAGES[:2])
    out = tmp_path / "out.jsonl"
    out.symlink_to(os.devnull)  # a device cannot be resumed: nothing to describe

    code, _, err = await cli("search-many", str(inputs), "--demo", "-o", str(out))

    assert code == ExitCode.OK, err
    assert not (tmp_path / "out.jsonl.run.json").exists()


class _FillingDisk(io.RawIOBase):
    """A file on a disk that fills up after `room` bytes: a short write, then ENOSPC."""

    def __init__(self, path: str, room: int) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.room = room

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self.room <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written = os.write(self.fd, bytes(data)[: self.room])
        self.room -= written
        return written

    def close(self) -> None:
        if not self.closed:
            os.close(self.fd)
        super().close()


def test_disk_full_mid_run_loses_nothing_written_and_resume_completes(
    fake: FakeHiobuy,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    backend: str,
) -> None:
    inputs = write_inputs(tmp_path / "in.txt", IMAGES)
    out = tmp_path / "out.jsonl"
    argv = ("search-many", str(inputs), "--demo", "-c", "1", "-o", str(out))
    assert run_main(capsys, backend, *argv)[0] == ExitCode.OK
    full = out.read_bytes()
    first = full.splitlines(keepends=True)  # in input order: one worker
    room = len(first[0]) + len(first[1]) + len(first[2]) // 2  # 2 lines and a half
    out.unlink()

    def filling(path: str, *, resume: bool) -> IO[str]:
        return io.TextIOWrapper(io.BufferedWriter(_FillingDisk(path, room)), encoding="utf-8")

    monkeypatch.setattr(_commands, "open_output", filling)
    code, _, err = run_main(capsys, backend, *argv)

    assert code == ExitCode.OUTPUT
    assert err == "hiobuy-async: error: cannot write output: No space left on device\n"
    written = out.read_bytes()
    assert len(written) == room
    complete = written[: written.rfind(b"\n") + 1]
    assert [json.loads(line)["line"] for line in complete.splitlines()] == [1, 2]

    monkeypatch.setattr(_commands, "open_output", open_output)  # room again
    code, _, err = run_main(capsys, backend, *argv, "--resume")

    assert code == ExitCode.OK, err
    assert "2 skipped" in err
    assert out.read_bytes().startswith(complete)
    assert sorted(r["line"] for r in records(out)) == [1, 2, 3, 4, 5, 6]


# -- #18.17: --redis-quota ------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        f"redis://:{PASSWORD}@127.0.0.1:notaport/0",
        f"redis://:{PASSWORD}@127.0.0.1:6379/zero",
        f"http://:{PASSWORD}@127.0.0.1:6379/0",
        "redis://",
    ],
    ids=["port", "db", "scheme", "no-host"],
)
@pytest.mark.parametrize("via", ["option", "environment"])
def test_malformed_redis_url_is_a_usage_error_that_hides_the_password(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    url: str,
    via: str,
) -> None:
    inputs = write_inputs(tmp_path / "in.txt", IMAGES[:1])
    argv = ["search-many", str(inputs), "--demo", "--rate-limit", "5", "--quota-key", "k"]
    monkeypatch.delenv("HIOBUY_REDIS_QUOTA_URL", raising=False)
    if via == "option":
        argv += ["--redis-quota", url]
    else:
        monkeypatch.setenv("HIOBUY_REDIS_QUOTA_URL", url)

    code, out, err = run_main(capsys, "asyncio", *argv)

    assert code == ExitCode.USAGE
    assert err.startswith("hiobuy-async: error: --redis-quota: not a Redis URL")
    assert err.count("\n") == 1
    assert PASSWORD not in out + err
    assert not (tmp_path / "out.jsonl").exists()


def test_redis_quota_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"redis://:{PASSWORD}@127.0.0.1:6379/0"
    monkeypatch.setenv("HIOBUY_REDIS_QUOTA_URL", url)
    argv = ["search-many", "in.txt", "--rate-limit", "5"]

    shared = _commands._pacing(parse_args([*argv, "--quota-key", "merchant-42"]))
    alone = _commands._pacing(parse_args(argv))  # no key: no sharing, the variable unused

    assert (shared.redis_url, shared.quota_key, shared.rate_limit) == (url, "merchant-42", 5.0)
    assert alone.redis_url is None
    option = _commands._pacing(
        parse_args([*argv, "--quota-key", "k", "--redis-quota", "redis://10.0.0.1/1"])
    )
    assert option.redis_url == "redis://10.0.0.1/1"  # the option wins


def test_redis_down_gives_one_warning_per_outage(tmp_path: Path) -> None:
    inputs = write_inputs(tmp_path / "in.txt", [f"{IMAGES[n % 6]}?n={n}" for n in range(60)])
    env = {k: v for k, v in os.environ.items() if not k.startswith("HIOBUY_")}
    argv = ["search-many", str(inputs), "--demo", "-o", str(tmp_path / "out.jsonl")]
    argv += ["--rate-limit", "200", "--quota-key", "merchant-42"]
    argv += ["--redis-quota", f"redis://:{PASSWORD}@127.0.0.1:{unused_port()}"]

    proc = subprocess.run(
        [sys.executable, "-m", "hiobuy_async", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert proc.returncode == ExitCode.OK, proc.stderr
    assert "Unclosed" not in proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1, proc.stderr
    assert warnings[0].startswith("hiobuy-async: warning: Redis quota 'merchant-42' unreachable")
    assert PASSWORD not in proc.stderr


# -- #18.22: an input refused before any request says nothing of the server --------


def test_csv_header_line_does_not_hide_a_down_server(
    fake: FakeHiobuy,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    backend: str,
) -> None:
    inputs = write_inputs(tmp_path / "in.txt", ["img,platform", *IMAGES])
    out = tmp_path / "out.jsonl"
    monkeypatch.setenv("HIOBUY_UUID", FakeHiobuy.DEFAULT_UUID)
    monkeypatch.setenv("HIOBUY_BASE_URL", f"http://127.0.0.1:{unused_port()}")
    argv = ("search-many", str(inputs), "-p", "1688", "-l", "en_US", "-o", str(out))

    code, _, err = run_main(capsys, backend, *argv, "--max-retries", "0")

    assert code == ExitCode.CONNECTION, err
    assert err.startswith("hiobuy-async: error: cannot reach the server")
    # Only the line that can never succeed is written: every image runs on --resume.
    assert [(r["line"], r["ok"]) for r in records(out)] == [(1, False)]

    monkeypatch.delenv("HIOBUY_UUID")
    monkeypatch.delenv("HIOBUY_BASE_URL")
    code, _, err = run_main(capsys, backend, *argv, "--demo", "--resume")

    assert code == ExitCode.FAILED, err
    assert "6 done: 6 ok, 0 failed" in err
    assert "1 skipped" in err


# -- #21.14: --retry-failed advised only when it could help ---------------------------


@pytest.mark.anyio
async def test_retry_failed_is_advised_only_when_a_retry_could_help(
    fake: FakeHiobuy, tmp_path: Path
) -> None:
    inputs = write_inputs(tmp_path / "in.txt", [IMAGES[0], UNFETCHABLE, "not a url", IMAGES[1]])
    out = tmp_path / "out.jsonl"
    argv = ("search-many", str(inputs), "--demo", "--max-retries", "0", "-o", str(out))
    fake.fail_matching(subject=IMAGES[1], fault=Fault.status(503), times=1)

    code, _, err = await cli(*argv)

    assert code == ExitCode.FAILED
    assert "3 failed in" in err
    assert "1 may succeed when retried (--retry-failed runs them again)" in err
    assert "2 refused for good" in err

    code, _, err = await cli(*argv, "--retry-failed")

    assert code == ExitCode.FAILED
    assert "3 done: 1 ok, 2 failed" in err
    assert "2 failed in" in err
    assert "--retry-failed" not in err
    assert "refused for good" in err

    # A plain --resume after that says the same: nothing left a retry could fix.
    code, _, err = await cli(*argv, "--resume")
    assert code == ExitCode.FAILED
    assert "--retry-failed" not in err


# -- #21.9: an input line that is not a URL ----------------------------------------


@pytest.mark.anyio
async def test_an_input_line_that_is_not_a_url_is_reported_as_not_a_url(
    fake: FakeHiobuy, tmp_path: Path
) -> None:
    inputs = write_inputs(tmp_path / "in.txt", ["not a url", "img,platform", "ftp://a/b.jpg"])
    out = tmp_path / "out.jsonl"

    code, _, _ = await cli("search-many", str(inputs), "--demo", "-o", str(out))

    assert code == ExitCode.FAILED
    errors = {r["img"]: r["error"] for r in records(out)}
    for text in ("not a url", "img,platform"):
        assert errors[text]["type"] == "InputError"
        assert errors[text]["message"].startswith("not a URL")
        assert "whitespace" not in errors[text]["message"]
    # What looks like a URL keeps the SDK's own explanation.
    assert "http(s)" in errors["ftp://a/b.jpg"]["message"]
