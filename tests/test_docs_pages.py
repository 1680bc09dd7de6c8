"""The documentation's shell commands run, and its tables match the code.

(Its Python blocks are linted and run by `test_docs.py`.)

- Every `$ command` of a ```console block runs and exits as the page says
  (0, or `# exit code N` at the end of the line), without credentials, unless
  the block is marked not-tested.
- The tables of locales and exit codes say what the code says.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

from hiobuy_async import LOCALES, Marketplace
from hiobuy_async._cli._args import ExitCode

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PYTHON_LANGUAGES = {"python", "py", "python3", "pycon", "py3"}
NOT_TESTED = re.compile(r"^<!--\s*not-tested:\s*\S.*-->$")
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)")
EXIT_CODE = re.compile(r"#\s*exit code (\d+)\s*$")


@attrs.frozen
class Block:
    page: str
    line: int
    lang: str
    lines: tuple[str, ...]
    marked_not_tested: bool


def _pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def _blocks(page: Path) -> list[Block]:
    blocks: list[Block] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    previous = ""
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if match is None:
            if lines[i].strip():
                previous = lines[i].strip()
            i += 1
            continue
        fence, indent = match["fence"], match["indent"]
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and not (
            lines[i].startswith(indent) and lines[i].strip().startswith(fence)
        ):
            body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
            i += 1
        blocks.append(
            Block(
                page=str(page.relative_to(ROOT)),
                line=start + 1,
                lang=match["lang"].lower(),
                lines=tuple(body),
                marked_not_tested=bool(NOT_TESTED.match(previous)),
            )
        )
        previous = ""
        i += 1
    return blocks


ALL_BLOCKS = [block for page in _pages() for block in _blocks(page)]


def test_the_pages_are_found() -> None:
    names = {p.name for p in _pages()}
    assert {"getting-started.md", "bulk.md", "testing.md", "web-apps.md", "trio.md"} <= names
    assert any(block.lang == "console" for block in ALL_BLOCKS)


def test_python_blocks_are_not_marked_with_comments() -> None:
    # Python blocks say how they run in their info string (test_docs.py); a comment would not.
    marked = [b for b in ALL_BLOCKS if b.lang in PYTHON_LANGUAGES and b.marked_not_tested]
    assert marked == []


def test_marker_precedes_a_block() -> None:
    # A not-tested marker must sit right before a fence, or it excuses nothing.
    for page in _pages():
        lines = page.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            if NOT_TESTED.match(line.strip()):
                following = lines[number + 1] if number + 1 < len(lines) else ""
                assert FENCE.match(following), f"{page.name}:{number + 1}: marker without a fence"


def test_locale_table_matches_the_code() -> None:
    text = (DOCS / "marketplaces.md").read_text(encoding="utf-8")
    documented = {}
    for marketplace in Marketplace:
        row = re.search(rf"^\|[^|]*\| `{marketplace.value}` \|.*$", text, re.MULTILINE)
        assert row is not None, marketplace
        locales_cell = row.group(0).strip("|").split("|")[-1]
        documented[marketplace] = tuple(re.findall(r"`([^`]+)`", locales_cell))
    assert documented == LOCALES


def test_exit_code_table_matches_the_code() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    table = text.split("## Errors and exit codes", 1)[1]
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", table, re.MULTILINE)}
    assert documented == {int(code) for code in ExitCode}


CONSOLE_BLOCKS = [
    block for block in ALL_BLOCKS if block.lang == "console" and not block.marked_not_tested
]


def test_console_blocks_that_need_credentials_or_network_are_marked() -> None:
    for block in CONSOLE_BLOCKS:
        for line in block.lines:
            if line.startswith("$ "):
                command = line[2:]
                assert not command.startswith(("pip ", "export ")), f"{block.page}:{block.line}"
                if command.startswith("hiobuy-async ") and "--demo" not in command:
                    # `cache` reads a local file: no credentials, no network.
                    offline = ("demo", "--help", "cache")
                    assert shlex.split(command, comments=True)[1] in offline, (
                        f"{block.page}:{block.line}: {command!r} needs --demo or a marker"
                    )


@pytest.mark.parametrize(
    "page", sorted({block.page for block in CONSOLE_BLOCKS}), ids=lambda page: Path(page).stem
)
def test_console_commands_run(page: str, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "hiobuy-async"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m hiobuy_async "$@"\n')
    shim.chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("HIOBUY_UUID", "HIOBUY_BASE_URL")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["COLUMNS"] = "120"
    ran = 0
    for block in (b for b in CONSOLE_BLOCKS if b.page == page):
        for line in block.lines:
            if not line.startswith("$ "):
                continue
            command = line[2:]
            expected = EXIT_CODE.search(command)
            done = subprocess.run(
                ["/bin/sh", "-c", command],
                cwd=work,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            where = f"{block.page}:{block.line}: {command}"
            assert done.returncode == (int(expected[1]) if expected else 0), (
                f"{where}\n{done.stdout}\n{done.stderr}"
            )
            assert "Traceback" not in done.stderr, where
            ran += 1
    assert ran > 0
