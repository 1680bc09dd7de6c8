"""The batch engine on its own: generic over the call, no client; reprs; misuse errors."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from hiobuy_async import (
    DetailsQuery,
    Failed,
    ImageQuery,
    InputError,
    Marketplace,
    Ok,
    Progress,
    ServerError,
)
from hiobuy_async._batch import Fanout, many, stream
from hiobuy_async._retry import RetryHooks
from hiobuy_async.testing import FakeHiobuy

PACKAGE = Path(__file__).resolve().parent.parent / "hiobuy_async"


def _imports(module: str) -> set[str]:
    """The `hiobuy_async` modules `module` imports, under TYPE_CHECKING too."""
    path = PACKAGE.joinpath(*module.split(".")[1:])
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = f"{base}.{node.module}" if node.level and node.module else node.module or base
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {
        name
        for name in found
        if name.startswith("hiobuy_async")
        and (
            PACKAGE.parent.joinpath(*name.split(".")).with_suffix(".py").exists()
            or PACKAGE.parent.joinpath(*name.split(".")).is_dir()
        )
    }


def test_the_engine_does_not_import_the_client_even_indirectly() -> None:
    seen: set[str] = set()
    todo = ["hiobuy_async._batch"]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        todo.extend(_imports(module) - {"hiobuy_async"})  # the package's own __init__
    assert "hiobuy_async._client" not in seen
    assert not any(name.startswith("hiobuy_async._endpoints") for name in seen)
    assert "hiobuy_async._outcomes" in seen  # the walk does follow imports


def _fanout(
    calls: list[int], *, fail: int | None = None, limit: int = 4
) -> Fanout[int, object, int, int]:
    def resolve(item: object) -> tuple[int, int]:
        if not isinstance(item, int) or isinstance(item, bool):
            raise InputError(f"not a number: {item!r}")
        return item, item % 100  # 7 and 107 are one key

    async def double(key: int, hooks: RetryHooks, on_retry: Any, on_body: Any) -> int:
        await hooks.before_attempt()
        calls.append(key)
        if key == fail:
            raise ServerError("down", status_code=503)
        return key * 2

    return Fanout(resolve, lambda item: item, double, limit, "numbers")


@pytest.mark.anyio
async def test_the_engine_fans_out_a_plain_async_function() -> None:
    calls: list[int] = []
    snapshots: list[Progress] = []
    outcomes = await many(
        _fanout(calls, fail=3),
        [1, 2, 3, "x", 7, 107, 2],
        concurrency=2,
        progress=snapshots.append,
    )
    assert sorted(calls) == [1, 2, 3, 7]  # duplicate keys called once
    assert [o.index for o in outcomes] == list(range(7))
    assert [o.result for o in outcomes if isinstance(o, Ok)] == [2, 4, 14, 14, 4]
    assert outcomes[5] == Ok(5, 107, 14)
    failed = [o for o in outcomes if isinstance(o, Failed)]
    assert [(o.index, o.query, type(o.error)) for o in failed] == [
        (2, 3, ServerError),
        (3, "x", InputError),
    ]
    assert snapshots[-1].done == 7


@pytest.mark.anyio
async def test_the_engine_streams_a_plain_async_function() -> None:
    calls: list[int] = []
    async with stream(lambda: _fanout(calls), range(20), method="f", concurrency=3) as outcomes:
        got = {o.index: o.result async for o in outcomes if isinstance(o, Ok)}
    assert got == {n: 2 * n for n in range(20)}
    with pytest.raises(InputError, match="max_connections"):
        await many(_fanout(calls, limit=2), [1], concurrency=3)
    with pytest.raises(InputError, match="numbers must be an iterable"):
        await many(_fanout(calls), 5, concurrency=1)  # type: ignore[arg-type]


# -- issue #10 point 6: a clear TypeError without `async with` ----------------


@pytest.mark.anyio
@pytest.mark.parametrize("method", ["search_stream", "details_stream"])
async def test_async_for_without_async_with_says_what_to_write(method: str) -> None:
    fake = FakeHiobuy()
    async with fake.client() as client:
        batch = getattr(client, method)(["1"], platform="1688")
        with pytest.raises(TypeError, match=rf"async with client\.{method}\(\.\.\.\) as stream"):
            async for _ in batch:
                pass
        with pytest.raises(TypeError, match="'async with'"), batch:
            pass
    assert fake.requests == []


# -- issue #10 point 6: long inputs shortened in reprs ------------------------

HUGE = "https://cdn.test/" + "a" * 3_000_000 + ".jpg"


def test_reprs_cut_long_inputs_and_equality_is_unchanged() -> None:
    query = ImageQuery(HUGE, platform="1688")
    failed = Failed(0, query, InputError("too long"))
    raw = Failed(1, HUGE, InputError("too long"))
    details = DetailsQuery(HUGE, Marketplace.TAOBAO, "zh_CN")
    for shown in (query, failed, raw, details, Ok(2, details, None)):
        text = repr(shown)
        assert len(text) < 300, text[:300]
        assert "…" in text
    assert query == ImageQuery(HUGE, platform="1688")
    assert query != ImageQuery(HUGE + "x", platform="1688")
    assert failed.query.img == HUGE  # only the repr is cut
    assert repr(ImageQuery("https://cdn.test/a.jpg")) == (
        "ImageQuery(img='https://cdn.test/a.jpg', platform=None, language=None, "
        "use_platform=None, filters=None)"
    )


@pytest.mark.anyio
async def test_a_failed_huge_input_has_a_short_repr() -> None:
    fake = FakeHiobuy()
    async with fake.client() as client:
        (image,) = await client.search_many([HUGE], platform="1688")
        (product,) = await client.details_many([HUGE], platform="1688")
    for outcome in (image, product):
        assert isinstance(outcome, Failed)
        assert isinstance(outcome.error, InputError)
        assert len(repr(outcome)) < 600
