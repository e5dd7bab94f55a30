"""Builds the process's response cache from the settings: Redis when `REDIS_HOSTS` is set (shared
by every worker and replica), in-process memory otherwise."""

from __future__ import annotations

import redis
from redis.cluster import RedisCluster

from app.config import Settings
from app.routing.cache.base import ResponseCache
from app.routing.cache.memory import MemoryResponseCache
from app.routing.cache.redis import RedisResponseCache


def build_response_cache(
    settings: Settings, client: redis.Redis | RedisCluster | None = None
) -> ResponseCache:
    """`client`: share the counters' Redis client (one pool per process); None builds one."""
    if not settings.uses_redis:
        return MemoryResponseCache()
    if client is None:  # the same client as the counters would build: TLS, cluster, sentinel
        from app.counters.redis import RedisOptions, make_client

        client = make_client(RedisOptions.of(settings))
    return RedisResponseCache(client)
