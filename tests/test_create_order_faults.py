"""create_order under the faults that matter for writes: one order per idempotency key.

Over real loopback sockets (`FakeHiobuy.serve()`), on every engine, on
asyncio and trio. HioBuy (and the fake) has no duplicate detection: each
request it processes is one more order. Whatever the fault, the fake ends
with exactly one order per key once the caller has reconciled what the
error told it, and the error's type says whether the order may exist.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from helpers import ENGINES
from test_endpoint_create_order import mapping_order

from hiobuy_async import (
    APIStatusError,
    AsyncHiobuy,
    OrderOutcomeUnknownError,
    OrderSubmission,
    RateLimitError,
)
from hiobuy_async.testing import FakeHiobuy, Fault, no_backoff

pytestmark = pytest.mark.anyio


FAULTS: dict[str, Fault] = {
    "refuse-before-reading": Fault.refuse(),
    "reset-after-recording": Fault.reset(),
    "500-after-recording": Fault.status(500),
    "502-after-recording": Fault.status(502),
    "stall-after-recording": Fault.stall(30),
    "429": Fault.rate_limit(0.01),
    "408": Fault.status(408),
}

# What each fault leaves: the type of the first call's outcome, and the orders
# the fake recorded (the merchant console's view) before anyone reconciles.
EXPECTED: dict[str, tuple[type[object], int]] = {
    "refuse-before-reading": (OrderOutcomeUnknownError, 0),  # the client cannot know
    "reset-after-recording": (OrderOutcomeUnknownError, 1),
    "500-after-recording": (OrderOutcomeUnknownError, 1),
    "502-after-recording": (OrderOutcomeUnknownError, 1),
    "stall-after-recording": (OrderOutcomeUnknownError, 1),
    "429": (OrderSubmission, 1),  # refused unprocessed, then retried
    "408": (OrderSubmission, 1),
}


def client_for(base_url: str, transport: str, **kwargs: Any) -> AsyncHiobuy:
    kwargs.setdefault("max_retries", 3)
    kwargs.setdefault("timeout", 0.5)  # the stall outlasts it: a read timeout
    return AsyncHiobuy(FakeHiobuy.DEFAULT_UUID, base_url=base_url, transport=transport, **kwargs)  # type: ignore[arg-type]


async def place(client: AsyncHiobuy, key: str) -> OrderSubmission | OrderOutcomeUnknownError:
    try:
        return await client.create_order(mapping_order(), idempotency_key=key, client_reference=key)
    except OrderOutcomeUnknownError as error:
        return error


@pytest.mark.parametrize("transport", ENGINES)
@pytest.mark.parametrize("fault", list(FAULTS))
async def test_create_order_under_a_fault_records_exactly_one_order_per_key(
    transport: str, fault: str, anyio_backend: str
) -> None:
    fake = FakeHiobuy()
    fake.fail_matching(endpoint="create_order", fault=FAULTS[fault], times=1)
    async with fake.serve() as base_url, client_for(base_url, transport) as client:
        with no_backoff(), anyio.fail_after(20):
            outcome = await place(client, "key-1")
            orders = [o for o in fake.orders if o.remark == "key-1"]
            assert (type(outcome), len(orders)) == EXPECTED[fault]
            if isinstance(outcome, OrderOutcomeUnknownError):
                # The error says the order may exist; never that it does not when it does.
                assert outcome.idempotency_key == "key-1"
                assert outcome.client_reference == "key-1"
                assert outcome.attempts >= 1
                assert len(orders) <= 1
                # Asking again sends nothing: the key awaits reconciliation.
                sent = len(fake.requests)
                assert isinstance(await place(client, "key-1"), OrderOutcomeUnknownError)
                assert len(fake.requests) == sent
                # The operator looks at the merchant console (here: the fake's orders).
                await client.resolve_order("key-1", placed=bool(orders))
            else:
                assert len(orders) == 1
            final = await place(client, "key-1")
            again = await place(client, "key-1")
    assert isinstance(final, OrderSubmission)
    assert again is final
    assert len([o for o in fake.orders if o.remark == "key-1"]) == 1
    assert len(fake.orders) == 1


@pytest.mark.parametrize("transport", ENGINES)
async def test_a_fault_after_recording_is_an_unknown_outcome_never_a_resend(
    transport: str, anyio_backend: str
) -> None:
    fake = FakeHiobuy()
    fake.fail_matching(endpoint="create_order", fault=Fault.status(503), times=None)
    async with fake.serve() as base_url, client_for(base_url, transport, max_retries=5) as client:
        with no_backoff(), anyio.fail_after(20):
            outcome = await place(client, "key-2")
    assert isinstance(outcome, OrderOutcomeUnknownError)
    assert outcome.attempts == 1
    assert outcome.request_id is not None
    assert len(fake.orders) == 1
    assert len(fake.requests) == 1


@pytest.mark.parametrize("transport", ENGINES)
async def test_a_429_is_refused_unprocessed_and_retried(transport: str, anyio_backend: str) -> None:
    fake = FakeHiobuy()
    fake.fail_matching(endpoint="create_order", fault=Fault.rate_limit(0.01), times=None)
    async with fake.serve() as base_url, client_for(base_url, transport, max_retries=2) as client:
        with no_backoff(), anyio.fail_after(20):
            with pytest.raises(RateLimitError):
                await client.create_order(mapping_order(), idempotency_key="key-3")
            assert fake.orders == []
            assert len(fake.requests) == 3
            # Refused for certain: the key is free, and goes out once it is let through.
            fake.clear()
            submission = await client.create_order(mapping_order(), idempotency_key="key-3")
    assert submission.data == {"fake_order_no": "FAKE000001"}
    assert len(fake.orders) == 1


@pytest.mark.parametrize("transport", ENGINES)
async def test_many_keys_under_mixed_faults_give_one_order_each_at_most(
    transport: str, anyio_backend: str
) -> None:
    fake = FakeHiobuy()
    for index, fault in enumerate(FAULTS.values()):
        fake.fail_matching(subject=f"key-{index}", fault=fault, times=None)
    keys = [f"key-{index}" for index in range(len(FAULTS) + 4)]
    outcomes: dict[str, object] = {}

    async def one(client: AsyncHiobuy, key: str) -> None:
        try:
            outcomes[key] = await place(client, key)
        except APIStatusError as error:  # 429 or 408: refused unprocessed, for certain
            outcomes[key] = error

    async with fake.serve() as base_url, client_for(base_url, transport, max_retries=2) as client:
        with no_backoff(), anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for key in keys:
                    tg.start_soon(one, client, key)
                    tg.start_soon(one, client, key)  # a concurrent duplicate of each
    for key in keys:
        count = len([o for o in fake.orders if o.remark == key])
        assert count <= 1, key
        if isinstance(outcomes[key], OrderSubmission):
            assert count == 1, key
        outcome = outcomes[key]
        if isinstance(outcome, APIStatusError):
            assert outcome.status_code in (408, 429), key
            assert count == 0, key
