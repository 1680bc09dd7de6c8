"""Issue 13, points 2 and 3: a server echoing the uuid, and tracebacks' locals, never leak it.

Every test talks to a raw-socket server on 127.0.0.1 (`echo_server`), on
every engine, on asyncio and trio.
"""

from __future__ import annotations

import functools
import json
import os
import pickle
import sys
import traceback
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import anyio
import helpers
import pytest
from echo_server import echo_server, http_response
from helpers import ENGINES, exception_chain

from hiobuy_async import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AsyncHiobuy,
    AuthenticationError,
    Failed,
    HiobuyError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
)

ROOT = Path(__file__).resolve().parents[1]
UUID = "0f8fad5b-d9cb-469f-a165-70867728950e"
IMG = "https://example.com/a.jpg"
OK_BODY = json.dumps({"ret": 1, "msg": "ok", "data": {"items": {"item": []}}}).encode()

pytestmark = pytest.mark.anyio


make_client = functools.partial(helpers.make_client, uuid=UUID, max_retries=0)


def shown(value: object, depth: int = 0) -> Iterator[str]:
    """What a locals printer could show of `value`: its repr, and, as Sentry does, the
    raw characters of every string inside a container (a `str` subclass's own repr
    hides nothing from it)."""
    yield repr(value)
    if isinstance(value, str):
        yield str.__str__(value)
    elif depth < 4 and isinstance(value, Mapping):
        for key, item in value.items():
            yield from shown(key, depth + 1)
            yield from shown(item, depth + 1)
    elif depth < 4 and isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from shown(item, depth + 1)


def leaks(text: str, fragment: int = len(UUID)) -> bool:
    """True if `text` holds `fragment` or more consecutive characters of the uuid, in any case."""
    folded = text.casefold()
    return any(
        UUID[start : start + fragment] in folded for start in range(len(UUID) - fragment + 1)
    )


def assert_no_uuid_in_locals(error: BaseException) -> None:
    for _, link in exception_chain(error):
        tb = link.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            for name, value in frame.f_locals.items():
                for text in shown(value):
                    assert not leaks(text), (
                        f"uuid in local {name!r} of {frame.f_code.co_name} "
                        f"(traceback of {type(link).__name__}): {text[:300]}"
                    )
            tb = tb.tb_next
    printed = "".join(
        traceback.TracebackException.from_exception(error, capture_locals=True).format()
    )
    assert not leaks(printed), printed[-2000:]


def assert_no_uuid_in_error(error: BaseException, fragment: int = len(UUID)) -> None:
    for _, link in exception_chain(error):
        texts = [str(link), repr(link), repr(vars(link)), repr(link.args)]
        texts.append(pickle.dumps(link).decode("latin-1"))
        texts.append("".join(traceback.format_exception(link)))
        for text in texts:
            assert not leaks(text, fragment), f"uuid in {type(link).__name__}: {text[:400]}"


def canned(response: bytes) -> Callable[[bytes], Awaitable[bytes | None]]:
    async def reply(_: bytes) -> bytes | None:
        return response

    return reply


async def close_unanswered(_: bytes) -> bytes | None:
    return None


async def stall(_: bytes) -> bytes | None:
    await anyio.sleep_forever()
    raise AssertionError("unreachable")


# These two catch the error themselves, so that the traceback's first frame
# (the catching one) is theirs and holds nothing of the test's.
async def failure_of(client: AsyncHiobuy) -> HiobuyError:
    try:
        await client.image_search(IMG, platform="1688")
    except HiobuyError as error:
        return error
    raise AssertionError("no error raised")


async def batch_failure_of(client: AsyncHiobuy) -> HiobuyError:
    # A batch collects the error (or, for a refused uuid, raises it).
    try:
        [outcome] = await client.search_many([IMG], platform="1688")
    except HiobuyError as error:
        return error
    assert isinstance(outcome, Failed)
    return outcome.error


ECHO = {"x-request-id": UUID.upper(), "Content-Type": "application/json"}

