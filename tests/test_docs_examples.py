"""Every example the documentation shows runs, against the fake HioBuy, and says what it should.

The pages include the files under `docs/examples/` (pymdownx.snippets), so
what a reader copies is exactly what runs here: each example's `main()` on
asyncio and trio (trio-only examples under trio), each example as a script
in a fresh process without credentials, and the example pytest files under
pytest.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = ROOT / "docs" / "examples"

# What each example must print (every line must appear in its output).
EXPECTED: dict[str, list[str]] = {
    "first_search": ["20 products, request id fake-", "https://detail.1688.com/offer/"],
    "marketplaces_options": [
        "1688 with filters:",
        "1688 native fields:",
        "refused: language 'ja' is not supported on taobao",
        "refused: filters are supported on 1688 only",
        "refused: use_platform is supported on 1688 only",
        "refused: unknown platform 'amazon'",
        "refused: img must be an absolute http(s) URL",
        "requests sent: 3",
    ],
    "bulk_search_many": [
        "done: 6 ok, 2 failed, 0 retries",
        "4 ok 1688",
        "5 ok taobao",
        "6 failed APIError",
        "7 failed InputError",
    ],
    "bulk_stream": ["12 done, 0 failed", "12 lines written"],
    "errors_retries": [
        "one 503, then success: retried:\n  attempts: 2, products: 20",
        "server error 503",
        "three 503s: more than max_retries=2:\n  server error 503 request id fake-",
        "ret 0 msg image cannot be fetched\n  attempts: 1, products: 0",
        "timed out: request timed out",
        "rate limited; the server asked to wait 120.0 s\n  attempts: 1, products: 0",
        "a call after that: no request:\n  rate limited; the server asked to wait 1",
        "  attempts: 0, products: 0",
    ],
    "timeouts": [
        "deadline: image search did not finish within the 0.5s deadline",
        "cancelled by move_on_after: True",
        "next call: 20 products",
    ],
    "webapp_fastapi": [
        "200 {'id': ",
        "422 {'detail': 'image cannot be fetched'}",
        "closed at shutdown: True",
    ],
    "trio_crawler": ["nursery: [20, 20, 20]", "stream: 0 ", "stream: 4 "],
}
TRIO_ONLY = {"trio_crawler"}
# Example pytest files, and how many tests each must pass (each test runs on two backends).
EXAMPLE_TEST_FILES = {"test_with_fixtures": 10, "test_webapp": 8}


def _example_names() -> list[str]:
    return sorted(p.stem for p in EXAMPLES_DIR.glob("*.py") if not p.stem.startswith("test_"))


def _load(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(EXAMPLES_DIR))  # examples import one another
    spec = importlib.util.spec_from_file_location(
        f"docs_example_{name}", EXAMPLES_DIR / f"{name}.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _assert_printed(name: str, output: str) -> None:
    for expected in EXPECTED[name]:
        assert expected in output, f"{name}: {expected!r} not in output:\n{output}"


def _clean_env() -> dict[str, str]:
    """The environment of a newcomer: no credentials, no base URL."""
    env = {k: v for k, v in os.environ.items() if k not in ("HIOBUY_UUID", "HIOBUY_BASE_URL")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def test_every_example_is_checked() -> None:
    assert set(_example_names()) == set(EXPECTED)
    tests = {p.stem for p in EXAMPLES_DIR.glob("test_*.py")}
    assert tests == set(EXAMPLE_TEST_FILES)


@pytest.mark.anyio
@pytest.mark.parametrize("name", sorted(set(EXPECTED) - TRIO_ONLY))
async def test_example_main(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    module = _load(name, monkeypatch)

    await module.main()

    _assert_printed(name, capsys.readouterr().out)


@pytest.mark.parametrize("name", sorted(TRIO_ONLY))
def test_trio_example_main(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    trio = pytest.importorskip("trio")
    module = _load(name, monkeypatch)

    trio.run(module.main)

    _assert_printed(name, capsys.readouterr().out)


# The copy-and-run path of a newcomer (the others run in process above).
@pytest.mark.parametrize("name", ["first_search", "trio_crawler"])
def test_example_runs_as_a_script(name: str, tmp_path: Path) -> None:
    if name in TRIO_ONLY:
        pytest.importorskip("trio")
    done = subprocess.run(
        [sys.executable, str(EXAMPLES_DIR / f"{name}.py")],
        cwd=tmp_path,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    _assert_printed(name, done.stdout)


def test_example_test_files_pass() -> None:
    pytest.importorskip("trio")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-v",
            "-p",
            "no:cacheprovider",
            *(str(EXAMPLES_DIR / f"{name}.py") for name in sorted(EXAMPLE_TEST_FILES)),
        ],
        cwd=ROOT,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    for name, count in EXAMPLE_TEST_FILES.items():
        passed = len(re.findall(rf"{name}\.py::\S+ PASSED", done.stdout))
        assert passed == count, f"{name}: {passed} passed, expected {count}\n{done.stdout}"
    assert "skipped" not in done.stdout
    assert "warning" not in done.stdout.lower()
