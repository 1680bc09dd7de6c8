"""`--cache PATH` on the read commands, and `cache stats PATH` / `cache clear PATH`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import anyio.from_thread
import pytest

from hiobuy_async._cli import main
from hiobuy_async._cli._args import CliError, ExitCode
from hiobuy_async.testing import FakeHiobuy

BACKENDS = pytest.mark.parametrize("backend", ["asyncio", "trio"])


@pytest.fixture
def served() -> Iterator[tuple[FakeHiobuy, str]]:
    """A FakeHiobuy served on 127.0.0.1 from another thread (`main()` runs its own loop)."""
    fake = FakeHiobuy()
    with (
        anyio.from_thread.start_blocking_portal() as portal,
        portal.wrap_async_context_manager(fake.serve()) as base_url,
    ):
        yield fake, base_url


def run(capsys: pytest.CaptureFixture[str], base_url: str, *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--uuid", FakeHiobuy.DEFAULT_UUID, "--base-url", base_url])
    out, err = capsys.readouterr()
    return code, out, err


def plain(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@BACKENDS
def test_cli_cache_answers_a_second_run_without_requests(
    served: tuple[FakeHiobuy, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    backend: str,
) -> None:
    fake, base_url = served
    cache = str(tmp_path / "cache.db")
    images = tmp_path / "images.txt"
    images.write_text("".join(f"https://cdn.test/cli/{n}.jpg\n" for n in range(5)))
    commands = [
        ["search-many", str(images), "-p", "1688"],
        ["details", "642895393547", "-p", "1688", "--json"],
        ["keyword-search", "desk lamp", "-p", "1688", "--json"],
        ["image-search", "https://cdn.test/cli/0.jpg", "-p", "1688", "--json"],
    ]
    first = []
    for argv in commands:
        code, out, err = run(capsys, base_url, *argv, "--cache", cache, "--backend", backend)
        assert code == ExitCode.OK, err
        first.append(out)
    sent = len(fake.requests)
    assert sent == 7  # 5 images, details, one page; the image searched again is a hit
    for argv, out in zip(commands, first, strict=True):
        code, again, err = run(capsys, base_url, *argv, "--cache", cache, "--backend", backend)
        assert code == ExitCode.OK, err
        # The same output, from the cache (search-many writes lines as results arrive).
        assert sorted(again.splitlines()) == sorted(out.splitlines())
    assert len(fake.requests) == sent

    code, out, err = plain(["cache", "stats", cache], capsys)
    assert code == ExitCode.OK, err
    assert out.startswith(f"{cache}: 7 entries, ")
    code, out, _ = plain(["cache", "clear", cache], capsys)
    assert (code, out.strip()) == (ExitCode.OK, f"{cache}: 7 entries dropped")
    code, out, _ = plain(["cache", "stats", cache], capsys)
    assert out.startswith(f"{cache}: 0 entries")
    details = json.loads(first[1])
    assert "from_cache" not in details
    assert "cached_at" not in details


def test_cli_cache_commands_refuse_a_missing_or_unusable_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "missing.db")
    code, _, err = plain(["cache", "stats", missing], capsys)
    assert code != ExitCode.OK
    assert "no cache file" in err
    assert not Path(missing).exists()
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 300)
    code, _, err = plain(["cache", "clear", str(garbage)], capsys)
    assert code != ExitCode.OK
    assert "not a usable cache file" in err


def test_cli_cache_is_offered_on_every_read_command_only() -> None:
    from hiobuy_async._cli._args import build_parser  # noqa: PLC0415

    parser = build_parser()
    for command in ("image-search", "keyword-search", "details", "search-many", "details-many"):
        assert parser.parse_args([command, "x", "--cache", "c.db"]).cache == "c.db"
    for command in ("preview-order", "create-order"):
        with pytest.raises(CliError, match="--cache"):
            parser.parse_args([command, "x", "--cache", "c.db"])
