"""Failover routes in process: each step's attempts as the fake upstream received them, what the
client got, and one event per attempt. Over real sockets: tests/functional/test_proxy_routes.py."""

from __future__ import annotations

import uuid

from app.errors import UpstreamRefused
from tests.inproc.harness import chat_stream, refused, timeout

CHAT = {"model": "ignored", "messages": [{"role": "user", "content": "hi"}]}


def make_route(gateway, steps, cache=False):
    """A key and a route it may call: (secret, route)."""
    secret = gateway.key()
    route = gateway.admin.routes.create({
        "name": "route", "path": f"/r-{uuid.uuid4().hex[:8]}/chat", "steps": steps,
        "keyIds": [gateway.last_key.key_id], "cacheConfig": {"enabled": cache},
    })  # fmt: skip
    gateway.refresh()
    return secret, route


def models_seen(gateway):
    return [received.json["model"] for received in gateway.upstream.requests]


def test_a_step_timing_out_twice_fails_over_to_the_next_which_serves(gateway):
    secret, route = make_route(gateway, [
        {"provider": "openai", "model": "gpt-4o-mini", "retries": 1, "retryInterval": "1ms"},
        {"provider": "openai", "model": "gpt-4o", "requestParams": {"temperature": 0.2}},
    ])  # fmt: skip
    gateway.upstream.answer(timeout(), refused())
    response = gateway.post(f"/api/route{route.path}", json=CHAT, key=secret)
    assert response.status_code == 200
    assert models_seen(gateway) == ["gpt-4o-mini", "gpt-4o-mini", "gpt-4o"]
    assert gateway.upstream.last.json["temperature"] == 0.2
    events = gateway.events.rows
    assert sorted((e.status, e.model) for e in events) == [
        (200, "gpt-4o"), (502, "gpt-4o-mini"), (504, "gpt-4o-mini"),
    ]  # fmt: skip
    assert {e.route_id for e in events} == {route.id}
    assert [e.cost_micros > 0 for e in events if e.status == 200] == [True]


def test_a_refused_address_is_not_retried_but_the_next_step_is_tried(gateway):
    secret, route = make_route(gateway, [
        {"provider": "openai", "model": "gpt-4o-mini", "retries": 3, "retryInterval": "1ms"},
        {"provider": "openai", "model": "gpt-4o"},
    ])  # fmt: skip
    gateway.upstream.answer(UpstreamRefused("upstream address is not allowed"))
    response = gateway.post(f"/api/route{route.path}", json=CHAT, key=secret)
    assert response.status_code == 200
    assert models_seen(gateway) == ["gpt-4o-mini", "gpt-4o"]


def test_a_stream_that_breaks_before_its_first_event_fails_over(gateway):
    secret, route = make_route(gateway, [
        {"provider": "openai", "model": "gpt-4o-mini"}, {"provider": "openai", "model": "gpt-4o"},
    ])  # fmt: skip
    broken = chat_stream({"model": "gpt-4o-mini"}, fail_after=0)
    gateway.upstream.answer(broken)
    response = gateway.post(f"/api/route{route.path}", json={**CHAT, "stream": True}, key=secret)
    assert response.status_code == 200
    assert response.get_data().endswith(b"data: [DONE]\n\n") and b'"gpt-4o"' in response.get_data()
    assert broken.aborted
    assert sorted(e.status for e in gateway.events.rows) == [200, 502]


def test_a_cached_route_answers_the_same_request_once_upstream(gateway):
    secret, route = make_route(
        gateway, [{"provider": "openai", "model": "gpt-4o-mini"}], cache=True
    )
    first = gateway.post(f"/api/route{route.path}", json=CHAT, key=secret)
    second = gateway.post(f"/api/route{route.path}", json=CHAT, key=secret)
    assert first.status_code == second.status_code == 200
    assert second.headers["X-BricksLLM-Cache"] == "HIT" and second.json == first.json
    assert len(gateway.upstream.requests) == 1
    assert [(e.provider, e.cost_micros > 0) for e in gateway.events.rows] == [
        ("openai", True), ("cached", False),
    ]  # fmt: skip
