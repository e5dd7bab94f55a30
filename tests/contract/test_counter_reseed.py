"""Cost counters rebuilt from the record of truth (app/counters/reseed.py), on every backend: a
window the backend lost or never had is seeded from the events before admission, once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from app.counters.base import CostLimit, CountersUnavailable, RateLimit
from app.counters.memory import MemoryCounters
from app.counters.reseed import ReseedingCounters
from tests.contract.test_counters import T0, Backend, admitted, denied

TOTAL = CostLimit("key:k1", 50_000, None)
MONTHLY = CostLimit("key:k1", 80_000, "mo")


class Events:
    """A SpendSource over a list of (key_id, created_at, cost): the events table, in a list."""

    def __init__(self, *rows: tuple[str, int, int], delay_s: float = 0.0) -> None:
        self.rows = list(rows)
        self.reads: list[tuple[str, int | None, int | None]] = []
        self.delay_s = delay_s
        self.fail = False

    def spend_micros(self, key_id: str, start: int | None, end: int | None) -> int:
        self.reads.append((key_id, start, end))
        time.sleep(self.delay_s)
        if self.fail:
            raise RuntimeError("database down")
        return sum(cost for key, at, cost in self.rows
                   if key == key_id and (start is None or at >= start) and (end is None or at < end))  # fmt: skip


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis),
                        pytest.param("redis-pipelined", marks=pytest.mark.redis)])  # fmt: skip
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    opened = Backend(request.param)
    yield opened
    opened.close()


def lose_everything(backend: Backend) -> None:
    """What a Redis restart without its data (or a flush) does; a new process in memory."""
    if backend.name == "memory":
        backend._memory = MemoryCounters()
        return
    keys = list(backend.redis().scan_iter(match=f"{backend.prefix}*", count=1000))
    if keys:
        backend.redis().delete(*keys)


def test_an_exhausted_total_stays_exhausted_when_the_counters_are_lost(backend):
    events = Events(("k1", T0 - 86_400 * 40, 30_000), ("k1", T0 - 5, 20_000), ("k2", T0, 99))
    counters = ReseedingCounters(backend.open(), events)
    denied(counters.admit([], [TOTAL], 0, T0))  # 50,000 spent of 50,000, read from the events
    assert events.reads == [("k1", None, None)]
    lose_everything(backend)
    counters = ReseedingCounters(backend.open(), events)
    denied(counters.admit([], [TOTAL], 0, T0 + 1))
    assert len(events.reads) == 2


def test_a_period_window_is_seeded_from_its_own_events_only(backend):
    events = Events(("k1", T0 - 86_400 * 40, 70_000), ("k1", T0 - 5, 60_000))
    counters = ReseedingCounters(backend.open(), events)
    reservation = admitted(counters.admit([], [MONTHLY], 20_000, T0))  # 60,000 + 20,000 fits
    denied(counters.admit([], [MONTHLY], 1, T0 + 1))
    counters.settle(reservation, 10_000)
    assert counters.spend(MONTHLY, T0 + 2) == 70_000
    ((_, start, end),) = events.reads
    assert start is not None and end is not None and start <= T0 - 5 < T0 < end


def test_seeding_happens_once_per_window_and_once_for_concurrent_requests(backend):
    events = Events(("k1", T0, 1_000), delay_s=0.2)
    counters = ReseedingCounters(backend.open(), events)
    results = []
    threads = [threading.Thread(target=lambda: results.append(counters.admit([], [TOTAL], 100, T0)))
               for _ in range(10)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(results) == 10 and all(not isinstance(r, Exception) for r in results)
    assert len(events.reads) == 1
    for _ in range(5):
        admitted(counters.admit([RateLimit("key:k1", 100, "m")], [TOTAL], 100, T0 + 1))
    assert len(events.reads) == 1  # a seeded window is never read again
    assert counters.spend(TOTAL, T0) == 1_000


def test_spend_settled_after_the_loss_is_not_lost_by_the_seed(backend):
    events = Events(("k1", T0, 10_000))
    counters = ReseedingCounters(backend.open(), events)
    reservation = admitted(counters.admit([], [TOTAL], 5_000, T0))
    lose_everything(backend)
    counters = ReseedingCounters(backend.open(), events)
    counters.settle(reservation, 50_000)  # settles into a window the backend lost
    denied(counters.admit([], [TOTAL], 0, T0 + 1))  # the larger: 50,000, not the events' 10,000
    assert counters.spend(TOTAL, T0) == 50_000


def test_an_unreadable_database_makes_the_window_unavailable_not_free(backend):
    events = Events(("k1", T0, 50_000))
    events.fail = True
    counters = ReseedingCounters(backend.open(), events)
    with pytest.raises(CountersUnavailable):
        counters.admit([], [TOTAL], 0, T0)
    events.fail = False
    denied(counters.admit([], [TOTAL], 0, T0))


def test_a_user_window_starts_from_zero(backend):
    events = Events(("k1", T0, 50_000))
    counters = ReseedingCounters(backend.open(), events)
    admitted(counters.admit([], [CostLimit("user:u1", 50_000, None)], 0, T0))
    assert events.reads == []
