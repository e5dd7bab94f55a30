"""The route response cache in the pipeline (`cacheConfig.enabled`): a hit answers at once, and
identical requests in flight make one upstream call (`app/routing/cache/flight.py`).

A hit costs nothing and reaches no upstream, so it is answered before the limits stage: it spends
no reservation and no rate-limit slot. Its event says `provider: "cached"` with cost 0, and the
answer carries `X-BricksLLM-Cache: HIT` (`MISS` when the route went upstream). Only a whole 200
answer of a non-streamed request is stored; a streamed request only looks up (no lock: it would
store nothing) and is served from a stored answer as an SSE stream (the text in one chunk,
`chat.completion.chunk` events, then `[DONE]`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import gevent

from app.domain.routes import Route
from app.proxy.context import ProxyResponse, RequestContext
from app.proxy.outcome import Outcome
from app.proxy.relay import Finish
from app.routing.cache.base import CachedAnswer, ResponseCache, cacheable
from app.routing.cache.flight import Flight, cached_call, lookup
from app.routing.cache.keys import cache_key
from app.routing.cache.sse import chat_answer_as_sse

CACHE_HEADER = "X-BricksLLM-Cache"
_SSE_HEADERS = [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")]


def through_cache(
    ctx: RequestContext,
    route: Route,
    cache: ResponseCache,
    go_upstream: Callable[[], ProxyResponse],
    finish: Finish,
    deadline_s: float,
) -> ProxyResponse:
    """The route's answer from the cache, or from `go_upstream()` (stored when it is whole)."""
    assert ctx.parsed is not None and ctx.key is not None
    streamed = ctx.parsed.get("stream") is True
    key = cache_key(route, ctx.key.key_id, ctx.parsed)

    def compute() -> tuple[ProxyResponse, CachedAnswer | None]:
        response = go_upstream()
        body = response.body
        if streamed or not isinstance(body, bytes):
            return response, None  # never a stream, whole or partial
        return response, cacheable(response.status, response.headers, body)

    if streamed:
        hit = lookup(cache, key)
        response = go_upstream() if hit is None else None
    else:
        flight = Flight(time.monotonic, gevent.sleep, time.monotonic() + deadline_s)
        served = cached_call(cache, key, route.cache_config.ttl_s, compute, flight)
        hit, response = served.hit, served.result
    if hit is not None:
        return _answer_hit(ctx, hit, streamed, finish)
    assert response is not None
    response.headers = [*response.headers, (CACHE_HEADER, "MISS")]
    return response


def _answer_hit(
    ctx: RequestContext, hit: CachedAnswer, streamed: bool, finish: Finish
) -> ProxyResponse:
    if ctx.endpoint is not None:
        ctx.endpoint = replace(ctx.endpoint, provider="cached")
    finish(Outcome(hit.status))  # no usage: a hit costs nothing
    if not streamed:
        return ProxyResponse(hit.status, [*hit.headers, (CACHE_HEADER, "HIT")], hit.body)
    options = (ctx.parsed or {}).get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    events = chat_answer_as_sse(hit.body, include_usage)
    return ProxyResponse(hit.status, [*_SSE_HEADERS, (CACHE_HEADER, "HIT")], events)
