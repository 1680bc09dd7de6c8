"""The README's first screen and examples say what is true."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
FIRST_SCREEN = "\n".join(README.splitlines()[:25])
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


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


def test_every_python_example_is_an_excerpt_of_a_tested_example_file() -> None:
    examples = [p.read_text(encoding="utf-8") for p in (ROOT / "docs" / "examples").glob("*.py")]
    blocks = PYTHON_BLOCK.findall(README)
    assert blocks
    for block in blocks:
        assert any(block in example for example in examples), block[:200]
