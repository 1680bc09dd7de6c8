"""Every Python block of the docs and the README is linted and run, against the fake HioBuy.

pytest-examples finds the fenced ```python blocks and lints them (black and
ruff); how a block runs is said in its info string, which GitHub and mkdocs
do not show (see docs/contributing.md, "Code blocks in the docs"):

- ```` ```python ````: a complete program. If it defines `async def main()`,
  the test runs `main` on asyncio and on trio with `HIOBUY_UUID` and
  `HIOBUY_BASE_URL` pointing at a fresh `FakeHiobuy().serve()`; a program
  without `main` runs as is, once.
- `backend="trio"`: `main` runs on trio only (the block uses trio's own API).
- `test="fragment"`: statements run after the prelude (`PRELUDE`): `client`
  is an open `AsyncHiobuy()` on the served fake, `fake` is that fake.
  Top-level `await` is allowed.
- `title="name.py"`: the block is that file; every such file is written into
  the directory the blocks run from, so other blocks can import it.
- `test="pytest"`: a test file (with a `title`), run by pytest in a fresh
  process; every test in it must pass on both backends, none skipped.
- `test="skip" reason="..."`: linted, not run (it needs a real account, say).

Lines `#> text` under a block's `print` calls are its output: what the block
prints must be exactly those lines, in order (`...` in one matches anything).
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from pytest_examples import CodeExample, EvalExample, find_examples

from hiobuy_async import AsyncHiobuy
from hiobuy_async.testing import FakeHiobuy

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "docs"]
MODES = {"run", "fragment", "pytest", "skip"}
BACKENDS = ("asyncio", "trio")
OUTPUT_LINE = re.compile(r"^\s*#>(?: (?P<text>.*))?$")

PRELUDE = """\
from hiobuy_async import AsyncHiobuy
from hiobuy_async.testing import FakeHiobuy

fake = FakeHiobuy()
client = AsyncHiobuy()
"""
"""What a fragment may use without importing it (for ruff; the test binds the same names)."""
FRAGMENT_RUFF_IGNORE = ["E402", "F704", "PLE1142"]  # imports after the prelude, top-level await


def _all_examples() -> list[CodeExample]:
    examples = [example for source in SOURCES for example in find_examples(source)]
    return sorted(examples, key=lambda example: (str(example.path), example.start_line))


EXAMPLES = _all_examples()


def _id(example: CodeExample) -> str:
    return f"{example.path.relative_to(ROOT)}:{example.start_line}"


def _mode(example: CodeExample) -> str:
    return example.prefix_settings().get("test", "run")


def _title(example: CodeExample) -> str | None:
    return example.prefix_settings().get("title")


def _defines_main(example: CodeExample) -> bool:
    tree = ast.parse(example.source)
    return any(isinstance(node, ast.AsyncFunctionDef) and node.name == "main" for node in tree.body)


def _backends(example: CodeExample) -> tuple[str, ...]:
    backend = example.prefix_settings().get("backend")
    return (backend,) if backend else BACKENDS


def _expected_output(example: CodeExample) -> list[str]:
    return [
        match["text"] or ""
        for line in example.source.splitlines()
        if (match := OUTPUT_LINE.match(line))
    ]


def _assert_output(example: CodeExample, printed: str) -> None:
    expected = _expected_output(example)
    if not expected:
        return
    lines = printed.splitlines()
    patterns = [re.compile(".*".join(map(re.escape, line.split("...")))) for line in expected]
    mismatch = len(lines) != len(patterns) or not all(
        pattern.fullmatch(line) for pattern, line in zip(patterns, lines, strict=False)
    )
    assert not mismatch, f"{_id(example)} printed:\n{printed}\nbut the page shows:\n" + "\n".join(
        expected
    )


@pytest.fixture
def files_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory holding every `title="x.py"` block, importable, as the working directory."""
    directory = tmp_path / "files"
    directory.mkdir()
    for example in EXAMPLES:
        title = _title(example)
        if title is not None:
            (directory / title).write_text(example.source, encoding="utf-8")
    monkeypatch.syspath_prepend(str(directory))
    monkeypatch.chdir(directory)
    return directory


