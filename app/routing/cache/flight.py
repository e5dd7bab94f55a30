"""`cached_call`: serve a route request from the cache, or make one upstream call for all the
identical requests in flight at once (single-flight), across workers when the cache is Redis.

    served = cached_call(cache, key, ttl_s, compute, deadline=..., clock=..., sleep=...)
    served.hit     -> a CachedAnswer to relay (status 200, cost 0, provider "cached")
    served.result  -> what `compute()` returned (this request went upstream)

`compute()` runs the route and returns `(result, answer)`: `answer` is the `CachedAnswer` to
store (`base.cacheable`), or None when the result must not be cached (an error, a stream).

The first caller takes the key's flight lock (a lease of at most `lease_s`, cut to the deadline)
and computes; identical callers poll the cache every `poll_s` until the answer lands, the lock is
gone without an answer (the leader failed: each then computes for itself), or their wait ends
(their deadline, or the lease): then they compute too, so a dead leader delays them, never fails
them. A cache that cannot be reached is a miss: the request goes upstream.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from app.routing.cache.base import CachedAnswer, CacheUnavailable, ResponseCache

R = TypeVar("R")
Compute = Callable[[], tuple[R, CachedAnswer | None]]
DEFAULT_LEASE_S = 30.0
DEFAULT_POLL_S = 0.02

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Served(Generic[R]):
    hit: CachedAnswer | None = None
    result: R | None = None


@dataclass(frozen=True)
class Flight:
    """How long to hold the lock and wait for another caller's answer; times are `clock()` values."""

    clock: Callable[[], float]
    sleep: Callable[[float], None]
    deadline: float | None = None
    lease_s: float = DEFAULT_LEASE_S
    poll_s: float = DEFAULT_POLL_S

    def lease(self) -> float:
        if self.deadline is None:
            return self.lease_s
        return max(0.001, min(self.lease_s, self.deadline - self.clock()))

    def wait_until(self) -> float:
        own = self.clock() + self.lease_s
        return own if self.deadline is None else min(own, self.deadline)


def lookup(cache: ResponseCache, key: str) -> CachedAnswer | None:
    """A cached answer, or None (also when the cache cannot be reached)."""
    try:
        return cache.get(key)
    except CacheUnavailable as exc:
        log.warning("route cache unavailable, serving upstream: %s", exc)
        return None


def cached_call(
    cache: ResponseCache, key: str, ttl_s: float, compute: Compute[R], flight: Flight
) -> Served[R]:
    hit = lookup(cache, key)
    if hit is not None:
        return Served(hit=hit)
    try:
        token = cache.try_lock(key, flight.lease())
    except CacheUnavailable:
        return _compute(cache, key, ttl_s, compute)
    if token is None:
        return _follow(cache, key, ttl_s, compute, flight)
    try:
        hit = lookup(cache, key)  # stored between our miss and our lock
        return Served(hit=hit) if hit is not None else _compute(cache, key, ttl_s, compute)
    finally:
        _unlock(cache, key, token)


def _follow(
    cache: ResponseCache, key: str, ttl_s: float, compute: Compute[R], flight: Flight
) -> Served[R]:
    """Wait for the leader's answer; compute ourselves when it cannot come."""
    until = flight.wait_until()
    while flight.clock() < until:
        flight.sleep(flight.poll_s)
        hit = lookup(cache, key)
        if hit is not None:
            return Served(hit=hit)
        if not _locked(cache, key):
            # The leader may have stored and unlocked between our look-up and this check.
            hit = lookup(cache, key)
            if hit is not None:
                return Served(hit=hit)
            break
    return _compute(cache, key, ttl_s, compute)


def _compute(cache: ResponseCache, key: str, ttl_s: float, compute: Compute[R]) -> Served[R]:
    result, answer = compute()
    if answer is not None:
        try:
            cache.put(key, answer, ttl_s)
        except CacheUnavailable as exc:
            log.warning("route cache unavailable, answer not stored: %s", exc)
    return Served(result=result)


def _locked(cache: ResponseCache, key: str) -> bool:
    try:
        return cache.locked(key)
    except CacheUnavailable:
        return False


def _unlock(cache: ResponseCache, key: str, token: str) -> None:
    with contextlib.suppress(CacheUnavailable):  # if it fails, the lease expires by itself
        cache.unlock(key, token)
