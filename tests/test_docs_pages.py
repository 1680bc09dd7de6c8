"""The documentation pages hold no untested example, and their tables match the code.

- Every fenced Python block is a snippet include of a file under
  `docs/examples/` (which `test_docs_examples.py` runs), or is explicitly
  marked `<!-- not-tested: why -->` on the line before it.
- Every example file is shown on some page.
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
EXAMPLES_DIR = DOCS / "examples"
PYTHON_LANGUAGES = {"python", "py", "python3", "pycon", "py3"}
NOT_TESTED = re.compile(r"^<!--\s*not-tested:\s*\S.*-->$")
INCLUDE = re.compile(r"""^--8<--\s+["'](?P<path>[^"':]+)(?::[\w-]+)?["']$""")
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
    return sorted(p for p in DOCS.rglob("*.md") if EXAMPLES_DIR not in p.parents)


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


def _included_paths(block: Block) -> list[str] | None:
    """The files a block includes, or None if it holds anything but includes."""
    paths = []
    for line in block.lines:
        if not line.strip():
            continue
        match = INCLUDE.match(line.strip())
        if match is None:
            return None
        paths.append(match["path"])
    return paths or None


def test_the_pages_are_found() -> None:
    names = {p.name for p in _pages()}
    assert {"getting-started.md", "bulk.md", "testing.md", "web-apps.md", "trio.md"} <= names
    assert any(block.lang == "python" for block in ALL_BLOCKS)


def test_every_python_block_is_a_tested_example_or_marked() -> None:
    untested = []
    for block in ALL_BLOCKS:
        if block.lang not in PYTHON_LANGUAGES or block.marked_not_tested:
            continue
        paths = _included_paths(block)
        if paths is None or not all(
            (ROOT / path).is_file() and (ROOT / path).parent == EXAMPLES_DIR for path in paths
        ):
            untested.append(f"{block.page}:{block.line}")
    assert untested == [], (
        "Python blocks must include a docs/examples/*.py file (--8<-- ...) or be preceded "
        f"by <!-- not-tested: why -->: {untested}"
    )


def test_every_example_is_shown_on_a_page() -> None:
    shown = {
        Path(path).name
        for block in ALL_BLOCKS
        for path in (_included_paths(block) or [])
        if block.lang in PYTHON_LANGUAGES
    }
    examples = {p.name for p in EXAMPLES_DIR.glob("*.py")}
    assert examples - shown == set()


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
                    assert shlex.split(command, comments=True)[1] in ("demo", "--help"), (
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