@pytest.fixture
def eval_ruff(eval_example: EvalExample, monkeypatch: pytest.MonkeyPatch) -> EvalExample:
    """pytest-examples with the project's rules; black bounds lines, `#>` output may run over."""
    monkeypatch.setenv("RUFF_OUTPUT_FORMAT", "concise")  # pytest-examples maps its line numbers
    eval_example.set_config(
        line_length=100,
        quotes="double",
        target_version="py310",
        ruff_ignore=["D", "S", "T20", "INP001"],
    )
    return eval_example


@contextlib.asynccontextmanager
async def _served(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeHiobuy]:
    """A fresh fake served on 127.0.0.1, named by the environment `AsyncHiobuy()` reads."""
    fake = FakeHiobuy()
    async with fake.serve() as base_url:
        monkeypatch.setenv("HIOBUY_UUID", FakeHiobuy.DEFAULT_UUID)
        monkeypatch.setenv("HIOBUY_BASE_URL", base_url)
        yield fake


def _run_module(
    example: CodeExample, eval_example: EvalExample, monkeypatch: pytest.MonkeyPatch, name: str
) -> dict[str, Any]:
    # pytest-examples runs a block as `__main__`; keep pytest's own for the rest of the run.
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])
    return eval_example.run(example, module_globals={"__name__": name})


# --- What the blocks are -------------------------------------------------------------------


def test_the_blocks_are_found() -> None:
    pages = {example.path.name for example in EXAMPLES}
    assert {"README.md", "getting-started.md", "keyword-search.md", "testing.md"} <= pages
    assert {_mode(example) for example in EXAMPLES} == MODES


@pytest.mark.parametrize("example", EXAMPLES, ids=_id)
def test_block_says_how_it_runs(example: CodeExample) -> None:
    settings = example.prefix_settings()
    assert example.prefix.split()[0] == "python", "write ```python, as GitHub highlights it"
    assert _mode(example) in MODES
    if _mode(example) == "skip":
        assert settings.get("reason"), "a block that does not run says why: reason=..."
    if _mode(example) == "pytest":
        assert (_title(example) or "").startswith("test_")
    if _mode(example) == "run" and _title(example) is None and "async def" in example.source:
        assert _defines_main(example), "an async program defines `async def main()`"
    assert settings.get("backend") in (None, *BACKENDS)


def test_titles_are_unique() -> None:
    titles = [title for example in EXAMPLES if (title := _title(example)) is not None]
    assert len(titles) == len(set(titles))


@pytest.mark.parametrize("example", EXAMPLES, ids=_id)
def test_block_is_linted(example: CodeExample, eval_ruff: EvalExample) -> None:
    if _mode(example) != "fragment":
        eval_ruff.lint(example)
        return
    eval_ruff.lint_black(example)
    eval_ruff.config.ruff_ignore = [*(eval_ruff.config.ruff_ignore or []), *FRAGMENT_RUFF_IGNORE]
    prelude_lines = PRELUDE.count("\n") + 1
    with_prelude = CodeExample.create(
        PRELUDE + "\n" + example.source,
        path=example.path,
        start_line=example.start_line - prelude_lines,
    )
    eval_ruff.lint_ruff(with_prelude)


# --- Running them ----------------------------------------------------------------------------

ASYNC_PROGRAMS = [
    pytest.param(example, backend, id=f"{_id(example)}-{backend}")
    for example in EXAMPLES
    if _mode(example) == "run" and _defines_main(example)
    for backend in _backends(example)
]
SYNC_PROGRAMS = [
    example for example in EXAMPLES if _mode(example) == "run" and not _defines_main(example)
]
FRAGMENTS = [
    pytest.param(example, backend, id=f"{_id(example)}-{backend}")
    for example in EXAMPLES
    if _mode(example) == "fragment"
    for backend in _backends(example)
]
TEST_FILES = [example for example in EXAMPLES if _mode(example) == "pytest"]