ERROR_KINDS: dict[str, tuple[Callable[[bytes], Awaitable[bytes | None]], dict[str, Any], type]] = {
    "401": (
        canned(http_response(401, f"unknown uuid {UUID}".encode(), headers=ECHO)),
        {},
        AuthenticationError,
    ),
    "429": (
        canned(http_response(429, UUID.encode(), headers={**ECHO, "Retry-After": "0"})),
        {},
        RateLimitError,
    ),
    "500": (canned(http_response(500, f"<h1>{UUID}</h1>".encode(), headers=ECHO)), {}, ServerError),
    "404": (canned(http_response(404, UUID.encode(), headers=ECHO)), {}, APIStatusError),
    "api-error": (
        canned(
            http_response(
                200, json.dumps({"ret": UUID, "msg": f"uuid {UUID} off"}).encode(), headers=ECHO
            )
        ),
        {},
        APIError,
    ),
    "not-json": (
        canned(http_response(200, f"{{{UUID}".encode(), headers=ECHO)),
        {},
        ResponseValidationError,
    ),
    "too-large": (
        canned(http_response(200, OK_BODY + b" " * 200, headers=ECHO)),
        {"max_response_bytes": 64},
        ResponseValidationError,
    ),
    "connection": (close_unanswered, {}, APIConnectionError),
    "timeout": (stall, {"timeout": 0.2}, APITimeoutError),
    "deadline": (stall, {"timeout": 30, "deadline": 0.2}, APITimeoutError),
}


@pytest.mark.parametrize("transport", ENGINES)
@pytest.mark.parametrize("kind", list(ERROR_KINDS))
async def test_point03a_no_traceback_frame_holds_the_uuid(
    kind: str, transport: str, anyio_backend: str
) -> None:
    reply, options, expected = ERROR_KINDS[kind]
    async with (
        echo_server(reply) as (base_url, requests),
        make_client(base_url, transport, **options) as client,
    ):
        alone = await failure_of(client)
        in_batch = await batch_failure_of(client)
    assert UUID.encode() in requests[0]  # the uuid did travel, in its header
    for error in (alone, in_batch):
        assert type(error) is expected
        assert_no_uuid_in_locals(error)
        assert_no_uuid_in_error(error)


def _api_error_body(padding: int) -> bytes:
    return json.dumps({"ret": 0, "msg": "x" * padding + UUID}).encode()


# The excerpts are cut at 200 characters, and the body is first cut at 800
# bytes (before whitespace is collapsed): each padding puts a cut inside the uuid.
CUT_BODIES = [
    *[(200, _api_error_body(padding)) for padding in range(145, 201)],
    *[(401, b"x" * padding + UUID.encode()) for padding in range(165, 200)],
    *[(401, b" " * padding + UUID.encode()) for padding in range(765, 800)],
]


@pytest.mark.parametrize("transport", ENGINES)
async def test_point02_uuid_crossing_the_excerpt_cut_leaves_no_fragment(
    transport: str, anyio_backend: str
) -> None:
    bodies = iter(CUT_BODIES)

    async def reply(_: bytes) -> bytes | None:
        status, body = next(bodies)
        return http_response(status, body)

    async with (
        echo_server(reply) as (base_url, _),
        make_client(base_url, transport) as client,
    ):
        for status, _body in CUT_BODIES:
            with pytest.raises(HiobuyError) as info:
                await client.image_search(IMG, platform="1688")
            error = info.value
            assert type(error) is (APIError if status == 200 else AuthenticationError)
            # Not even a quarter of the uuid is left anywhere.
            assert_no_uuid_in_error(error, fragment=4)
            if isinstance(error, APIError):
                assert error.msg is not None
                assert not leaks(error.msg, 4)
            assert not leaks(error.body_excerpt or "", 4)


@pytest.mark.parametrize("transport", ENGINES)
@pytest.mark.parametrize("echo", [UUID.upper(), UUID.title(), UUID.swapcase()])
async def test_point03b_echo_in_any_letter_case_is_redacted(
    echo: str, transport: str, anyio_backend: str
) -> None:
    body = json.dumps({"ret": 0, "msg": f"uuid {echo} refused"}).encode()
    answers = iter([http_response(200, body), http_response(403, f"no {echo}".encode())])

    async def reply(_: bytes) -> bytes | None:
        return next(answers)

    async with (
        echo_server(reply) as (base_url, _),
        make_client(base_url, transport) as client,
    ):
        for expected in (APIError, AuthenticationError):
            with pytest.raises(expected) as info:
                await client.image_search(IMG, platform="1688")
            assert_no_uuid_in_error(info.value)
            assert "***" in str(info.value)


