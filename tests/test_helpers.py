"""The tests' own helpers: one of each (tests/helpers.py), and engine lists from the SDK."""

from __future__ import annotations

import ast
import traceback
from pathlib import Path

import pytest
from helpers import ENGINES, exception_chain

from hiobuy_async._transport import TRANSPORT_KINDS

TESTS = Path(__file__).parent
SHARED = {"make_client", "mock_client", "chain", "full_chain", "shown_chain", "closed_port", "cli"}
"""Helpers tests used to copy (9, 6, 4, 5 and 3 times): defined in helpers.py only."""


def _modules() -> list[tuple[str, ast.Module]]:
    return [
        (path.name, ast.parse(path.read_text(encoding="utf-8")))
        for path in sorted(TESTS.glob("*.py"))
        if path.name != "helpers.py"
    ]


def test_the_engine_list_is_the_sdks() -> None:
    assert ENGINES == TRANSPORT_KINDS
    assert "httpx2" in ENGINES  # the default engine


def test_no_test_file_types_its_own_engine_list() -> None:
    # Three of eight typed lists left httpx2, the default engine, out: the
    # shared endpoint table never ran on it. A list naming aiohttp and another
    # engine (and nothing else) is an engine list, and comes from helpers.ENGINES.
    typed = []
    for name, module in _modules():
        for node in ast.walk(module):
            if isinstance(node, ast.List | ast.Tuple | ast.Set):
                values = [e.value if isinstance(e, ast.Constant) else None for e in node.elts]
                if "aiohttp" in values and len(values) > 1 and set(values) <= set(ENGINES):
                    typed.append(f"{name}:{node.lineno}")
    assert typed == []


def test_no_test_file_copies_a_shared_helper() -> None:
    copies = [
        f"{name}:{node.lineno} {node.name}"
        for name, module in _modules()
        for node in ast.walk(module)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and node.name in SHARED
        and not node.decorator_list  # a fixture of that name configures the shared one
    ]
    assert copies == []


def _raised() -> BaseException:
    try:
        try:
            try:
                raise KeyError("hidden")
            except KeyError:
                raise ValueError("cause") from None
        except ValueError as cause:
            raise RuntimeError("top") from cause
    except RuntimeError as top:
        return top


def test_the_shown_chain_is_what_a_traceback_prints() -> None:
    error = _raised()
    shown = [link for _, link in exception_chain(error, suppressed=False)]
    printed = "".join(traceback.format_exception(error))
    assert [str(link) for link in shown] == ["top", "cause"]
    assert all(str(link) in printed for link in shown)
    assert "hidden" not in printed


@pytest.mark.parametrize("suppressed", [True, False])
def test_the_chain_walks_what_a_debugger_can_reach(suppressed: bool) -> None:
    found = {str(link): how for how, link in exception_chain(_raised(), suppressed=suppressed)}
    if suppressed:
        assert set(found) == {"top", "cause", "'hidden'"}
        assert "(suppressed)" in found["'hidden'"]  # reached through a hidden __context__
    else:
        assert found == {"top": "raised", "cause": "raised.__cause__"}


def test_the_redis_server_fixture_is_the_conftests() -> None:
    # Four Redis test files each carried the same module-scoped fixture;
    # conftest.py has it now. test_dask_recipe.py's own asks for more parts.
    defined = sorted(
        name
        for name, module in _modules()
        for node in ast.walk(module)
        if isinstance(node, ast.FunctionDef) and node.name == "redis_server" and node.decorator_list
    )
    assert defined == ["conftest.py", "test_dask_recipe.py"]
