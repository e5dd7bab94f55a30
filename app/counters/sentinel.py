"""Redis Sentinel: a client of whichever node the sentinels name master (`REDIS_SENTINEL_MASTER`).

`make_sentinel_client` returns the `redis.Redis` of `Sentinel(...).master_for(...)`, so the
counters, the route cache and readiness use it as they use a plain client (and the counters keep
their pipelined round trip: one master holds every key). Its pool is a blocking one like the plain
client's: all `REDIS_POOL_SIZE` connections busy, a caller waits at most the pool timeout, where
redis-py's own sentinel pool would fail at once ("Too many connections") and fail a burst open.

Failover: each new connection asks the sentinels for the master's address first, and a changed
address disconnects the idle connections of the pool. A connection to a master that was killed
fails (`ConnectionError`); one to a master that was demoted answers READONLY, which redis-py's
`SentinelManagedConnection` turns into a `ConnectionError` after disconnecting. Either way the
call fails as an outage would (the fail-open/fail-closed policy), the connection is dropped, and
the next one connects to whichever master the sentinels name by then. Nothing retries a call: a
retried admit that had run would take a second slot.

Every network call is bounded: the sentinels get the same connect and command timeouts as the
master, so an unreachable sentinel costs at most a timeout before the next one is asked.

Master discovery is redis-py's but for one race (`_Sentinel`): redis-py moves the sentinel that
answered to the front of its list by swapping in place, while other greenlets may be walking the
same list; one that was on an unreachable sentinel then steps to it again, skips the live one and
fails with "No master found" (seen with two workers when the first sentinel listed was down: a
rate-limited request admitted past its limit, fail-open).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import redis
from redis.backoff import NoBackoff
from redis.connection import BlockingConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from redis.sentinel import MasterNotFoundError, Sentinel, SentinelConnectionPool

if TYPE_CHECKING:
    from app.counters.redis import RedisOptions


class BlockingSentinelConnectionPool(SentinelConnectionPool, BlockingConnectionPool):
    """`SentinelConnectionPool` (master discovery, connections dropped when the master moves) with
    `BlockingConnectionPool`'s bounded wait for a free connection. The sentinel pool only adds
    discovery around a connection's `connect` and the ownership test of `release`, which the
    blocking pool's `release` honours, so the two combine without overriding anything."""


class _Sentinel(Sentinel):
    """`Sentinel` whose master discovery walks a copy of the sentinels' list and puts the one that
    answered first in a new list, so concurrent discoveries never skip a sentinel."""

    def discover_master(self, service_name: str) -> tuple[str, int]:
        errors: list[str] = []
        for sentinel in list(self.sentinels):
            try:  # a dict by master name (redis-py types it loosely)
                masters: Any = sentinel.sentinel_masters()
            except (RedisConnectionError, ResponseError, RedisTimeoutError) as exc:
                address = "{host}:{port}".format_map(sentinel.connection_pool.connection_kwargs)
                errors.append(f"{address}: {exc}")
                continue
            state = masters.get(service_name)
            if state and self.check_master_state(state, service_name):  # type: ignore[no-untyped-call]
                # Asked first next time; a new list, as others may be walking the current one.
                self.sentinels = [sentinel, *(s for s in self.sentinels if s is not sentinel)]
                return state["ip"], int(state["port"])
        detail = f": {'; '.join(errors)}" if errors else ""
        raise MasterNotFoundError(f"No master found for {service_name!r}{detail}")


def make_sentinel_client(
    options: RedisOptions, sentinels: list[tuple[str, int]], pool_timeout_s: float
) -> redis.Redis:
    """The master's client: `options`' credentials, database, timeouts and TLS on the master,
    the same timeouts and TLS (and `options.sentinel_password`) on the sentinels."""
    kwargs = options.connection_kwargs()
    sentinel = _Sentinel(sentinels, sentinel_kwargs=_sentinel_kwargs(options, kwargs))
    return sentinel.master_for(  # type: ignore[no-any-return]  # redis-py leaves it untyped
        options.sentinel_master,
        connection_pool_class=BlockingSentinelConnectionPool,
        db=options.db,
        max_connections=options.max_connections,
        timeout=pool_timeout_s,
        # No retries: a retried admit that had already run would take a second slot.
        retry=Retry(NoBackoff(), 0),
        **kwargs,
    )


def _sentinel_kwargs(options: RedisOptions, master_kwargs: dict[str, Any]) -> dict[str, Any]:
    """How each sentinel is reached: the master's timeouts and TLS, the sentinels' own password
    (none unless set: a sentinel usually has none while the data nodes do)."""
    kwargs = {k: v for k, v in master_kwargs.items() if k not in ("password", "username")}
    return {**kwargs, "password": options.sentinel_password or None,
            "retry": Retry(NoBackoff(), 0)}  # fmt: skip
