"""LocalQuota: in-process GCRA pacing, a shared pause and exhaustion, on asyncio and trio."""

from __future__ import annotations

import math

import anyio
import pytest

from hiobuy_async import InputError, RateLimitError
from hiobuy_async.quota import LocalQuota, Quota
from hiobuy_async.quota._gcra import Gcra


def most_in_any_window(times: list[float], window: float = 1.0) -> int:
    """The most timestamps in any closed window of `window` seconds."""
    times = sorted(times)
    best = 0
    start = 0
    for end, t in enumerate(times):
        while t - times[start] > window:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_gcra_reserves_evenly_spaced_slots_after_the_burst() -> None:
    gcra = Gcra(rate=20, burst=1)
    slots = [gcra.reserve(now=0.0).slot for _ in range(5)]
    assert slots == pytest.approx([0.0, 0.05, 0.10, 0.15, 0.20])

    bursty = Gcra(rate=10, burst=3)
    slots = [bursty.reserve(now=0.0).slot for _ in range(6)]
    assert slots == pytest.approx([0.0, 0.0, 0.0, 0.1, 0.2, 0.3])
    # Idle time refills the burst, never beyond it.
    later = [bursty.reserve(now=10.0).slot for _ in range(4)]
    assert later == pytest.approx([10.0, 10.0, 10.0, 10.1])
    for rate, burst in [(20, 1), (7.5, 4)]:
        gcra = Gcra(rate, burst)
        times = [gcra.reserve(now=i * 0.001).slot for i in range(200)]
        assert most_in_any_window(times) <= math.floor(rate) + burst


def test_gcra_release_gives_back_only_the_latest_slot() -> None:
    gcra = Gcra(rate=10)
    first = gcra.reserve(now=0.0)
    second = gcra.reserve(now=0.0)
    assert not gcra.release(first)  # a later reservation exists: stays a gap
    assert gcra.release(second)
    assert gcra.reserve(now=0.0).slot == pytest.approx(second.slot)


@pytest.mark.parametrize(
    ("rate", "burst"),
    [
        (0, 1),
        (-1, 1),
        (math.nan, 1),
        (math.inf, 1),
        ("5", 1),
        (True, 1),
        (5, 0),
        (5, 1.5),
        (5, True),
    ],
)
def test_local_quota_refuses_bad_rate_or_burst(rate: object, burst: object) -> None:
    with pytest.raises(InputError):
        LocalQuota(rate, burst=burst)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_local_quota_refuses_bad_pause_lengths() -> None:
    quota = LocalQuota(5)
    for seconds in (-1, math.nan, math.inf, "1"):
        with pytest.raises(InputError):
            await quota.pause_for(seconds)  # type: ignore[arg-type]
        with pytest.raises(InputError):
            await quota.exhaust_for(seconds)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_local_quota_is_a_quota() -> None:
    quota = LocalQuota(5)
    assert isinstance(quota, Quota)
    await quota.aclose()
    await quota.aclose()


@pytest.mark.anyio
async def test_local_quota_paces_concurrent_acquirers_to_the_rate() -> None:
    quota = LocalQuota(rate=20)
    times: list[float] = []

    async def one() -> None:
        await quota.acquire()
        times.append(anyio.current_time())

    start = anyio.current_time()
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            for _ in range(25):
                tg.start_soon(one)
    assert len(times) == 25
    assert most_in_any_window(times) <= 21
    # 25 evenly spaced slots span 24 intervals (the clock may tick a little coarse).
    assert max(times) - start >= 24 / 20 - 0.02


@pytest.mark.anyio
async def test_local_quota_allows_the_burst_then_paces() -> None:
    quota = LocalQuota(rate=10, burst=4)
    times: list[float] = []
    with anyio.fail_after(10):
        for _ in range(8):
            await quota.acquire()
            times.append(anyio.current_time())
    assert most_in_any_window(times, window=0.3) <= 4 + 3
    # After the burst of 4, the next 4 take one interval each.
    assert times[-1] - times[0] >= 4 / 10 - 0.02


@pytest.mark.anyio
async def test_local_pause_for_holds_every_acquire_until_it_passes() -> None:
    quota = LocalQuota(rate=1000)
    await quota.pause_for(0.5)
    paused_at = anyio.current_time()
    times: list[float] = []

    async def one() -> None:
        await quota.acquire()
        times.append(anyio.current_time())

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(one)
    assert len(times) == 5
    assert min(times) >= paused_at + 0.5 - 0.02


@pytest.mark.anyio
async def test_local_pause_for_also_holds_a_caller_already_waiting_for_its_slot() -> None:
    quota = LocalQuota(rate=2)  # slots 0.5 s apart
    await quota.acquire()
    start = anyio.current_time()
    done: list[float] = []

    async def second() -> None:
        await quota.acquire()
        done.append(anyio.current_time())

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(second)
            await anyio.sleep(0.1)  # `second` now sleeps towards its slot at +0.5
            await quota.pause_for(1.0)
    assert done[0] >= start + 1.1 - 0.02


@pytest.mark.anyio
async def test_local_exhaust_for_makes_acquire_raise_at_once() -> None:
    quota = LocalQuota(rate=1)
    await quota.acquire()  # the next slot is a second away
    await quota.exhaust_for(30)
    errors: list[RateLimitError] = []

    async def one() -> None:
        with pytest.raises(RateLimitError) as caught:
            await quota.acquire()
        errors.append(caught.value)

    # Without exhaustion these would wait 1, 2 and 3 s for their slots.
    with anyio.fail_after(0.9):
        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(one)
    assert len(errors) == 3
    for error in errors:
        assert error.retry_after is not None
        assert 0 < error.retry_after <= 30


@pytest.mark.anyio
async def test_local_exhaust_for_wakes_callers_already_queued() -> None:
    quota = LocalQuota(rate=1)
    await quota.acquire()
    outcomes: list[str] = []

    async def one() -> None:
        try:
            await quota.acquire()
        except RateLimitError:
            outcomes.append("raised")
        else:
            outcomes.append("went")

    with anyio.fail_after(0.9):
        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(one)
            await anyio.sleep(0.05)  # all three queued, the first sleeping for its slot
            await quota.exhaust_for(5)
    assert outcomes == ["raised"] * 3


@pytest.mark.anyio
async def test_local_exhaustion_ends_when_its_time_has_passed() -> None:
    quota = LocalQuota(rate=100)
    await quota.exhaust_for(0.2)
    with pytest.raises(RateLimitError):
        await quota.acquire()
    await anyio.sleep(0.25)
    with anyio.fail_after(5):
        await quota.acquire()


@pytest.mark.anyio
async def test_local_cancelled_acquire_gives_its_slot_back() -> None:
    quota = LocalQuota(rate=2)  # slots 0.5 s apart
    await quota.acquire()
    start = anyio.current_time()
    # The head of the queue is cancelled while sleeping for its slot at +0.5,
    # a second caller while queued behind it.
    async with anyio.create_task_group() as tg:
        tg.start_soon(quota.acquire)
        tg.start_soon(quota.acquire)
        await anyio.sleep(0.1)
        tg.cancel_scope.cancel()
    with anyio.fail_after(5):
        await quota.acquire()
    # It got the slot at +0.5 the cancelled callers gave back, not +1.0 or +1.5.
    assert anyio.current_time() - start < 0.9
