"""The limit counters through a real sentinel when the master is demoted under them: pooled
connections to the old master answer READONLY, which fails that call as an outage (never a wrong
count, never an unexpected error), and the next call is counted on the master the sentinel names."""

from __future__ import annotations

import time

import pytest

from app.config import Settings
from app.counters.base import CountersUnavailable, RateLimit, Reservation
from app.counters.redis import build_redis_counters
from tests.functional.redis_sentinel import PrivateRedisSentinel

pytestmark = [pytest.mark.slow, pytest.mark.redis]
# A forced failover promotes the replica in a few seconds (see redis_sentinel.py).
FAILOVER_BOUND_S = 15.0


def test_a_demoted_master_fails_one_call_and_the_next_is_counted_on_the_new_one():
    with PrivateRedisSentinel() as sentinel:
        counters = build_redis_counters(Settings.from_env(sentinel.env), key_prefix="ro:")
        rate = RateLimit("key:k", 100, "h")
        assert isinstance(counters.admit([rate], [], 0, time.time()), Reservation)

        old = sentinel.current_master_port()
        sentinel.sentinel_client().sentinel_failover(sentinel.name)
        new = sentinel.wait_for_failover(old, FAILOVER_BOUND_S)
        # Demote the old master as a returning master is, without the sentinel's CLIENT KILL:
        # the counters' pooled connection to it stays open and meets READONLY.
        sentinel.node(old).replicaof("127.0.0.1", new)

        after = RateLimit("key:after", 100, "h")  # a window of its own: none of it replicated
        outcomes = []
        for _ in range(2):
            try:
                outcomes.append(counters.admit([after], [], 0, time.time()))
            except CountersUnavailable as exc:
                outcomes.append(exc)
        # The old connection fails as an outage (or was already dropped); the next is admitted.
        if isinstance(outcomes[0], CountersUnavailable):
            assert "previous master is now a slave" in str(outcomes[0])
        assert isinstance(outcomes[1], Reservation), outcomes
        [window] = sentinel.node(new).keys("ro:rl:key:after:h:*")
        admitted = sum(isinstance(outcome, Reservation) for outcome in outcomes)
        assert int(sentinel.node(new).get(window)) == admitted  # each admit, on the new master
