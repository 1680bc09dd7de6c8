"""Never twice: the idempotency key guard of create_order, and its journal across restarts."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from contextlib import AbstractAsyncContextManager
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import helpers
import httpx
import pytest
from test_endpoint_create_order import mapping_order

from hiobuy_async import (
    APIConnectionError,
    AsyncHiobuy,
    ClientStateError,
    InputError,
    OrderOutcomeUnknownError,
    OrderSubmission,
)
from hiobuy_async._orders import OrderGuard

pytestmark = pytest.mark.anyio

OK = b'{"ret":1,"msg":"success","data":{"orderSn":"X1"}}'


class Server:
    """A MockTransport handler: answers `OK`, or 500 while `failing`, counting requests."""

    def __init__(self) -> None:
        self.requests = 0
        self.failing = False
        self.gate: anyio.Event | None = None
        self.arrived = anyio.Event()

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        self.arrived.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.failing:
            return httpx.Response(500, content=b"<html>oops</html>")
        return httpx.Response(200, content=OK, headers={"x-request-id": f"r{self.requests}"})

    def client(self, **kwargs: Any) -> AbstractAsyncContextManager[AsyncHiobuy]:
        return helpers.mock_client(self, uuid="u-1", **{"max_retries": 0, **kwargs})


async def test_the_same_key_after_success_returns_the_stored_submission_without_a_request(
    anyio_backend: str,
) -> None:
    server = Server()
    async with server.client() as client:
        first = await client.create_order(mapping_order(), idempotency_key="k-1")
        again = await client.create_order(mapping_order(), idempotency_key="k-1")
        other = await client.create_order(mapping_order())  # a fresh key by default
    assert server.requests == 2
    assert again is first
    assert first.request_id == "r1"
    assert other.idempotency_key not in ("k-1", first.idempotency_key)


async def test_the_same_key_after_an_unknown_outcome_is_refused_without_a_request(
    anyio_backend: str,
) -> None:
    server = Server()
    server.failing = True
    async with server.client() as client:
        with pytest.raises(OrderOutcomeUnknownError) as lost:
            await client.create_order(mapping_order(), idempotency_key="k-1", client_reference="r")
        server.failing = False
        for _ in range(2):
            with pytest.raises(OrderOutcomeUnknownError) as refused:
                await client.create_order(
                    mapping_order(), idempotency_key="k-1", client_reference="r"
                )
            assert refused.value.attempts == 0
        assert server.requests == 1
        # The merchant console shows the order: the key now returns a submission.
        await client.resolve_order("k-1", placed=True, data={"seen": "console"})
        resolved = await client.create_order(
            mapping_order(), idempotency_key="k-1", client_reference="r"
        )
    assert server.requests == 1
    error = lost.value
    assert not isinstance(error, APIConnectionError)
    assert (error.idempotency_key, error.client_reference, error.endpoint) == (
        "k-1",
        "r",
        "create_order",
    )
    assert error.attempts >= 1
    assert resolved.data == {"seen": "console"}
    assert resolved.idempotency_key == "k-1"


async def test_an_order_resolved_as_not_placed_may_be_sent_again(anyio_backend: str) -> None:
    server = Server()
    server.failing = True
    async with server.client() as client:
        with pytest.raises(OrderOutcomeUnknownError):
            await client.create_order(mapping_order(), idempotency_key="k-2")
        server.failing = False
        await client.resolve_order("k-2", placed=False)
        submission = await client.create_order(mapping_order(), idempotency_key="k-2")
    assert server.requests == 2
    assert submission.data == {"orderSn": "X1"}


async def test_resolve_order_refuses_a_key_that_awaits_nothing(anyio_backend: str) -> None:
    server = Server()
    async with server.client() as client:
        with pytest.raises(InputError):
            await client.resolve_order("never-seen", placed=True)
        await client.create_order(mapping_order(), idempotency_key="done")
        with pytest.raises(InputError):
            await client.resolve_order("done", placed=False)
        with pytest.raises(InputError):
            await client.resolve_order("done", placed="yes")  # type: ignore[arg-type]


async def test_concurrent_calls_with_one_key_share_one_request(anyio_backend: str) -> None:
    server = Server()
    server.gate = anyio.Event()
    results: list[OrderSubmission] = []

    async def submit(client: AsyncHiobuy) -> None:
        results.append(await client.create_order(mapping_order(), idempotency_key="k-3"))

    async with server.client() as client:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                for _ in range(5):
                    tg.start_soon(submit, client)
                await server.arrived.wait()
                with pytest.raises(ClientStateError):
                    await client.resolve_order("k-3", placed=False)  # still in flight
                server.gate.set()
    assert server.requests == 1
    assert len(results) == 5
    assert all(r is results[0] for r in results)


async def test_concurrent_calls_with_one_key_share_an_unknown_outcome(anyio_backend: str) -> None:
    server = Server()
    server.gate = anyio.Event()
    server.failing = True
    errors: list[OrderOutcomeUnknownError] = []

    async def submit(client: AsyncHiobuy) -> None:
        try:
            await client.create_order(mapping_order(), idempotency_key="k-4")
        except OrderOutcomeUnknownError as error:
            errors.append(error)

    async with server.client() as client:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                for _ in range(3):
                    tg.start_soon(submit, client)
                await server.arrived.wait()
                server.gate.set()
    assert server.requests == 1
    assert len(errors) == 3


async def test_the_same_key_with_a_different_order_is_an_input_error(anyio_backend: str) -> None:
    server = Server()
    changed = mapping_order()
    changed["skus"][0]["quantity"] = "4"
    async with server.client() as client:
        await client.create_order(mapping_order(), idempotency_key="k-5")
        with pytest.raises(InputError, match="different order"):
            await client.create_order(changed, idempotency_key="k-5")
        with pytest.raises(InputError, match="different order"):
            await client.create_order(mapping_order(), idempotency_key="k-5", currency="USD")
    assert server.requests == 1


async def test_a_cancelled_order_leaves_its_key_unknown(anyio_backend: str) -> None:
    server = Server()
    server.gate = anyio.Event()  # never set: the answer never comes
    async with server.client() as client:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(partial(client.create_order, mapping_order(), idempotency_key="k-6"))
                await server.arrived.wait()
                tg.cancel_scope.cancel()
        # The request may have reached HioBuy: the key is not sent again.
        server.gate = None
        with pytest.raises(OrderOutcomeUnknownError):
            await client.create_order(mapping_order(), idempotency_key="k-6")
    assert server.requests == 1


async def test_the_guard_remembers_a_bounded_number_of_placed_keys(anyio_backend: str) -> None:
    guard = OrderGuard(None, max_keys=2)
    sent: list[str] = []

    def sender(key: str) -> Any:
        async def send() -> OrderSubmission:
            sent.append(key)
            return OrderSubmission(idempotency_key=key)

        return send

    for key in ("a", "b", "c"):
        await guard.submit(key, "f", None, sender(key))
    await guard.submit("c", "f", None, sender("c"))  # remembered
    await guard.submit("a", "f", None, sender("a"))  # forgotten: the oldest
    assert sent == ["a", "b", "c", "a"]


# --- the journal: across a process restart ---------------------------------------------


async def test_the_journal_keeps_a_placed_key_across_clients(
    anyio_backend: str, tmp_path: Path
) -> None:
    journal = tmp_path / "orders.sqlite"
    server = Server()
    async with server.client(order_journal=journal) as client:
        first = await client.create_order(mapping_order(), idempotency_key="k-7")
    async with server.client(order_journal=str(journal)) as client:
        again = await client.create_order(mapping_order(), idempotency_key="k-7")
        with pytest.raises(InputError):
            await client.create_order(mapping_order(), idempotency_key="k-7", currency="EUR")
    assert server.requests == 1
    assert (again.request_id, again.data) == (first.request_id, first.data)


async def test_the_journal_keeps_an_unknown_key_and_its_resolution(
    anyio_backend: str, tmp_path: Path
) -> None:
    journal = tmp_path / "orders.sqlite"
    server = Server()
    server.failing = True
    async with server.client(order_journal=journal) as client:
        with pytest.raises(OrderOutcomeUnknownError):
            await client.create_order(mapping_order(), idempotency_key="k-8")
    server.failing = False
    async with server.client(order_journal=journal) as client:
        with pytest.raises(OrderOutcomeUnknownError):
            await client.create_order(mapping_order(), idempotency_key="k-8")
        await client.resolve_order("k-8", placed=False)
    async with server.client(order_journal=journal) as client:
        await client.create_order(mapping_order(), idempotency_key="k-8")
    assert server.requests == 2
    assert "Han Meimei" not in journal.read_bytes().decode("latin-1")  # hashes, not orders


CRASHING_PROCESS = """
import os, sys, anyio, httpx
sys.path.insert(0, {tests!r})
from test_endpoint_create_order import mapping_order
from hiobuy_async import AsyncHiobuy

