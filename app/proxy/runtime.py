"""The proxy's per-process runtime, and how it is built from the settings: the snapshot, the
counters, the upstream pool, the pricer and the event publisher every request shares."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis
from redis.cluster import RedisCluster

from app.config import Settings
from app.counters.base import LimitCounters
from app.counters.memory import MemoryCounters
from app.counters.reseed import ReseedingCounters
from app.pii.detectors import build_detectors
from app.policies.engine import EntityDetector
from app.providers.costs import Pricer
from app.providers.tokens import TokenCounter
from app.proxy.accounting import EventPublisher
from app.proxy.endpoints import EndpointTable
from app.proxy.limits import FailOpen
from app.proxy.relay import StreamsInFlight
from app.proxy.snapshot import SnapshotHolder
from app.proxy.upstream import Upstream, UpstreamPool
from app.routing.cache.base import ResponseCache
from app.routing.cache.factory import build_response_cache
from app.storage.database import Database
from app.storage.events import EventRepository


@dataclass
class ProxyRuntime:
    """What the proxy holds per process."""

    settings: Settings
    endpoints: EndpointTable
    snapshot: SnapshotHolder
    counters: LimitCounters
    pricer: Pricer
    upstream: Upstream
    events: EventPublisher
    fail_open: FailOpen
    route_cache: ResponseCache
    detectors: EntityDetector
    streams: StreamsInFlight = field(default_factory=StreamsInFlight)
    clock: Callable[[], float] = field(default=time.time)  # unix seconds; tests inject their own


def build_redis(settings: Settings) -> redis.Redis | RedisCluster | None:
    """One Redis client (one pool) per process, for the counters and the route cache: TLS,
    username, database and Redis Cluster as `REDIS_*` / `REDIS_URL` say."""
    if not settings.uses_redis:
        return None
    from app.counters.redis import RedisOptions, make_client

    return make_client(RedisOptions.of(settings))


def build_counters(settings: Settings, client: redis.Redis | RedisCluster | None) -> LimitCounters:
    if client is None:
        return MemoryCounters()
    from app.counters.redis import RedisCounters

    # The proxy serves requests on gevent: counter calls of one loop turn share a round trip.
    wait_s = 2 * max(settings.redis_read_timeout, settings.redis_write_timeout) + 1
    return RedisCounters(client, pipeline_wait_s=wait_s)


def build_runtime(settings: Settings, db: Database, events: EventPublisher) -> ProxyRuntime:
    snapshot = SnapshotHolder(db, settings.in_memory_db_update_interval)
    snapshot.start()
    client = build_redis(settings)
    return ProxyRuntime(
        settings=settings,
        endpoints=EndpointTable(),
        snapshot=snapshot,
        # Cost windows a counter backend lost (a Redis restart, a flush) are rebuilt from the
        # events table before a key is admitted against them.
        counters=ReseedingCounters(build_counters(settings, client), EventRepository(db)),
        pricer=Pricer(TokenCounter(), reserve_max_output=settings.cost_estimate_output == "max"),
        # As many connections per origin as a worker accepts clients: with fewer, streams beyond
        # the pool waited for another stream to end (a pool of 256 held half of 1,000 concurrent
        # streams back by a whole stream's length).
        upstream=UpstreamPool(
            connect_timeout_s=min(10.0, settings.proxy_timeout),
            read_timeout_s=settings.proxy_timeout,
            concurrency=settings.gunicorn_worker_connections,
        ),
        events=events,
        fail_open=FailOpen(settings.rate_limit_fail_open, settings.cost_limit_fail_open),
        route_cache=build_response_cache(settings, client),
        detectors=build_detectors(settings),
    )
