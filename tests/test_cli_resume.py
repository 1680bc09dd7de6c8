"""`search-many --output` and `--resume`, run in-process against the embedded fake (issue #10.4).

A resumed output must never mix two runs: each line records its input's
line number, platform and language, the run file beside it names the input
and the options, and a mismatch is refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import pytest
from helpers import cli

from hiobuy_async._cli import _commands
from hiobuy_async._cli._args import CliError, ExitCode
from hiobuy_async._cli._jsonl import JsonlWriter
from hiobuy_async.testing import FakeHiobuy, Fault

pytestmark = pytest.mark.anyio

IMAGES = FakeHiobuy.sample_images()[:6]
UNFETCHABLE = "https://img.example.com/unfetchable.jpg"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeHiobuy:
    """The fake every `--demo` run of the test uses, so faults can be set on it."""
    shared = FakeHiobuy()
    monkeypatch.setattr(_commands, "_make_fake", lambda uuid=None: shared)
    return shared


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def by_line(path: Path) -> dict[int, dict[str, Any]]:
    return {r["line"]: r for r in records(path)}


def run_of(path: Path) -> dict[str, Any]:
    """The run file beside an output: what it was made from."""
    run: dict[str, Any] = json.loads(Path(f"{path}.run.json").read_text(encoding="utf-8"))
    return run


def write_inputs(path: Path, lines: list[str]) -> None:
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


async def test_lines_record_line_number_platform_and_language(
    fake: FakeHiobuy, tmp_path: Path
) -> None:
    source = ["# images", IMAGES[0], "", "  " + IMAGES[1], "#x", UNFETCHABLE]
    write_inputs(tmp_path / "in.txt", source)
    out = tmp_path / "out.jsonl"

    code, _, _ = await cli(
        "search-many", str(tmp_path / "in.txt"), "--demo", "-p", "taobao", "-l", "vi_VN",
        "-o", str(out),
    )  # fmt: skip

    assert code == ExitCode.FAILED
    lines, header = records(out), run_of(out)
    assert header["command"] == "search-many"
    assert header["input"]["path"] == str(tmp_path / "in.txt")
    assert header["options"]["platform"] == "taobao"
    assert {r["line"] for r in lines} == {2, 4, 6}
    for record in lines:
        # `sed -n {line}p` finds the input of each line.
        assert source[record["line"] - 1].strip() == record["img"]
        assert (record["platform"], record["language"]) == ("taobao", "vi_VN")


async def test_interrupted_run_resumes_each_input_exactly_once(
    fake: FakeHiobuy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_inputs(tmp_path / "in.txt", IMAGES)
    out = tmp_path / "out.jsonl"
    argv = ("search-many", str(tmp_path / "in.txt"), "--demo", "-c", "1", "-o", str(out))
    fake.fail_matching(subject=IMAGES[3], fault=Fault.stall(60), times=1)
    four_written = anyio.Event()

    class Writer(JsonlWriter):
        written = 0

        def write(self, record: Mapping[str, Any]) -> None:
            super().write(record)
            Writer.written += 1
            if Writer.written == 3:
                four_written.set()

    monkeypatch.setattr(_commands, "JsonlWriter", Writer)

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(cli, *argv)
            # The three lines before the stalled input: interrupt.
            await four_written.wait()
            tg.cancel_scope.cancel()
    monkeypatch.undo()
    monkeypatch.setattr(_commands, "_make_fake", lambda uuid=None: fake)
    # Line 4 was stalled (or not yet sent): with one worker, nothing after it ran.
    assert [r["line"] for r in records(out)] == [1, 2, 3]
    fake.clear()  # the stall, unused if the interrupt came before line 4 was sent

    code, _, err = await cli(*argv, "--resume")

    assert code == ExitCode.OK, err
    assert "3 skipped" in err
    assert sorted(r["line"] for r in records(out)) == [1, 2, 3, 4, 5, 6]


async def test_truncated_last_line_is_dropped_and_redone(fake: FakeHiobuy, tmp_path: Path) -> None:
    write_inputs(tmp_path / "in.txt", IMAGES)
    out = tmp_path / "out.jsonl"
    argv = ("search-many", str(tmp_path / "in.txt"), "--demo", "-o", str(out))
    assert (await cli(*argv))[0] == ExitCode.OK
    full = out.read_text(encoding="utf-8").splitlines(keepends=True)
    out.write_text("".join(full[:3]) + full[3][:50], encoding="utf-8")  # killed mid-write

    code, _, err = await cli(*argv, "--resume")

    assert code == ExitCode.OK, err
    assert "3 skipped" in err
    resumed = records(out)  # every line parses: the torn one is gone
    assert resumed[:3] == [json.loads(line) for line in full[:3]]
    assert by_line(out) == {json.loads(x)["line"]: json.loads(x) for x in full}


async def test_resume_refuses_an_input_with_an_inserted_line(
    fake: FakeHiobuy, tmp_path: Path
) -> None:
    write_inputs(tmp_path / "in.txt", IMAGES[:3])
    out = tmp_path / "out.jsonl"
    argv = ("search-many", str(tmp_path / "in.txt"), "--demo", "-o", str(out))
    assert (await cli(*argv))[0] == ExitCode.OK
    before = out.read_bytes()
    write_inputs(tmp_path / "in.txt", [IMAGES[5], *IMAGES[:3]])

    with pytest.raises(CliError) as info:
        await cli(*argv, "--resume")

    assert info.value.code == ExitCode.USAGE
    assert "another input" in info.value.message
    assert "--force" in info.value.message
    assert "\n" not in info.value.message
    assert out.read_bytes() == before

    # --force resumes anyway; every line moved, so every input is searched again.
    code, _, err = await cli(*argv, "--resume", "--force")
    assert code == ExitCode.OK, err
    assert {r["line"]: r["img"] for r in records(out)[3:]} == dict(
        enumerate([IMAGES[5], *IMAGES[:3]], 1)
    )


async def test_resume_continues_an_input_that_only_grew(fake: FakeHiobuy, tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("\n".join(IMAGES[:2]), encoding="utf-8")  # no final newline
    out = tmp_path / "out.jsonl"
    argv = ("search-many", str(tmp_path / "in.txt"), "--demo", "-o", str(out))
    assert (await cli(*argv))[0] == ExitCode.OK
    write_inputs(tmp_path / "in.txt", IMAGES[:4])

    code, _, err = await cli(*argv, "--resume")

    assert code == ExitCode.OK, err
    assert "2 skipped" in err
    assert sorted(r["line"] for r in records(out)) == [1, 2, 3, 4]


async def test_resume_refuses_a_last_line_that_was_lengthened(
    fake: FakeHiobuy, tmp_path: Path
) -> None:
    (tmp_path / "in.txt").write_text(IMAGES[0], encoding="utf-8")
    out = tmp_path / "out.jsonl"
    argv = ("search-many", str(tmp_path / "in.txt"), "--demo", "-o", str(out))
    assert (await cli(*argv))[0] == ExitCode.OK
    (tmp_path / "in.txt").write_text(IMAGES[0] + "?v=2\n", encoding="utf-8")

    with pytest.raises(CliError, match="another input"):
        await cli(*argv, "--resume")


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        (("-p", "taobao"), '--platform was "1688", now "taobao"'),
        (("-l", "ja"), '--language was "en_US", now "ja"'),
        (("--filter", "certifiedFactory"), "--filters was none"),
    ],
    ids=["platform", "language", "filter"],
)
async def test_resume_refuses_changed_options(
    fake: FakeHiobuy, tmp_path: Path, changed: tuple[str, str], expected: str
) -> None:
    write_inputs(tmp_path / "in.txt", IMAGES[:2])
    out = tmp_path / "out.jsonl"
    argv = ("search-many", str(tmp_path / "in.txt"), "--demo", "-o", str(out))
    assert (await cli(*argv))[0] == ExitCode.OK
    before = out.read_bytes()

    with pytest.raises(CliError) as info:
        await cli(*argv, *changed, "--resume")

    assert expected in info.value.message
    assert out.read_bytes() == before


async def test_resume_refuses_a_file_without_run_file(fake: FakeHiobuy, tmp_path: Path) -> None:
    write_inputs(tmp_path / "in.txt", IMAGES[:2])
    out = tmp_path / "out.jsonl"
    out.write_text(json.dumps({"index": 0, "img": IMAGES[0], "ok": True}) + "\n", "utf-8")

    with pytest.raises(CliError, match=r"no run file \(out.jsonl.run.json\)"):
        await cli("search-many", str(tmp_path / "in.txt"), "--demo", "-o", str(out), "--resume")


async def test_existing_output_needs_overwrite(fake: FakeHiobuy, tmp_path: Path) -> None:
    write_inputs(tmp_path / "in.txt", IMAGES[:2])
    out = tmp_path / "out.jsonl"
    argv = ("search-many", str(tmp_path / "in.txt"), "--demo", "-o", str(out))
    assert (await cli(*argv))[0] == ExitCode.OK
    before = out.read_bytes()

    with pytest.raises(CliError, match="--overwrite to replace it"):
        await cli(*argv)
    assert out.read_bytes() == before

    assert (await cli(*argv, "--overwrite"))[0] == ExitCode.OK
    assert len(records(out)) == 2  # replaced: one line per input


async def test_exit_code_is_1_while_failures_remain_and_retry_failed_reruns_them(
    fake: FakeHiobuy, tmp_path: Path
) -> None:
    write_inputs(tmp_path / "in.txt", [*IMAGES[:2], UNFETCHABLE])
    out = tmp_path / "out.jsonl"
    argv = ("search-many", str(tmp_path / "in.txt"), "--demo", "--max-retries", "0")
    fake.fail_matching(subject=IMAGES[1], fault=Fault.status(503), times=1)

    assert (await cli(*argv, "-o", str(out)))[0] == ExitCode.FAILED
    # Nothing left to run, but failures remain in the file: still 1.
    code, _, err = await cli(*argv, "-o", str(out), "--resume")
    assert code == ExitCode.FAILED
    assert "2 failed in" in err

    code, _, err = await cli(*argv, "-o", str(out), "--retry-failed")

    assert code == ExitCode.FAILED  # the unfetchable image fails again, as it should
    assert "2 done: 1 ok, 1 failed" in err
    last = by_line(out)
    assert [last[n]["ok"] for n in (1, 2, 3)] == [True, True, False]
    assert len(records(out)) == 3 + 2  # the retries appended, nothing rewritten


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (("--resume",), "--resume needs --output"),
        (("-o", "x.jsonl", "--resume", "--overwrite"), "choose one"),
        (("-o", "x.jsonl", "--force"), "--force only applies"),
    ],
)
async def test_output_flag_combinations_are_usage_errors(
    fake: FakeHiobuy, extra: tuple[str, ...], expected: str
) -> None:
    with pytest.raises(CliError, match=expected):
        await cli("search-many", "--demo", *extra)


async def _ids(platform: str, n: int) -> list[str]:
    code, out, _ = await cli("image-search", "--demo", "-p", platform, "--json")
    assert code == ExitCode.OK
    return [str(p["num_iid"]) for p in json.loads(out)["products"][:n]]


async def test_details_many_writes_line_product_platform_and_details(
    fake: FakeHiobuy, tmp_path: Path
) -> None:
    ids = await _ids("1688", 3)
    _, out_text, _ = await cli("image-search", "--demo", "-p", "taobao", "--json")
    taobao_url = json.loads(out_text)["products"][0]["detail_url"]
    unknown = str(FakeHiobuy.unknown_product_id())
    source = ["# products", ids[0], ids[1], "", taobao_url, unknown, ids[2]]
    write_inputs(tmp_path / "ids.txt", source)
    out = tmp_path / "details.jsonl"
    argv = ("details-many", str(tmp_path / "ids.txt"), "--demo", "-p", "1688", "-o", str(out))

    code, _, err = await cli(*argv)

    # -p is for bare ids: the Taobao URL keeps its own platform. The unknown id fails.
    assert code == ExitCode.FAILED, err
    lines, header = records(out), run_of(out)
    assert header["command"] == "details-many"
    assert header["options"]["platform"] == "1688"
    last = {r["line"]: r for r in lines}
    assert sorted(last) == [2, 3, 5, 6, 7]
    for number, record in last.items():
        assert record["product"] == source[number - 1]
        assert record["language"] == "en_US"
    for number in (2, 3, 7):
        assert last[number]["ok"] is True
        assert last[number]["platform"] == "1688"
        assert str(last[number]["details"]["num_iid"]) == source[number - 1]
        assert last[number]["details"]["skus"]
    assert (last[5]["ok"], last[5]["platform"]) == (True, "taobao")
    assert (last[6]["ok"], last[6]["error"]["type"]) == (False, "APIError")

    # Another platform cannot resume this file; the same one retries the failures.
    with pytest.raises(CliError, match='--platform was "1688", now "taobao"'):
        await cli(*argv[:-4], "-p", "taobao", "-o", str(out), "--retry-failed")
    code, _, err = await cli(*argv, "--retry-failed")
    assert code == ExitCode.FAILED
    assert "1 done: 0 ok, 1 failed" in err
    assert "4 skipped" in err


async def test_details_many_infers_platforms_from_urls(fake: FakeHiobuy, tmp_path: Path) -> None:
    _, out_text, _ = await cli("image-search", "--demo", "-p", "taobao", "--json")
    urls = [p["detail_url"] for p in json.loads(out_text)["products"][:2]]
    write_inputs(tmp_path / "urls.txt", urls)
    out = tmp_path / "details.jsonl"

    code, _, err = await cli("details-many", str(tmp_path / "urls.txt"), "--demo", "-o", str(out))

    assert code == ExitCode.OK, err
    assert sorted((r["line"], r["platform"]) for r in records(out)) == [
        (1, "taobao"),
        (2, "taobao"),
    ]
