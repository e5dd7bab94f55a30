"""serve_route over the in-process cache and a scripted upstream: hits make no upstream call,
misses on any difference (temperature, model, key), ttl expiry, only successes stored, streams."""

from __future__ import annotations

import dataclasses
import json

from app.domain.routes import CacheConfig, Route, RouteStep
from app.routing.cache.base import CachedAnswer, cacheable
from app.routing.cache.flight import Flight
from app.routing.cache.memory import MemoryResponseCache
from app.routing.outcome import answered
from app.routing.runner import RouteRunner
from app.routing.serve import serve_route

ROUTE = Route("r1", "n", "/p", 0, 0, (RouteStep("openai", "gpt-4o"),), ("k1", "k2"),
              cache_config=CacheConfig(enabled=True, ttl="10s"))  # fmt: skip
REQUEST = {"model": "x", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.2}
BODY = b'{"id":"c1","object":"chat.completion","choices":[]}'


class World:
    def __init__(self, status: int = 200) -> None:
        self.now = 0.0
        self.status = status
        self.calls: list[dict] = []
        self.cache = MemoryResponseCache(clock=lambda: self.now)

    def attempt(self, step, body, deadline):
        self.calls.append(json.loads(body))
        return answered(self.status, (self.status, BODY))

    def serve(self, request=REQUEST, key_id="k1", route=ROUTE, streamed=False):
        runner = RouteRunner(route, self.attempt, sleep=lambda s: None, clock=lambda: self.now)
        return serve_route(
            route, key_id, request, runner, cache=self.cache, streamed=streamed,
            whole=lambda r: cacheable(r[0], [("Content-Type", "application/json")], r[1]),
            flight=Flight(clock=lambda: self.now, sleep=lambda s: None),
        )  # fmt: skip


HIT = CachedAnswer(200, (("Content-Type", "application/json"),), BODY)


def test_a_hit_serves_the_stored_answer_without_an_upstream_call():
    world = World()
    first = world.serve()
    assert first.hit is None and first.outcome.succeeded and len(world.calls) == 1
    second = world.serve()
    assert second.hit == HIT and second.outcome is None and len(world.calls) == 1


def test_another_temperature_model_or_key_is_a_miss():
    world = World()
    world.serve()
    world.serve({**REQUEST, "temperature": 0.3})
    world.serve({**REQUEST, "model": "y"})
    world.serve(key_id="k2")
    assert len(world.calls) == 4
    assert world.serve(key_id="k2").hit == HIT and len(world.calls) == 4


def test_answers_expire_with_the_route_ttl():
    world = World()
    world.serve()
    world.now = 9.9
    assert world.serve().hit == HIT
    world.now = 10.1
    assert world.serve().hit is None and len(world.calls) == 2


def test_failures_are_not_stored():
    world = World(status=500)
    world.serve()
    world.status = 200
    assert world.serve().hit is None and len(world.calls) == 2


def test_a_streamed_request_reads_the_cache_but_never_stores():
    world = World()
    assert world.serve(streamed=True).hit is None
    assert world.serve().hit is None  # the stream stored nothing
    streamed = world.serve({**REQUEST, "stream": True}, streamed=True)
    assert streamed.hit == HIT and len(world.calls) == 2


def test_a_route_without_cache_always_goes_upstream():
    world = World()
    plain = dataclasses.replace(ROUTE, cache_config=CacheConfig())
    world.serve(route=plain)
    assert world.serve(route=plain).hit is None and len(world.calls) == 2
