"""Builds the process's response cache from the settings: Redis when `REDIS_HOSTS` is set (shared
by every worker and replica), in-process memory otherwise."""

from __future__ import annotations

import redis

from app.config import Settings
from app.routing.cache.base import ResponseCache
from app.routing.cache.memory import MemoryResponseCache
from app.routing.cache.redis import RedisResponseCache


def build_response_cache(settings: Settings, client: redis.Redis | None = None) -> ResponseCache:
    """`client`: share the counters' Redis client (one pool per process); None builds one."""
    if not settings.uses_redis:
        return MemoryResponseCache()
    if client is None:
        from app.counters.redis import make_redis_client

        client = make_redis_client(
            settings.redis_hosts, settings.redis_port, settings.redis_password,
            settings.redis_read_timeout, settings.redis_write_timeout,
            max_connections=settings.redis_pool_size,
        )  # fmt: skip
    return RedisResponseCache(client)
