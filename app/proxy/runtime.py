"""Builds the proxy's per-process runtime from the settings: snapshot, counters, upstream pool."""

from __future__ import annotations

from app.config import Settings
from app.counters.base import LimitCounters
from app.counters.memory import MemoryCounters
from app.providers.costs import Pricer
from app.providers.tokens import TokenCounter
from app.proxy.accounting import EventPublisher
from app.proxy.pipeline import ProxyRuntime
from app.proxy.routes import RouteTable
from app.proxy.snapshot import SnapshotHolder
from app.proxy.upstream import UpstreamPool
from app.storage.database import Database


def build_counters(settings: Settings) -> LimitCounters:
    if not settings.uses_redis:
        return MemoryCounters()
    from app.counters.redis import RedisCounters, make_redis_client

    client = make_redis_client(
        settings.redis_hosts, settings.redis_port, settings.redis_password,
        settings.redis_read_timeout, settings.redis_write_timeout,
        max_connections=settings.redis_pool_size,
    )  # fmt: skip
    return RedisCounters(client)


def build_runtime(settings: Settings, db: Database, events: EventPublisher) -> ProxyRuntime:
    snapshot = SnapshotHolder(db, settings.in_memory_db_update_interval)
    snapshot.start()
    return ProxyRuntime(
        settings=settings,
        routes=RouteTable(),
        snapshot=snapshot,
        counters=build_counters(settings),
        pricer=Pricer(TokenCounter()),
        upstream=UpstreamPool(connect_timeout_s=min(10.0, settings.proxy_timeout),
                              read_timeout_s=settings.proxy_timeout),  # fmt: skip
        events=events,
    )
