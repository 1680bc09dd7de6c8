"""Pacer (GCRA) and PauseGate, with the clock under the test's control."""

from __future__ import annotations

import pytest

from hiobuy_async import _ratelimit
from hiobuy_async._ratelimit import Pacer, PauseGate
from hiobuy_async._retry import set_no_backoff

pytestmark = pytest.mark.anyio


class FakeClock:
    """Stands in for anyio.current_time/anyio.sleep: sleeping advances time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def current_time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(_ratelimit.anyio, "current_time", fake.current_time)  # type: ignore[attr-defined]
    monkeypatch.setattr(_ratelimit.anyio, "sleep", fake.sleep)  # type: ignore[attr-defined]
    return fake


async def test_slots_are_evenly_spaced_without_burst(clock: FakeClock) -> None:
    limiter = Pacer(100.0)
    starts: list[float] = []
    for _ in range(5):
        await limiter.acquire()
        starts.append(clock.now)
    assert starts == pytest.approx([1000.0, 1000.01, 1000.02, 1000.03, 1000.04])


async def test_reservations_queue_up_for_simultaneous_callers(clock: FakeClock) -> None:
    limiter = Pacer(10.0)
    # Callers arriving at the same instant each reserve the next slot.
    now = clock.now
    waits: list[float] = []
    for _ in range(3):
        clock.now = now
        clock.sleeps.clear()
        await limiter.acquire()
        waits.append(sum(clock.sleeps))
    assert waits == pytest.approx([0.0, 0.1, 0.2])


async def test_idle_time_is_not_saved_up_as_a_burst(clock: FakeClock) -> None:
    limiter = Pacer(10.0)
    await limiter.acquire()
    clock.now += 60.0  # a long pause
    await limiter.acquire()
    await limiter.acquire()
    assert clock.sleeps == pytest.approx([0.1])


async def test_pause_gate_holds_until_the_latest_pause(clock: FakeClock) -> None:
    gate = PauseGate()
    await gate.wait()
    assert clock.sleeps == []
    gate.pause_for(2.0)
    gate.pause_for(0.5)  # a shorter pause does not shorten the longer one
    await gate.wait()
    assert sum(clock.sleeps) == pytest.approx(2.0)


async def test_pause_gate_is_skipped_under_no_backoff(clock: FakeClock) -> None:
    set_no_backoff(True)
    gate = PauseGate()
    gate.pause_for(30.0)
    await gate.wait()
    assert clock.sleeps == []
