"""The limit counters on a real three-node Redis Cluster: one slot per script, exact limits when
two worker processes admit at once."""

from __future__ import annotations

import multiprocessing
import time
import uuid

import pytest
from redis.cluster import RedisCluster

from app.config import Settings
from app.counters.base import CostLimit, Denial, RateLimit, Reservation
from app.counters.redis import RedisCounters, build_redis_counters, cluster_prefix
from tests.functional.redis_cluster import PrivateRedisCluster

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    with PrivateRedisCluster() as running:
        yield running


def _counters(cluster: PrivateRedisCluster, prefix: str) -> RedisCounters:
    settings = Settings.from_env({**cluster.env, "REDIS_READ_TIME_OUT": "2s"})
    return build_redis_counters(settings, key_prefix=prefix)


def test_settings_build_a_cluster_client_with_hash_tagged_keys(cluster):
    counters = _counters(cluster, "bricks:")
    assert isinstance(counters._client, RedisCluster)
    assert counters._prefix == "{bricks}:" == cluster_prefix("bricks:")
    # Whoever builds the counters on a cluster client gets the hash tag without asking for it.
    assert RedisCounters(counters._client, key_prefix="other:")._prefix == "{other}:"


def test_one_admit_touches_the_windows_of_several_scopes_and_settles(cluster):
    counters = _counters(cluster, f"t{uuid.uuid4().hex[:8]}:")
    now = time.time()
    rates = [RateLimit("key:a", 2, "m"), RateLimit("user:u", 5, "h")]
    costs = [CostLimit("key:a", 1000, None), CostLimit("user:u", 5000, "d")]
    first = counters.admit(rates, costs, 100, now)
    assert isinstance(first, Reservation)
    counters.settle(first, 300)
    assert counters.spend(costs[0], now) == 300 and counters.spend(costs[1], now) == 300
    assert isinstance(counters.admit(rates, costs, 100, now), Reservation)
    assert isinstance(counters.admit(rates, costs, 100, now), Denial)  # the key's 2 a minute


def _admit_many(env: dict[str, str], prefix: str, attempts: int, results, barrier) -> None:
    counters = build_redis_counters(Settings.from_env(env), key_prefix=prefix)
    rate = [RateLimit("key:shared", 25, "h")]
    counters.spend(CostLimit("key:warm", 1, None), time.time())  # connected before the race
    barrier.wait(30)
    admitted = sum(isinstance(counters.admit(rate, [], 0, time.time()), Reservation)
                   for _ in range(attempts))  # fmt: skip
    results.put(admitted)


def test_limits_are_exact_with_two_workers(cluster):
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[int] = context.Queue()
    barrier = context.Barrier(2)
    workers = [context.Process(target=_admit_many, args=(cluster.env, prefix, 40, results, barrier))
               for _ in range(2)]  # fmt: skip
    for worker in workers:
        worker.start()
    counts = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(30)
    assert sum(counts) == 25 and all(count > 0 for count in counts), counts
