"""Failover routes end to end: real gunicorn, the official SDK, a fake upstream with injected
faults; assertions on what the client got, what each step's upstream received and the events."""

from __future__ import annotations

import time
import uuid

import openai
import pytest
import requests

from tests.fakes.upstream import DIE, Reply
from tests.functional.proxy_env import running_proxy, wait_for_config

pytestmark = pytest.mark.slow
CHAT = {"model": "ignored", "messages": [{"role": "user", "content": "hi"}], "seed": 7}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with running_proxy(tmp_path_factory.mktemp("routes")) as proxy:
        yield proxy


@pytest.fixture(autouse=True)
def fresh_upstream(env):
    env.upstream.reset()


def make_route(env, steps, key_fields=None, suffix="/chat", **route_fields):
    """A key on an OpenAI setting at the fake upstream and a route it may call: (secret, route)."""
    secret = env.create_key(**(key_fields or {}))
    path = f"/r-{uuid.uuid4().hex[:8]}{suffix}"
    body = {"name": "route", "path": path, "steps": steps, "keyIds": [env.last_key["keyId"]],
            "cacheConfig": {"enabled": False}, **route_fields}  # fmt: skip
    created = requests.post(f"{env.gateway.admin}/api/routes", json=body, timeout=5)
    assert created.status_code == 200, created.text
    wait_for_config()
    return secret, created.json()


def call(env, secret, route, body=CHAT, prefix="/api/route", stream=False):
    return requests.post(f"{env.gateway.proxy}{prefix}{route['path']}", timeout=20, stream=stream,
                         json=body, headers={"Authorization": f"Bearer {secret}"})  # fmt: skip


def models_seen(env):
    return [r.json["model"] for r in env.upstream.requests_to("/chat/completions")]


def route_events(env, route, expected):
    """The route's events, failed attempts first (all may share one second of created_at)."""
    events = env.events(env.last_key["keyId"], expected=expected)
    assert all(e.route_id == route["id"] for e in events)
    return sorted(
        events, key=lambda e: (200 <= e.status < 300, e.model != route["steps"][0]["model"])
    )


def test_a_step_failing_twice_fails_over_to_the_next_which_serves(env):
    secret, route = make_route(env, [
        {"provider": "openai", "model": "gpt-4o-mini", "retries": 1, "retryInterval": "10ms"},
        {"provider": "openai", "model": "gpt-4o", "requestParams": {"temperature": 0.2}},
    ])  # fmt: skip
    env.upstream.fail_next(500, count=2)
    response = call(env, secret, route)
    assert response.status_code == 200, response.text
    assert models_seen(env) == ["gpt-4o-mini", "gpt-4o-mini", "gpt-4o"]
    last = env.upstream.requests_to("/chat/completions")[-1].json
    assert last["temperature"] == 0.2 and last["seed"] == 7  # requestParams in, unknown fields kept
    events = route_events(env, route, 3)
    assert [(e.status, e.model) for e in events] == [
        (500, "gpt-4o-mini"), (500, "gpt-4o-mini"), (200, "gpt-4o")
    ]  # fmt: skip
    assert events[0].cost_micros == events[1].cost_micros == 0 < events[2].cost_micros
    assert events[2].prompt_token_count > 0


def test_the_sdk_calls_a_route_at_both_prefixes(env):
    secret, route = make_route(env, [{"provider": "openai", "model": "gpt-4o-mini"}],
                               suffix="/chat/completions")  # fmt: skip
    base = route["path"].removesuffix("/chat/completions")
    for prefix in ("/api/route", "/api/routes"):
        client = openai.OpenAI(api_key=secret, base_url=f"{env.gateway.proxy}{prefix}{base}",
                               max_retries=0)  # fmt: skip
        completion = client.chat.completions.create(model="anything", messages=CHAT["messages"])
        assert completion.choices[0].message.content and completion.usage.total_tokens > 0
    assert models_seen(env) == ["gpt-4o-mini", "gpt-4o-mini"]


def test_429_retry_after_is_honoured_before_the_retry(env):
    secret, route = make_route(env, [
        {"provider": "openai", "model": "gpt-4o-mini", "retries": 1, "retryInterval": "10ms"},
    ])  # fmt: skip
    env.upstream.fail_next(429, headers={"Retry-After": "1"})
    started = time.monotonic()
    response = call(env, secret, route)
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.95
    assert [e.status for e in route_events(env, route, 2)] == [429, 200]


def test_a_stalled_step_times_out_and_the_next_step_serves(env):
    def stall(request):
        if request.json.get("model") == "slow-model":
            time.sleep(1.5)
        return None

    env.upstream.script("/chat/completions", stall)
    secret, route = make_route(env, [
        {"provider": "openai", "model": "slow-model", "timeout": "300ms"},
        {"provider": "openai", "model": "gpt-4o-mini"},
    ])  # fmt: skip
    started = time.monotonic()
    response = call(env, secret, route)
    assert response.status_code == 200 and time.monotonic() - started < 1.4
    assert [(e.status, e.model) for e in route_events(env, route, 2)] == [
        (504, "slow-model"), (200, "gpt-4o-mini")
    ]  # fmt: skip


