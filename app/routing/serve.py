"""`serve_route`: the one entry the pipeline calls for a route request, after authentication,
limits and policies: the cache first (when the route enables it), then the runner.

    served = serve_route(route, key_id, request, runner, cache=..., streamed=..., whole=...,
                         flight=Flight(clock, sleep, deadline))
    served.hit      -> CachedAnswer: relay it (as SSE via `cache.sse` when `streamed`), event
                       "cached" with cost 0, settle the reservation at 0
    served.outcome  -> RouteResult: relay `outcome.result` (None: answer 502), one event per
                       attempt (`events.attempt_events`)

`whole(result)` turns the winning upstream answer into the `CachedAnswer` to store, or None
(`cache.base.cacheable` over status, headers and the body read whole); it is called inside the
flight, so identical requests wait for the stored answer instead of calling upstream. Streamed
requests read the cache but never store (a stream is never cached partially) and take no lock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from app.domain.routes import Route
from app.routing.cache.base import CachedAnswer, ResponseCache
from app.routing.cache.flight import Flight, cached_call, lookup
from app.routing.cache.keys import cache_key
from app.routing.runner import RouteResult, RouteRunner

R = TypeVar("R")


@dataclass(frozen=True)
class RouteServed(Generic[R]):
    hit: CachedAnswer | None = None
    outcome: RouteResult[R] | None = None


def serve_route(
    route: Route,
    key_id: str,
    request: Mapping[str, Any],
    runner: RouteRunner[R],
    *,
    cache: ResponseCache | None,
    streamed: bool,
    whole: Callable[[R], CachedAnswer | None],
    flight: Flight,
) -> RouteServed[R]:
    if cache is None or not route.cache_config.enabled:
        return RouteServed(outcome=runner.run(request, flight.deadline))
    key = cache_key(route, key_id, request)
    if streamed:
        hit = lookup(cache, key)
        if hit is not None:
            return RouteServed(hit=hit)
        return RouteServed(outcome=runner.run(request, flight.deadline))

    def compute() -> tuple[RouteResult[R], CachedAnswer | None]:
        outcome = runner.run(request, flight.deadline)
        answer = None
        if outcome.succeeded and outcome.result is not None and outcome.result.response is not None:
            answer = whole(outcome.result.response)
        return outcome, answer

    served = cached_call(cache, key, route.cache_config.ttl_s, compute, flight)
    return RouteServed(hit=served.hit, outcome=served.result)