@pytest.mark.parametrize("transport", ENGINES)
async def test_point03c_request_id_echoing_the_uuid_is_redacted(
    transport: str, anyio_backend: str
) -> None:
    responses = iter(
        [
            http_response(200, OK_BODY, headers={"x-request-id": f"req-{UUID}"}),
            http_response(500, b"oops", headers={"x-request-id": UUID.upper()}),
            http_response(200, b"not json", headers={"x-request-id": UUID}),
        ]
    )

    async def reply(_: bytes) -> bytes | None:
        return next(responses)

    async with (
        echo_server(reply) as (base_url, _),
        make_client(base_url, transport) as client,
    ):
        result = await client.image_search(IMG, platform="1688")
        assert result.request_id == "req-***"
        assert not leaks(repr(result))
        for expected in (ServerError, ResponseValidationError):
            with pytest.raises(expected) as info:
                await client.image_search(IMG, platform="1688")
            assert info.value.request_id == "***"
            assert_no_uuid_in_error(info.value)


@pytest.mark.parametrize("transport", ENGINES)
@pytest.mark.parametrize(
    "ret", [UUID, {"uuid": UUID}, [UUID.upper()], f"{'0' * 100}{UUID}"], ids=repr
)
async def test_point03d_api_error_ret_never_holds_the_uuid(
    ret: object, transport: str, anyio_backend: str
) -> None:
    body = json.dumps({"ret": ret, "msg": "refused"}).encode()
    async with (
        echo_server(canned(http_response(200, body))) as (base_url, _),
        make_client(base_url, transport) as client,
    ):
        with pytest.raises(APIError) as info:
            await client.image_search(IMG, platform="1688")
    error = info.value
    assert isinstance(error.ret, str)
    assert not leaks(error.ret, 4)
    assert_no_uuid_in_error(error, fragment=4)


@pytest.mark.parametrize("ret", [0, -1, 2.5, None, True])
async def test_point03d_a_numeric_ret_is_kept_as_sent(ret: object, anyio_backend: str) -> None:
    body = json.dumps({"ret": ret, "msg": "refused"}).encode()
    async with (
        echo_server(canned(http_response(200, body))) as (base_url, _),
        make_client(base_url, "httpx") as client,
    ):
        with pytest.raises(APIError) as info:
            await client.image_search(IMG, platform="1688")
    assert info.value.ret == ret
    assert type(info.value.ret) is type(ret)


@pytest.mark.parametrize("transport", ENGINES)
@pytest.mark.parametrize(
    "quoted",
    [UUID[:20] + "…", UUID[:8], "…" + UUID[10:22] + "…", UUID[-9:].upper()],
    ids=["head", "first-8", "middle", "tail"],
)
async def test_point13_server_quoting_a_truncated_uuid_is_redacted(
    quoted: str, transport: str, anyio_backend: str
) -> None:
    body = json.dumps({"ret": 0, "msg": f"unknown uuid '{quoted}'"}).encode()
    answers = iter([http_response(200, body), http_response(401, f"uuid {quoted}?".encode())])

    async def reply(_: bytes) -> bytes | None:
        return next(answers)

    async with (
        echo_server(reply) as (base_url, _),
        make_client(base_url, transport) as client,
    ):
        with pytest.raises(APIError) as info:
            await client.image_search(IMG, platform="1688")
        assert "***" in (info.value.msg or "")
        assert_no_uuid_in_error(info.value, fragment=8)
        with pytest.raises(AuthenticationError) as refused:
            await client.image_search(IMG, platform="1688")
        assert_no_uuid_in_error(refused.value, fragment=8)


async def test_point13_cli_never_prints_or_writes_a_truncated_uuid(
    tmp_path: Path, anyio_backend: str
) -> None:
    body = json.dumps({"ret": 0, "msg": f"unknown uuid '{UUID[:20]}…'"}).encode()
    output = tmp_path / "out.jsonl"
    async with echo_server(canned(http_response(200, body))) as (base_url, _):
        env = {k: v for k, v in os.environ.items() if not k.startswith("HIOBUY_")}
        env.update(PYTHONPATH=str(ROOT), HIOBUY_UUID=UUID, HIOBUY_BASE_URL=base_url)
        runs = [
            ["search-many", "-p", "taobao", "--output", str(output)],
            ["image-search", IMG, "-p", "taobao"],
        ]
        done = [
            await anyio.run_process(
                [sys.executable, "-m", "hiobuy_async", *args],
                input=f"{IMG}\n".encode(),
                env=env,
                check=False,
            )
            for args in runs
        ]
    written = output.read_text(encoding="utf-8")
    assert "unknown uuid" in written
    for text in [written, *(run.stdout.decode() + run.stderr.decode() for run in done)]:
        assert not leaks(text, 8), text
