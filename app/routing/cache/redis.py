"""Redis response cache: answers and flight locks shared by every worker and replica.

Keys (`<p>` = key prefix, `<k>` = the cache key of `keys.py`):
- `<p>rc:<k>`   string: a `CachedAnswer.encode()` value, expiring after the route's ttl
- `<p>rcl:<k>`  string: the flight lock's token, expiring after its lease (SET NX PX)
Unlock deletes the lock only when it still holds the caller's token (a small Lua script), so a
holder whose lease ran out cannot release the next holder's lock. Connection errors and timeouts
surface as `CacheUnavailable`.
"""

from __future__ import annotations

import uuid

import gevent
import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.routing.cache.base import CachedAnswer, CacheUnavailable

_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, ReadOnlyError, gevent.Timeout)
_UNLOCK_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisResponseCache:
    def __init__(self, client: redis.Redis, key_prefix: str = "bricks:") -> None:
        self._client = client
        self._prefix = key_prefix
        self._unlock = client.register_script(_UNLOCK_LUA)

    def get(self, key: str) -> CachedAnswer | None:
        try:
            raw = self._client.get(f"{self._prefix}rc:{key}")
        except _UNAVAILABLE as exc:
            raise CacheUnavailable(str(exc)) from exc
        if raw is None:
            return None
        return CachedAnswer.decode(raw if isinstance(raw, bytes) else raw.encode("utf-8"))

    def put(self, key: str, answer: CachedAnswer, ttl_s: float) -> None:
        try:
            self._client.set(f"{self._prefix}rc:{key}", answer.encode(), px=_ms(ttl_s))
        except _UNAVAILABLE as exc:
            raise CacheUnavailable(str(exc)) from exc

    def try_lock(self, key: str, lease_s: float) -> str | None:
        token = uuid.uuid4().hex
        try:
            taken = self._client.set(f"{self._prefix}rcl:{key}", token, nx=True, px=_ms(lease_s))
        except _UNAVAILABLE as exc:
            raise CacheUnavailable(str(exc)) from exc
        return token if taken else None

    def unlock(self, key: str, token: str) -> None:
        try:
            self._unlock(keys=[f"{self._prefix}rcl:{key}"], args=[token])
        except _UNAVAILABLE as exc:
            raise CacheUnavailable(str(exc)) from exc

    def locked(self, key: str) -> bool:
        try:
            return bool(self._client.exists(f"{self._prefix}rcl:{key}"))
        except _UNAVAILABLE as exc:
            raise CacheUnavailable(str(exc)) from exc


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))
