"""BatchedLookup: one query at a time, at most one per interval, each answering every identity
that arrived before it started; a request never gets the answer of a query that began before it."""

from __future__ import annotations

import threading
import time

from app.proxy.lookups import BatchedLookup
from app.storage.database import StorageError


def test_an_identity_asked_during_a_query_waits_for_the_next_one():
    started, release = threading.Event(), threading.Event()
    store = {"a": 1}
    seen: list[list[str]] = []

    def fetch(idents):
        seen.append(sorted(idents))
        if len(seen) == 1:
            started.set()
            release.wait(5)
        return {i: store[i] for i in idents if i in store}

    lookup: BatchedLookup[str, int] = BatchedLookup(fetch, min_interval_s=0.0)
    first: list[object] = []
    leader = threading.Thread(target=lambda: first.append(lookup.get("a")))
    leader.start()
    assert started.wait(5)
    store["b"] = 2  # written after the first query began: only a later query may see it
    late: list[object] = []
    follower = threading.Thread(target=lambda: late.append(lookup.get("b")))
    follower.start()
    time.sleep(0.05)
    release.set()
    leader.join(5)
    follower.join(5)
    assert first[0].value == 1 and late[0].value == 2
    assert seen == [["a"], ["b"]]


def test_queries_are_spaced_by_the_interval_and_batch_what_arrived():
    calls: list[float] = []

    def fetch(idents):
        calls.append(time.monotonic())
        return {}

    lookup: BatchedLookup[str, int] = BatchedLookup(fetch, min_interval_s=0.1)
    threads = [threading.Thread(target=lookup.get, args=(f"k{i}",)) for i in range(30)]
    for thread in threads:
        thread.start()
        time.sleep(0.01)
    for thread in threads:
        thread.join(5)
    assert lookup.asked == 30
    assert 2 <= lookup.queries <= 5  # 0.3 s of arrivals, one query per 0.1 s
    gaps = [b - a for a, b in zip(calls, calls[1:], strict=False)]
    assert all(gap >= 0.099 for gap in gaps)


def test_a_full_batch_sheds_and_a_failed_query_says_so():
    def failing(idents):
        raise StorageError("down")

    lookup: BatchedLookup[str, int] = BatchedLookup(failing, min_interval_s=0.0)
    assert lookup.get("x").failed

    gate = threading.Event()
    slow: BatchedLookup[str, int] = BatchedLookup(
        lambda idents: gate.wait(5) and {}, min_interval_s=0.0, max_batch=1
    )
    holder = threading.Thread(target=slow.get, args=("first",))
    holder.start()
    time.sleep(0.05)  # "first" is in flight; the next batch opens with one identity
    waiting = threading.Thread(target=slow.get, args=("second",))
    waiting.start()
    time.sleep(0.05)
    assert slow.get("third").failed and slow.shed == 1
    gate.set()
    holder.join(5)
    waiting.join(5)