def test_a_client_error_is_returned_at_once_without_failover(env):
    secret, route = make_route(env, [
        {"provider": "openai", "model": "gpt-4o-mini", "retries": 2},
        {"provider": "openai", "model": "gpt-4o"},
    ])  # fmt: skip
    env.upstream.fail_next(400, body={"error": {"message": "bad messages"}})
    response = call(env, secret, route)
    assert response.status_code == 400 and response.json()["error"]["message"] == "bad messages"
    assert models_seen(env) == ["gpt-4o-mini"]
    assert [e.status for e in route_events(env, route, 1)] == [400]


def test_when_every_step_fails_the_last_answer_is_returned(env):
    secret, route = make_route(env, [
        {"provider": "openai", "model": "gpt-4o-mini", "retries": 1, "retryInterval": "10ms"},
        {"provider": "openai", "model": "gpt-4o"},
    ])  # fmt: skip
    env.upstream.fail_next(503, body={"error": {"message": "busy"}}, count=3)
    response = call(env, secret, route)
    assert response.status_code == 503 and response.json()["error"]["message"] == "busy"
    assert len(models_seen(env)) == 3
    assert [e.status for e in route_events(env, route, 3)] == [503, 503, 503]


def test_a_stream_reset_before_its_first_byte_fails_over_and_after_it_does_not(env):
    def reset_first_model(request):
        if request.json.get("model") == "flaky" and request.json.get("stream"):
            return Reply(headers={"Content-Type": "text/event-stream"}, chunks=[DIE])
        return None

    env.upstream.script("/chat/completions", reset_first_model)
    secret, route = make_route(env, [
        {"provider": "openai", "model": "flaky"}, {"provider": "openai", "model": "gpt-4o-mini"},
    ])  # fmt: skip
    with call(env, secret, route, {**CHAT, "stream": True}, stream=True) as response:
        text = response.content.decode()
    assert response.status_code == 200 and text.rstrip().endswith("data: [DONE]")
    assert [(e.status, e.model) for e in route_events(env, route, 2)][0][1] == "flaky"

    env.upstream.reset()
    env.upstream.configure(die_mid_stream_after=2)
    secret, route = make_route(env, [
        {"provider": "openai", "model": "gpt-4o-mini"}, {"provider": "openai", "model": "gpt-4o"},
    ])  # fmt: skip
    with call(env, secret, route, {**CHAT, "stream": True}, stream=True) as response:
        text = response.content.decode()
    assert "[DONE]" not in text and "upstream stream" in text
    assert models_seen(env) == ["gpt-4o-mini"]
    events = route_events(env, route, 1)
    assert events[0].status == 502 and events[0].completion_token_count > 0


def test_a_key_not_listed_is_403_and_unknown_route_paths_404(env):
    _, route = make_route(env, [{"provider": "openai", "model": "gpt-4o-mini"}])
    other = env.create_key()
    assert call(env, other, route).status_code == 403
    missing = requests.post(f"{env.gateway.proxy}/api/route/nope", json=CHAT, timeout=5,
                            headers={"Authorization": f"Bearer {other}"})  # fmt: skip
    assert missing.status_code == 404
    assert env.upstream.requests_to("/chat/completions") == []


def test_a_route_delete_reaches_the_proxy(env):
    secret, route = make_route(env, [{"provider": "openai", "model": "gpt-4o-mini"}])
    assert call(env, secret, route).status_code == 200
    deleted = requests.delete(f"{env.gateway.admin}/api/routes/{route['id']}", timeout=5)
    assert deleted.status_code == 200, deleted.text
    wait_for_config()
    assert call(env, secret, route).status_code == 404


def test_route_limits_hold_like_a_provider_paths(env):
    secret, route = make_route(env, [{"provider": "openai", "model": "gpt-4o-mini"}],
                               {"rateLimitOverTime": 1, "rateLimitUnit": "h"})  # fmt: skip
    assert call(env, secret, route).status_code == 200
    denied = call(env, secret, route)
    assert denied.status_code == 429 and "rate limit" in denied.json()["error"]["message"]
    assert len(models_seen(env)) == 1


def test_embeddings_through_a_route(env):
    secret, route = make_route(env, [{"provider": "openai", "model": "text-embedding-3-small"}],
                               requestFormat="openai_embeddings")  # fmt: skip
    response = call(env, secret, route, {"input": "hello", "model": "x"})
    assert response.status_code == 200 and response.json()["object"] == "list"
    assert env.upstream.requests_to("/embeddings")[0].json["model"] == "text-embedding-3-small"
