"""The `LimitCounters` contract, run against every backend (memory, Redis), plus Redis failure modes.

Times are fixed unix seconds passed as `now`, so windows roll over without sleeping. Each Redis test
uses its own key prefix and deletes its keys afterwards.
"""

from __future__ import annotations

import calendar
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from app.counters.base import (
    CostLimit,
    CountersUnavailable,
    Denial,
    LimitCounters,
    RateLimit,
    Reservation,
)
from app.counters.memory import MemoryCounters
from app.counters.redis import RedisCounters, make_redis_client

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


def utc(*parts: int) -> int:
    """Unix time of a UTC date and time: utc(2024, 5, 15, 10, 0, 0)."""
    padded = (*parts, *(0,) * (6 - len(parts)))
    return calendar.timegm((*padded, 0, 0, 0))


T0 = utc(2024, 5, 15, 10, 0, 0)  # the start of a minute, an hour and a day, mid-month
KEY = "key:k1"


class Backend:
    """Opens counters that share one state: one instance in memory, a new client each on Redis."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.prefix = f"test:{uuid.uuid4().hex}:"
        self._memory: MemoryCounters | None = None
        self._clients: list[redis.Redis] = []

    def open(self, reservation_ttl_s: float = 900.0) -> LimitCounters:
        if self.name == "memory":
            if self._memory is None:
                self._memory = MemoryCounters(reservation_ttl_s=reservation_ttl_s)
            return self._memory
        client = make_redis_client(REDIS_HOST, REDIS_PORT, None, 2.0, 2.0, max_connections=4)
        self._clients.append(client)
        wait_s = 5.0 if self.name == "redis-pipelined" else None
        return RedisCounters(client, key_prefix=self.prefix, reservation_ttl_s=reservation_ttl_s,
                             pipeline_wait_s=wait_s)  # fmt: skip

    def redis(self) -> redis.Redis:
        assert self._clients, "open() first"
        return self._clients[0]

    def close(self) -> None:
        if self._clients:
            keys = list(self._clients[0].scan_iter(match=f"{self.prefix}*", count=1000))
            if keys:
                self._clients[0].delete(*keys)
        for client in self._clients:
            client.connection_pool.disconnect()
            client.close()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis),
                        pytest.param("redis-pipelined", marks=pytest.mark.redis)])  # fmt: skip
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    opened = Backend(request.param)
    yield opened
    opened.close()


@pytest.fixture
def counters(backend: Backend) -> LimitCounters:
    return backend.open()


def admitted(result: Reservation | Denial) -> Reservation:
    assert isinstance(result, Reservation), result
    return result


def denied(result: Reservation | Denial) -> Denial:
    assert isinstance(result, Denial), result
    return result


# --- rate limits ---------------------------------------------------------------------------------


def test_rate_limit_admits_exactly_the_limit_within_a_window(counters: LimitCounters) -> None:
    rate = RateLimit(KEY, 5, "m")
    for offset in (0, 10, 20.5, 30, 59):
        admitted(counters.admit([rate], [], 0, T0 + offset))
    denial = denied(counters.admit([rate], [], 0, T0 + 59.5))
    assert denial.limit == rate
    assert denial.retry_after_s == 1


@pytest.mark.parametrize(("unit", "length"), [("s", 1), ("m", 60), ("h", 3600), ("d", 86400)])
def test_rate_window_rolls_over_at_its_end(counters: LimitCounters, unit: str, length: int) -> None:
    rate, start = RateLimit(KEY, 2, unit), utc(2024, 5, 15)  # midnight starts every unit
    admitted(counters.admit([rate], [], 0, start))
    admitted(counters.admit([rate], [], 0, start + length - 0.5))
    denied(counters.admit([rate], [], 0, start + length - 0.001))
    admitted(counters.admit([rate], [], 0, start + length))
    admitted(counters.admit([rate], [], 0, start + length + 0.5))
    denied(counters.admit([rate], [], 0, start + length + 0.9))


def test_retry_after_is_the_time_left_in_the_failing_window(counters: LimitCounters) -> None:
    rate = RateLimit(KEY, 1, "h")
    admitted(counters.admit([rate], [], 0, T0))
    assert denied(counters.admit([rate], [], 0, T0 + 1200.3)).retry_after_s == 2400
    daily = CostLimit(KEY, 100, "d")
    counters.add_spend([daily], 100, T0)
    assert denied(counters.admit([], [daily], 0, T0 + 3600)).retry_after_s == 13 * 3600
    total = CostLimit("user:u1", 100, None)
    counters.add_spend([total], 100, T0)
    assert denied(counters.admit([], [total], 0, T0)).retry_after_s is None


def test_rate_limits_are_per_scope(counters: LimitCounters) -> None:
    admitted(counters.admit([RateLimit("key:a", 1, "m")], [], 0, T0))
    admitted(counters.admit([RateLimit("key:b", 1, "m")], [], 0, T0))
    denied(counters.admit([RateLimit("key:a", 1, "m")], [], 0, T0))


# --- cost limits and reservations ----------------------------------------------------------------


def test_reservations_block_admission_beyond_the_limit(counters: LimitCounters) -> None:
    cost = CostLimit(KEY, 100, "d")
    for _ in range(3):
        admitted(counters.admit([], [cost], 30, T0))
    denial = denied(counters.admit([], [cost], 30, T0))
    assert denial.limit == cost
    assert denial.retry_after_s == 14 * 3600
    admitted(counters.admit([], [cost], 10, T0))  # 90 reserved + 10 is exactly the limit
    denied(counters.admit([], [cost], 0, T0))  # nothing left, not even for a zero estimate


def test_settling_lower_than_the_estimate_frees_budget(counters: LimitCounters) -> None:
    cost = CostLimit(KEY, 100, "d")
    first, *_ = [admitted(counters.admit([], [cost], 30, T0)) for _ in range(3)]
    denied(counters.admit([], [cost], 30, T0))
    counters.settle(first, 10)
    assert counters.spend(cost, T0) == 10
    admitted(counters.admit([], [cost], 30, T0))  # 10 spent + 60 reserved + 30
    denied(counters.admit([], [cost], 1, T0))


def test_settling_higher_than_the_estimate_records_the_actual(counters: LimitCounters) -> None:
    cost = CostLimit(KEY, 100, "d")
    reservation = admitted(counters.admit([], [cost], 30, T0))
    counters.settle(reservation, 90)
    assert counters.spend(cost, T0) == 90
    denied(counters.admit([], [cost], 30, T0))
    admitted(counters.admit([], [cost], 10, T0))


def test_a_budget_spent_to_the_limit_refuses_a_zero_estimate(counters: LimitCounters) -> None:
    cost = CostLimit(KEY, 100, "mo")
    admitted(counters.admit([], [cost], 0, T0))
    counters.add_spend([cost], 99, T0)
    admitted(counters.admit([], [cost], 0, T0))
    denied(counters.admit([], [cost], 2, T0))
    counters.add_spend([cost], 1, T0)
    assert counters.spend(cost, T0) == 100
    denied(counters.admit([], [cost], 0, T0))


def test_a_zero_estimate_reservation_settles_its_actual_cost(counters: LimitCounters) -> None:
    cost = CostLimit(KEY, 100, "d")
    reservation = admitted(counters.admit([], [cost], 0, T0))
    counters.settle(reservation, 40)
    assert counters.spend(cost, T0) == 40


def test_expired_reservations_stop_counting(counters: LimitCounters) -> None:
    cost = CostLimit(KEY, 100, "d")
    stale = admitted(counters.admit([], [cost], 60, T0))
    denied(counters.admit([], [cost], 60, T0 + 899))
    fresh = admitted(counters.admit([], [cost], 60, T0 + 900))  # the default ttl is 15 minutes
    # A late settle still records its spend, and does not release what it no longer holds.
    counters.settle(stale, 20)
    assert counters.spend(cost, T0 + 900) == 20
    admitted(counters.admit([], [cost], 20, T0 + 900))  # 20 spent + 60 (fresh) + 20
    denied(counters.admit([], [cost], 1, T0 + 900))
    counters.settle(fresh, 0)
    admitted(counters.admit([], [cost], 60, T0 + 900))


def test_the_reservation_ttl_is_configurable(backend: Backend) -> None:
    counters = backend.open(reservation_ttl_s=60)
    cost = CostLimit(KEY, 100, None)
    admitted(counters.admit([], [cost], 100, T0))
    denied(counters.admit([], [cost], 1, T0 + 59.9))
    admitted(counters.admit([], [cost], 100, T0 + 60))


def test_total_and_periodic_windows(counters: LimitCounters) -> None:
    total, daily = CostLimit(KEY, 100, None), CostLimit(KEY, 50, "d")
    counters.add_spend([total, daily], 40, T0)
    day2 = T0 + 86400
    assert (counters.spend(total, T0), counters.spend(daily, T0)) == (40, 40)
    assert (counters.spend(total, day2), counters.spend(daily, day2)) == (40, 0)
    reservation = admitted(counters.admit([], [total, daily], 50, day2))
    counters.settle(reservation, 50)
    assert (counters.spend(total, day2), counters.spend(daily, day2)) == (90, 50)
    denial = denied(counters.admit([], [total, daily], 20, day2 + 86400))
    assert denial == Denial(total, None)


def test_month_boundary(counters: LimitCounters) -> None:
    monthly = CostLimit(KEY, 100, "mo")
    last_second = utc(2024, 1, 31, 23, 59, 59)
    counters.add_spend([monthly], 90, last_second)
    late = admitted(counters.admit([], [monthly], 10, last_second))
    assert denied(counters.admit([], [monthly], 0, last_second + 0.5)).retry_after_s == 1
    february = utc(2024, 2, 1)
    admitted(counters.admit([], [monthly], 100, february))
    # Settled after the rollover, the cost lands in the month that admitted it.
    counters.settle(late, 10)
    assert counters.spend(monthly, last_second) == 100
    assert counters.spend(monthly, february) == 0


def test_settle_lands_in_the_window_current_at_admission(counters: LimitCounters) -> None:
    daily = CostLimit(KEY, 100, "d")
    before_midnight = utc(2024, 5, 15, 23, 59, 59)
    reservation = admitted(counters.admit([], [daily], 10, before_midnight))
    counters.settle(reservation, 25)
    assert counters.spend(daily, before_midnight) == 25
    assert counters.spend(daily, before_midnight + 1) == 0


# --- atomicity and limits passed per call --------------------------------------------------------


def test_a_cost_denial_does_not_take_the_rate_slot(counters: LimitCounters) -> None:
    rate, cost = RateLimit(KEY, 1, "m"), CostLimit(KEY, 100, "d")
    counters.add_spend([cost], 100, T0)
    assert denied(counters.admit([rate], [cost], 0, T0)).limit == cost
    admitted(counters.admit([rate], [], 0, T0))
    denied(counters.admit([rate], [], 0, T0))


def test_a_rate_denial_takes_nothing(counters: LimitCounters) -> None:
    key_rate, user_rate = RateLimit(KEY, 2, "m"), RateLimit("user:u1", 1, "m")
    cost = CostLimit(KEY, 100, "d")
    admitted(counters.admit([key_rate, user_rate], [], 0, T0))
    assert denied(counters.admit([key_rate, user_rate], [cost], 60, T0)).limit == user_rate
    admitted(counters.admit([key_rate], [cost], 100, T0))  # neither slot nor budget was taken


def test_the_denial_names_the_first_failing_limit_in_order(counters: LimitCounters) -> None:
    a, b = RateLimit("key:a", 1, "m"), RateLimit("user:b", 1, "h")
    cost = CostLimit("key:a", 10, None)
    counters.add_spend([cost], 10, T0)
    admitted(counters.admit([a, b], [], 0, T0))
    assert denied(counters.admit([a, b], [cost], 0, T0)).limit == a
    assert denied(counters.admit([b, a], [cost], 0, T0)).limit == b
    assert denied(counters.admit([], [cost], 0, T0)).limit == cost


def test_raising_a_limit_readmits_at_once(counters: LimitCounters) -> None:
    rate, cost = RateLimit(KEY, 2, "m"), CostLimit(KEY, 100, "d")
    counters.add_spend([cost], 100, T0)
    for _ in range(2):
        admitted(counters.admit([rate], [], 0, T0))
    denied(counters.admit([rate], [], 0, T0))
    denied(counters.admit([], [cost], 0, T0))
    admitted(counters.admit([RateLimit(KEY, 3, "m")], [CostLimit(KEY, 150, "d")], 50, T0))


def test_no_limits_admits_and_settles_without_counting(counters: LimitCounters) -> None:
    reservation = admitted(counters.admit([], [], 500, T0))
    assert reservation.windows == ()
    counters.settle(reservation, 700)


def test_invalid_calls_are_refused(counters: LimitCounters) -> None:
    with pytest.raises(ValueError):
        counters.admit([], [CostLimit(KEY, 100, "d")], -1, T0)
    with pytest.raises(ValueError):
        counters.admit([RateLimit(KEY, 1, "m"), RateLimit(KEY, 5, "m")], [], 0, T0)
    with pytest.raises(ValueError):
        counters.add_spend([CostLimit(KEY, 100, "d")], -5, T0)


# --- concurrency ---------------------------------------------------------------------------------


def _race(
    backend: Backend, calls: int, call: Callable[[LimitCounters], Reservation | Denial]
) -> list[Reservation | Denial]:
    """Run `call(counters)` from `calls` threads at once, each with its own client on Redis."""
    clients = [backend.open() for _ in range(calls)]
    barrier = threading.Barrier(calls)

    def run(counters: LimitCounters) -> Reservation | Denial:
        barrier.wait()
        return call(counters)

    with ThreadPoolExecutor(max_workers=calls) as pool:
        return list(pool.map(run, clients))


def test_concurrent_admits_take_exactly_the_rate_limit(backend: Backend) -> None:
    rate = RateLimit(KEY, 20, "m")
    results = _race(backend, 200, lambda c: c.admit([rate], [], 0, T0 + 5))
    assert sum(isinstance(r, Reservation) for r in results) == 20


def test_concurrent_reservations_hold_the_budget(backend: Backend) -> None:
    cost = CostLimit(KEY, 100, "d")
    results = _race(backend, 50, lambda c: c.admit([], [cost], 30, T0))
    assert sum(isinstance(r, Reservation) for r in results) == 3


# --- Redis specifics -----------------------------------------------------------------------------


@pytest.mark.redis
def test_redis_keys_expire_after_their_window_and_totals_never() -> None:
    backend = Backend("redis")
    try:
        counters = backend.open()
        client = backend.redis()
        now = T0 + 15
        daily, total = CostLimit(KEY, 100, "d"), CostLimit(KEY, 100, None)
        reservation = admitted(counters.admit([RateLimit(KEY, 5, "m")], [daily, total], 10, now))
        rate_ttl = client.ttl(f"{backend.prefix}rl:{KEY}:m:{T0}")
        assert 45 <= rate_ttl <= 45 + 60
        day_ttl = client.ttl(f"{backend.prefix}cs:{KEY}:d:{utc(2024, 5, 15)}")
        assert 14 * 3600 - 15 <= day_ttl <= 14 * 3600 + 900 + 60
        assert client.ttl(f"{backend.prefix}cs:{KEY}:total") == -1
        counters.settle(reservation, 10)
        # A settled reservation leaves no member behind; an empty zset is no key at all.
        assert not client.exists(f"{backend.prefix}cr:{KEY}:total")
    finally:
        backend.close()


def test_memory_drops_ended_windows_and_keeps_current_ones() -> None:
    counters = MemoryCounters(reservation_ttl_s=60)
    rate, daily = RateLimit(KEY, 1, "m"), CostLimit(KEY, 100, "d")
    for minute in range(30):
        admitted(counters.admit([rate], [daily], 1, T0 + 60 * minute))
    denied(counters.admit([rate], [], 0, T0 + 60 * 29 + 30))  # the current minute survived
    assert len(counters._rates) <= 2
    next_day = T0 + 86400 * 2
    admitted(counters.admit([], [daily], 100, next_day))  # yesterday's reservations are gone
    assert len(counters._costs) == 1


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_redis_on_a_closed_port_is_unavailable_quickly() -> None:
    client = make_redis_client("127.0.0.1", _closed_port(), None, 0.5, 0.5)
    counters = RedisCounters(client, key_prefix="test:closed:")
    started = time.monotonic()
    with pytest.raises(CountersUnavailable):
        counters.admit([RateLimit(KEY, 1, "m")], [], 0, T0)
    with pytest.raises(CountersUnavailable):
        counters.settle(Reservation("r", (f"{KEY}:d:{T0}",), 5), 5)
    with pytest.raises(CountersUnavailable):
        counters.spend(CostLimit(KEY, 1, "d"), T0)
    assert time.monotonic() - started < 1.5


def test_redis_that_never_answers_times_out() -> None:
    with socket.socket() as silent:  # accepts connections (backlog) and never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        client = make_redis_client("127.0.0.1", port, None, 0.3, 0.3)
        counters = RedisCounters(client, key_prefix="test:silent:")
        started = time.monotonic()
        with pytest.raises(CountersUnavailable):
            counters.admit([RateLimit(KEY, 1, "m")], [], 0, T0)
        assert time.monotonic() - started < 1.5
        client.connection_pool.disconnect()


@pytest.mark.redis
def test_an_exhausted_pool_is_unavailable_after_the_pool_timeout() -> None:
    client = make_redis_client(REDIS_HOST, REDIS_PORT, None, 1.0, 1.0, 1, pool_timeout_s=0.2)
    held = client.connection_pool.get_connection()
    try:
        started = time.monotonic()
        with pytest.raises(CountersUnavailable):
            RedisCounters(client, key_prefix="test:pool:").admit(
                [RateLimit(KEY, 1, "m")], [], 0, T0
            )
        assert time.monotonic() - started < 1.0
    finally:
        client.connection_pool.release(held)
        client.connection_pool.disconnect()


def test_make_redis_client_uses_the_first_of_redis_hosts() -> None:
    client = make_redis_client(" , redis-a , redis-b", 6380, "", 1.0, 0.5, 8, 2.0)
    kwargs = client.connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["password"]) == ("redis-a", 6380, None)
    assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (1.0, 0.5)
    assert client.connection_pool.max_connections == 8
    with pytest.raises(ValueError):
        make_redis_client(" ", 6379, None, 1.0, 1.0)


@pytest.mark.redis
def test_pipelined_calls_of_one_turn_share_a_round_trip_and_keep_their_answers(monkeypatch) -> None:
    """200 greenlets admitting at once through one pipelined client: exactly the limit admitted,
    each caller its own answer, far fewer round trips than calls, and every reservation settles."""
    import gevent

    from app.counters.pipelining import ScriptPipeline

    backend = Backend("redis-pipelined")
    counters = backend.open()
    flushes = []
    original = ScriptPipeline._send
    monkeypatch.setattr(
        ScriptPipeline,
        "_send",
        lambda self, calls: flushes.append(len(calls)) or original(self, calls),
    )
    rate, cost = RateLimit(KEY, 20, "m"), CostLimit(KEY, 10_000, "d")
    try:
        jobs = [gevent.spawn(counters.admit, [rate], [cost], 10, T0 + 5) for _ in range(200)]
        gevent.joinall(jobs, raise_error=True)
        results = [job.value for job in jobs]
        assert sum(isinstance(r, Reservation) for r in results) == 20
        assert all(
            isinstance(r, Denial) and r.limit == rate
            for r in results
            if not isinstance(r, Reservation)
        )
        settles = [
            gevent.spawn(counters.settle, r, 7) for r in results if isinstance(r, Reservation)
        ]
        gevent.joinall(settles, raise_error=True)
        assert counters.spend(cost, T0 + 5) == 20 * 7
        assert sum(flushes) == 220 and len(flushes) < 20
    finally:
        backend.close()


@pytest.mark.redis
def test_a_pipelined_client_that_cannot_connect_fails_every_caller_quickly() -> None:
    import gevent

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = make_redis_client("127.0.0.1", port, None, 0.5, 0.5, max_connections=2)
    counters = RedisCounters(client, key_prefix="test:pipe-down:", pipeline_wait_s=3.0)
    started = time.monotonic()
    jobs = [gevent.spawn(counters.admit, [RateLimit(KEY, 5, "m")], [], 0, T0) for _ in range(10)]
    gevent.joinall(jobs)
    assert all(isinstance(job.exception, CountersUnavailable) for job in jobs)
    assert time.monotonic() - started < 2


@pytest.mark.redis
def test_a_failing_script_call_fails_alone_in_its_pipelined_round_trip() -> None:
    """One call of a batch gets an error answer (its key holds the wrong type); the calls sent with
    it still get their own answers, and the connection serves the next batch."""
    import gevent

    backend = Backend("redis-pipelined")
    counters = backend.open()
    client = backend.redis()
    broken, good = RateLimit("broken-key", 5, "m"), RateLimit(KEY, 5, "m")
    try:
        client.set(f"{backend.prefix}rl:broken-key:m:{T0}", "not a counter")
        jobs = [
            gevent.spawn(counters.admit, [limit], [], 0, T0 + 1) for limit in (good, broken, good)
        ]
        gevent.joinall(jobs)
        assert isinstance(jobs[0].value, Reservation) and isinstance(jobs[2].value, Reservation)
        assert isinstance(jobs[1].exception, redis.ResponseError)
        assert isinstance(counters.admit([good], [], 0, T0 + 1), Reservation)  # third of 5
    finally:
        backend.close()


@pytest.mark.redis
def test_pipelined_counters_reload_their_scripts_after_a_script_flush() -> None:
    backend = Backend("redis-pipelined")
    counters = backend.open()
    cost = CostLimit(KEY, 1_000, "d")
    try:
        first = counters.admit([], [cost], 100, T0)
        assert isinstance(first, Reservation)
        backend.redis().script_flush()  # what a Redis restart does to loaded scripts
        counters.settle(first, 40)
        assert isinstance(counters.admit([], [cost], 100, T0), Reservation)
        assert counters.spend(cost, T0) == 40
    finally:
        backend.close()