@pytest.mark.anyio
@pytest.mark.parametrize(("example", "anyio_backend"), ASYNC_PROGRAMS)
async def test_program_runs(
    example: CodeExample,
    files_dir: Path,
    eval_example: EvalExample,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    module = _run_module(example, eval_example, monkeypatch, "docs_example")
    async with _served(monkeypatch):
        await module["main"]()

    _assert_output(example, capsys.readouterr().out)


@pytest.mark.parametrize("example", SYNC_PROGRAMS, ids=_id)
def test_sync_program_runs(
    example: CodeExample,
    files_dir: Path,
    eval_example: EvalExample,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _run_module(example, eval_example, monkeypatch, "__main__")

    _assert_output(example, capsys.readouterr().out)


@pytest.mark.anyio
@pytest.mark.parametrize(("example", "anyio_backend"), FRAGMENTS)
async def test_fragment_runs(
    example: CodeExample,
    files_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Padding puts the block's lines at their line numbers in the page, for tracebacks.
    source = "\n" * example.start_line + example.source
    code = compile(source, str(example.path), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    async with _served(monkeypatch) as fake, AsyncHiobuy() as client:
        namespace = {"__name__": "docs_fragment", "fake": fake, "client": client}
        namespace |= {"AsyncHiobuy": AsyncHiobuy, "FakeHiobuy": FakeHiobuy}
        result = eval(code, namespace)
        if inspect.iscoroutine(result):
            await result

    _assert_output(example, capsys.readouterr().out)


# What a newcomer copies first, run exactly as they would: `python first.py` in a shell where
# `hiobuy-async fake-server`'s two exports were pasted.
AS_SCRIPTS = [
    example
    for example in EXAMPLES
    if example.path.name in ("README.md", "getting-started.md")
    and _mode(example) == "run"
    and _defines_main(example)
]


@pytest.mark.anyio
@pytest.mark.parametrize("example", AS_SCRIPTS, ids=_id)
async def test_program_runs_as_a_script(example: CodeExample, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(example.source, encoding="utf-8")
    fake = FakeHiobuy()
    async with fake.serve() as base_url:
        env = _clean_env() | {"HIOBUY_UUID": FakeHiobuy.DEFAULT_UUID, "HIOBUY_BASE_URL": base_url}
        done = await anyio.run_process(
            [sys.executable, str(script)], cwd=tmp_path, env=env, check=False
        )

    assert done.returncode == 0, done.stderr.decode()
    assert done.stderr == b""
    _assert_output(example, done.stdout.decode())


def _clean_env(*paths: Path) -> dict[str, str]:
    """The environment of a newcomer: no credentials, no base URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HIOBUY_")}
    env["HIOBUY_TRANSPORT"] = os.environ.get("HIOBUY_TRANSPORT", "httpx")
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [*map(str, paths), str(ROOT), os.environ.get("PYTHONPATH")])
    )
    return env


@pytest.mark.parametrize("example", TEST_FILES, ids=_id)
def test_test_file_passes(example: CodeExample, files_dir: Path) -> None:
    title = _title(example)
    assert title is not None
    done = subprocess.run(
        # pytest-asyncio (a test dependency, for test_pytest_asyncio.py) stays
        # out, as in this project's own runs: these files are anyio's.
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "-p", "no:asyncio", title],
        cwd=files_dir,
        env=_clean_env(files_dir),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    tests = [
        node
        for node in ast.parse(example.source).body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    ]
    for test in tests:
        backends = BACKENDS if isinstance(test, ast.AsyncFunctionDef) else ("",)
        for backend in backends:
            param = f"[{backend}]" if backend else ""
            assert f"::{test.name}{param} PASSED" in output, f"{test.name}{param}\n{output}"
    assert "skipped" not in output
    assert "warning" not in output.lower()


# --- The pages read as Markdown ------------------------------------------------------------

PAGES = sorted([ROOT / "README.md", ROOT / "CONTRIBUTING.md", *(ROOT / "docs").rglob("*.md")])
FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
AUTOREF = re.compile(r"\]\[[\w.]+\]")  # mkdocs-autorefs' [text][hiobuy_async.Name]


def _prose(page: Path) -> Iterator[tuple[int, str]]:
    """The lines of a page outside its code blocks, with their numbers."""
    fence: str | None = None
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        match = FENCE.match(line)
        if match and (fence is None or match[1].startswith(fence)):
            fence = match[1] if fence is None else None
            continue
        if fence is None:
            yield number, line


# Pages whose prose another engineer owns right now (only their code blocks were converted):
# the test is expected to fail on them until their cross-references are plain links.
PROSE_PENDING: dict[str, str] = {}


def _page_param(page: Path) -> Any:
    owner = PROSE_PENDING.get(page.name) if page.parent.name == "docs" else None
    marks = [pytest.mark.xfail(strict=True, reason=f"prose of {owner}")] if owner else []
    return pytest.param(page, marks=marks, id=str(page.relative_to(ROOT)))


@pytest.mark.parametrize("page", [_page_param(page) for page in PAGES])
def test_page_reads_as_markdown(page: Path) -> None:
    # What GitHub shows verbatim: snippet includes, autorefs links, definition lists.
    unreadable = [
        f"{page.name}:{number}: {line}"
        for number, line in _prose(page)
        if "--8<--" in line or AUTOREF.search(line) or line.startswith(":   ")
    ]
    assert unreadable == []


def test_no_example_files_left_unshown() -> None:
    # Examples live in the pages; a separate file would be one nobody reads or tests.
    assert not (ROOT / "docs" / "examples").exists()


LINK = re.compile(r"\]\((?P<target>[^)\s#]*)#(?P<anchor>[^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(?P<text>.+?)\s*#*\s*$")


def _github_slug(heading: str) -> str:
    """The anchor GitHub (and mkdocs' toc) gives a Markdown heading."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    return {_github_slug(m["text"]) for _, line in _prose(page) if (m := HEADING.match(line))}


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_links_point_to_anchors_the_markdown_has(page: Path) -> None:
    # Read on the repository, a link to an anchor only the built site has
    # (`reference/errors.md#hiobuy_async.InputError`) lands at the top of the page.
    broken = []
    for number, line in _prose(page):
        for link in LINK.finditer(line):
            if link["target"].startswith(("http://", "https://")):
                continue
            target = (page.parent / link["target"]).resolve() if link["target"] else page
            if target.suffix == ".md" and link["anchor"] not in _anchors(target):
                broken.append(f"{page.name}:{number}: {link[0]}")
    assert broken == []


@pytest.mark.parametrize(
    "page", sorted((ROOT / "docs" / "reference").glob("*.md")), ids=lambda page: page.stem
)
def test_reference_pages_read_as_markdown(page: Path) -> None:
    # Each mkdocstrings directive (blank on GitHub) sits under a heading, and
    # the page's summary table links to that heading with a line of prose.
    lines = [line for _, line in _prose(page)]
    directives = [n for n, line in enumerate(lines) if line.startswith("::: ")]
    assert directives
    for before, at in zip([-1, *directives], directives, strict=False):
        between = lines[before + 1 : at]
        assert any(HEADING.match(line) for line in between), f"{page.name}: {lines[at]} unnamed"
    rows = [line for line in lines if line.startswith("| [`")]
    named = {_github_slug(m["text"]) for line in lines if (m := HEADING.match(line))}
    linked = {link["anchor"] for row in rows for link in LINK.finditer(row)}
    assert linked <= named
    assert len(linked) >= len(directives) - 1  # every section but the fixtures' is in the table
