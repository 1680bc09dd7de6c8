"""The testing kit's pytest plugin in a project that has pytest-asyncio installed.

Each test writes a small project and runs pytest on it in a subprocess, where
pytest-asyncio is loaded (it is installed for the test run: noxfile.py's
TEST_DEPS). This suite itself runs with `-p no:asyncio` (pyproject.toml), so
having pytest-asyncio installed changes nothing for it.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120

CONFTEST = """
import pytest

pytest_plugins = ["hiobuy_async.testing.pytest_plugin"]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    return request.param
"""

ANYIO_TEST = """
import asyncio

import pytest
import trio


@pytest.mark.anyio
async def test_anyio_on_both(hiobuy_client, fake_hiobuy, anyio_backend):
    result = await hiobuy_client.image_search(fake_hiobuy.sample_images()[0], platform="1688")
    assert len(result.items) == 20
    # It really runs on the backend it says.
    if anyio_backend == "trio":
        trio.lowlevel.current_task()
    else:
        asyncio.current_task()
"""

UNMARKED_TEST = """
async def test_unmarked(hiobuy_client, fake_hiobuy):
    result = await hiobuy_client.image_search(fake_hiobuy.sample_images()[0], platform="1688")
    assert len(result.items) == 20
"""


def docs_example() -> str:
    """The Python block of docs/testing.md's pytest-asyncio section."""
    page = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    section = page.split("## Projects that use pytest-asyncio", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python[^\n]*\n(.*?)```", section, re.DOTALL)
    assert match is not None
    return match.group(1)


def run_project(tmp_path: Path, mode: str, files: dict[str, str]) -> tuple[int, str]:
    assert importlib.util.find_spec("pytest_asyncio") is not None, (
        "pytest-asyncio must be installed for these tests (noxfile.py TEST_DEPS)"
    )
    (tmp_path / "pytest.ini").write_text(
        textwrap.dedent(f"""
            [pytest]
            asyncio_mode = {mode}
            asyncio_default_fixture_loop_scope = function
            filterwarnings = error
        """)
    )
    for name, text in files.items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", "-q"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def test_this_suite_runs_without_pytest_asyncio(pytestconfig: pytest.Config) -> None:
    assert not pytestconfig.pluginmanager.has_plugin("asyncio")


def test_strict_mode_runs_asyncio_and_anyio_tests_side_by_side(tmp_path: Path) -> None:
    code, out = run_project(
        tmp_path,
        "strict",
        {
            "conftest.py": CONFTEST,
            "test_docs_example.py": docs_example().replace("pytest_plugins = ", "_unused = "),
            "test_anyio.py": ANYIO_TEST,
        },
    )
    assert code == 0, out
    assert "3 passed" in out, out
    assert "PASSED test_docs_example.py::test_search_under_pytest_asyncio" in out
    assert "PASSED test_anyio.py::test_anyio_on_both[trio]" in out


def test_auto_mode_runs_unmarked_tests_and_refuses_to_run_trio_ones_on_asyncio(
    tmp_path: Path,
) -> None:
    code, out = run_project(
        tmp_path,
        "auto",
        {"conftest.py": CONFTEST, "test_unmarked.py": UNMARKED_TEST, "test_anyio.py": ANYIO_TEST},
    )
    assert code == 1, out
    assert "PASSED test_unmarked.py::test_unmarked" in out
    assert "PASSED test_anyio.py::test_anyio_on_both[asyncio]" in out
    assert "1 failed, 2 passed" in out, out
    assert "test_anyio_on_both[trio] is an anyio test on trio, but pytest-asyncio runs it" in out, (
        out
    )
    assert 'asyncio_mode = "strict"' in out


def test_an_unmarked_async_test_says_which_marker_to_add(tmp_path: Path) -> None:
    code, out = run_project(
        tmp_path,
        "strict",
        {"conftest.py": CONFTEST, "test_unmarked.py": UNMARKED_TEST, "test_anyio.py": ANYIO_TEST},
    )
    assert code == 1, out
    assert "1 failed, 2 passed" in out, out
    assert (
        "test_unmarked is an async test using the hiobuy_async fixtures, but no plugin runs it. "
        "Mark it @pytest.mark.anyio"
    ) in out
    assert "not natively supported" not in out
