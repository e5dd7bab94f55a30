"""The `ResponseCache` contract on every backend (memory, Redis), and `cached_call`'s
single-flight over it: identical requests in flight make one upstream call.

Each Redis test uses its own key prefix and deletes its keys afterwards. On Redis every simulated
worker has its own client, so the lock is shared through Redis only.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from app.counters.redis import make_redis_client
from app.routing.cache.base import CachedAnswer, CacheUnavailable, ResponseCache, cacheable
from app.routing.cache.flight import Flight, cached_call
from app.routing.cache.memory import MemoryResponseCache
from app.routing.cache.redis import RedisResponseCache

ANSWER = CachedAnswer(200, (("Content-Type", "application/json"),), b'{"id":"c1","x":"\xc3\xa9\n"}')


class Backend:
    """Opens caches that share one state: one instance in memory, a new client each on Redis."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.prefix = f"test:{uuid.uuid4().hex}:"
        self._memory = MemoryResponseCache()
        self._clients: list[redis.Redis] = []

    def open(self) -> ResponseCache:
        if self.name == "memory":
            return self._memory
        client = make_redis_client("127.0.0.1", 6379, None, 2.0, 2.0, max_connections=4)
        self._clients.append(client)
        return RedisResponseCache(client, key_prefix=self.prefix)

    def close(self) -> None:
        if self._clients:
            keys = list(self._clients[0].scan_iter(match=f"{self.prefix}*", count=1000))
            if keys:
                self._clients[0].delete(*keys)
        for client in self._clients:
            client.connection_pool.disconnect()
            client.close()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    opened = Backend(request.param)
    yield opened
    opened.close()


def test_put_then_get_until_the_ttl_ends(backend):
    cache = backend.open()
    assert cache.get("r1:a") is None
    cache.put("r1:a", ANSWER, ttl_s=0.3)
    cache.put("r1:b", ANSWER, ttl_s=30)
    assert backend.open().get("r1:a") == ANSWER  # another worker reads it too
    time.sleep(0.45)
    assert cache.get("r1:a") is None
    assert cache.get("r1:b") == ANSWER


def test_put_replaces_an_answer(backend):
    cache = backend.open()
    cache.put("k", ANSWER, 30)
    other = CachedAnswer(200, (), b"{}")
    cache.put("k", other, 30)
    assert cache.get("k") == other


def test_the_flight_lock_has_one_holder_and_only_its_token_releases_it(backend):
    first, second = backend.open(), backend.open()
    token = first.try_lock("k", lease_s=30)
    assert token and first.locked("k") and second.locked("k")
    assert second.try_lock("k", lease_s=30) is None
    second.unlock("k", "not-the-token")
    assert first.locked("k")
    first.unlock("k", token)
    assert not second.locked("k")
    assert second.try_lock("k", lease_s=30) is not None
    assert not first.locked("other")


def test_a_lease_ends_by_itself_and_a_late_unlock_leaves_the_next_holder_alone(backend):
    first, second = backend.open(), backend.open()
    stale = first.try_lock("k", lease_s=0.2)
    time.sleep(0.35)
    assert not second.locked("k")
    fresh = second.try_lock("k", lease_s=30)
    assert fresh is not None
    first.unlock("k", stale)
    assert second.locked("k")


def _flight(**kw):
    return Flight(clock=time.monotonic, sleep=time.sleep, poll_s=0.01, **kw)


def test_twenty_identical_requests_in_flight_make_one_upstream_call(backend):
    calls = []
    results = []
    start = threading.Barrier(20)

    def compute():
        calls.append(1)
        time.sleep(0.3)  # the upstream call
        return "upstream", ANSWER

    def request():
        cache = backend.open()  # on Redis: a worker of its own
        start.wait()
        served = cached_call(cache, "r1:same", 60, compute, _flight(deadline=time.monotonic() + 10))
        results.append(served)

    threads = [threading.Thread(target=request) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    assert len(calls) == 1
    assert sum(1 for s in results if s.result == "upstream") == 1
    assert sum(1 for s in results if s.hit == ANSWER) == 19
    assert backend.open().get("r1:same") == ANSWER


def test_a_hit_makes_no_call_and_an_uncacheable_result_is_not_stored(backend):
    cache = backend.open()
    served = cached_call(cache, "k", 60, lambda: ("error 500", None), _flight())
    assert served.result == "error 500" and cache.get("k") is None and not cache.locked("k")
    cached_call(cache, "k", 60, lambda: ("ok", ANSWER), _flight())

    def never():
        raise AssertionError("a hit must not go upstream")

    assert cached_call(cache, "k", 60, never, _flight()).hit == ANSWER


def test_followers_compute_for_themselves_when_the_leader_stores_nothing(backend):
    calls = []
    leader_started = threading.Event()

    def failing():
        calls.append("leader")
        leader_started.set()
        time.sleep(0.2)
        return "502", None

    leader = threading.Thread(target=cached_call,
                              args=(backend.open(), "k", 60, failing, _flight()))  # fmt: skip
    leader.start()
    leader_started.wait(5)
    served = cached_call(backend.open(), "k", 60, lambda: ("own", ANSWER), _flight())
    leader.join(5)
    assert calls == ["leader"] and served.result == "own"


def test_a_follower_stops_waiting_at_its_deadline(backend):
    cache = backend.open()
    cache.try_lock("k", lease_s=30)  # a leader that never answers (e.g. a worker killed)
    started = time.monotonic()
    served = cached_call(backend.open(), "k", 60, lambda: ("own", None),
                         _flight(deadline=started + 0.3))  # fmt: skip
    assert served.result == "own" and 0.25 < time.monotonic() - started < 2


def test_only_a_whole_200_is_cacheable_with_its_replayable_headers():
    headers = [("Content-Type", "application/json"), ("Date", "x"), ("x-ratelimit-remaining", "1")]
    assert cacheable(200, headers, b"{}") == CachedAnswer(
        200, (("Content-Type", "application/json"),), b"{}"
    )
    assert cacheable(500, headers, b"{}") is None and cacheable(201, headers, b"{}") is None
    assert CachedAnswer.decode(ANSWER.encode()) == ANSWER


def test_the_memory_cache_evicts_the_least_recently_used_beyond_its_size():
    now = [0.0]
    cache = MemoryResponseCache(max_bytes=3 * ANSWER.size, clock=lambda: now[0])
    for name in "abc":
        cache.put(name, ANSWER, 60)
    assert cache.get("a") == ANSWER  # now "b" is the least recently used
    cache.put("d", ANSWER, 60)
    assert cache.get("b") is None and cache.get("a") == cache.get("c") == cache.get("d") == ANSWER
    now[0] = 61.0
    assert cache.get("a") is None


@pytest.mark.redis
def test_an_unreachable_redis_is_a_miss_and_the_request_goes_upstream():
    client = make_redis_client("127.0.0.1", 1, None, 0.2, 0.2, max_connections=2)
    cache = RedisResponseCache(client, key_prefix="test:down:")
    with pytest.raises(CacheUnavailable):
        cache.get("k")
    served = cached_call(cache, "k", 60, lambda: ("upstream", ANSWER), _flight())
    assert served.result == "upstream"