def crash(request):
    os._exit(3)  # the process dies while the order is on the wire

async def main():
    http_client = httpx.AsyncClient(transport=httpx.MockTransport(crash))
    async with AsyncHiobuy("u-1", base_url="https://api.hiobuy.test", http_client=http_client,
                           order_journal={journal!r}) as client:
        await client.create_order(mapping_order(), idempotency_key="k-crash")

anyio.run(main)
"""


async def test_the_journal_refuses_a_key_whose_process_crashed_mid_order(
    anyio_backend: str, tmp_path: Path
) -> None:
    journal = tmp_path / "orders.sqlite"
    script = CRASHING_PROCESS.format(tests=str(Path(__file__).parent), journal=str(journal))
    crashed = await anyio.run_process(
        [sys.executable, "-c", textwrap.dedent(script)], check=False, stderr=subprocess.STDOUT
    )
    assert crashed.returncode == 3, crashed.stdout
    server = Server()
    async with server.client(order_journal=journal) as client:
        with pytest.raises(OrderOutcomeUnknownError) as refused:
            await client.create_order(mapping_order(), idempotency_key="k-crash")
        with pytest.raises(InputError):  # a different order under that key: still refused
            await client.create_order({**mapping_order(), "name": "x"}, idempotency_key="k-crash")
    assert server.requests == 0
    assert refused.value.attempts == 0


async def test_a_key_in_flight_in_another_process_sharing_the_journal_is_not_sent(
    anyio_backend: str, tmp_path: Path
) -> None:
    journal = tmp_path / "orders.sqlite"
    first, second = Server(), Server()
    first.gate = anyio.Event()
    async with (
        first.client(order_journal=journal) as one,
        second.client(order_journal=journal) as other,
    ):
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(partial(one.create_order, mapping_order(), idempotency_key="k-9"))
                await first.arrived.wait()
                with pytest.raises(OrderOutcomeUnknownError) as refused:
                    await other.create_order(mapping_order(), idempotency_key="k-9")
                first.gate.set()
        # Once the first process recorded its success, the second returns it.
        again = await other.create_order(mapping_order(), idempotency_key="k-9")
    assert (first.requests, second.requests) == (1, 0)
    assert refused.value.attempts == 0
    assert again.data == {"orderSn": "X1"}


async def test_a_key_left_pending_by_a_crash_can_be_resolved(
    anyio_backend: str, tmp_path: Path
) -> None:
    journal = tmp_path / "orders.sqlite"
    first = Server()
    first.gate = anyio.Event()  # never answers: the "crash" is the end of this client
    async with first.client(order_journal=journal) as one:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(partial(one.create_order, mapping_order(), idempotency_key="k-10"))
                await first.arrived.wait()
                async with second_client(journal) as other:
                    await other.resolve_order("k-10", placed=False)
                    submission = await other.create_order(mapping_order(), idempotency_key="k-10")
                tg.cancel_scope.cancel()
    assert submission.data == {"orderSn": "X1"}


def second_client(journal: Path) -> AbstractAsyncContextManager[AsyncHiobuy]:
    return Server().client(order_journal=journal)


async def test_an_unusable_journal_fails_before_anything_is_sent(
    anyio_backend: str, tmp_path: Path
) -> None:
    server = Server()
    async with server.client(order_journal=tmp_path / "missing-dir" / "orders.sqlite") as client:
        with pytest.raises(ClientStateError, match="order journal"):
            await client.create_order(mapping_order(), idempotency_key="k-11")
    assert server.requests == 0
