"""The route cache end to end: real gunicorn (two workers and Redis for single-flight), the fake
upstream counting the calls that reach it, the events and the answers' cache header."""

from __future__ import annotations

import threading
import time
import uuid

import openai
import pytest
import requests

from tests.functional.proxy_env import running_proxy, wait_for_config

pytestmark = [pytest.mark.slow, pytest.mark.redis]
CHAT = {"model": "x", "messages": [{"role": "user", "content": "cache me"}], "temperature": 0.5}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with running_proxy(tmp_path_factory.mktemp("route-cache"), REDIS_HOSTS="127.0.0.1",
                       GUNICORN_WORKERS="2") as proxy:  # fmt: skip
        yield proxy


@pytest.fixture(autouse=True)
def fresh_upstream(env):
    env.upstream.reset()


def cached_route(env, ttl="1h", keys=1, **cache):
    """Keys and a cached one-step route they may call: (first secret, route), or with keys > 1
    ([secrets], route)."""
    secrets, key_ids = [], []
    for _ in range(keys):
        secrets.append(env.create_key())
        key_ids.append(env.last_key["keyId"])
    body = {"name": "cached", "path": f"/c-{uuid.uuid4().hex[:8]}/chat/completions",
            "steps": [{"provider": "openai", "model": "gpt-4o-mini"}],
            "keyIds": key_ids, "cacheConfig": {"enabled": True, "ttl": ttl, **cache}}  # fmt: skip
    created = requests.post(f"{env.gateway.admin}/api/routes", json=body, timeout=5)
    assert created.status_code == 200, created.text
    wait_for_config()
    return (secrets[0] if keys == 1 else secrets), created.json()


def call(env, secret, route, body=CHAT, stream=False):
    return requests.post(f"{env.gateway.proxy}/api/route{route['path']}", json=body, timeout=20,
                         headers={"Authorization": f"Bearer {secret}"}, stream=stream)  # fmt: skip


def upstream_calls(env):
    return len(env.upstream.requests_to("/chat/completions"))


def test_a_hit_is_served_without_an_upstream_call_and_costs_nothing(env):
    secret, route = cached_route(env)
    first = call(env, secret, route)
    second = call(env, secret, route)
    assert first.status_code == second.status_code == 200
    assert (
        first.headers["X-BricksLLM-Cache"] == "MISS"
        and second.headers["X-BricksLLM-Cache"] == "HIT"
    )
    assert second.json() == first.json() and upstream_calls(env) == 1
    events = env.events(env.last_key["keyId"], expected=2)
    hit = next(e for e in events if e.provider == "cached")
    miss = next(e for e in events if e.provider == "openai")
    assert hit.cost_micros == 0 < miss.cost_micros and hit.route_id == miss.route_id == route["id"]


def test_a_streamed_request_is_served_from_a_stored_answer_as_sse(env):
    secret, route = cached_route(env)
    stored = call(env, secret, route).json()
    base = f"{env.gateway.proxy}/api/route{route['path'].removesuffix('/chat/completions')}"
    client = openai.OpenAI(api_key=secret, base_url=base, max_retries=0)
    stream = client.chat.completions.create(model="x", messages=CHAT["messages"], temperature=0.5,
                                            stream=True)  # fmt: skip
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == stored["choices"][0]["message"]["content"] and upstream_calls(env) == 1


def test_another_temperature_model_or_key_is_a_miss(env):
    (secret, other), route = cached_route(env, keys=2)
    assert call(env, secret, route).status_code == 200
    assert (
        call(env, secret, route, {**CHAT, "temperature": 0.9}).headers["X-BricksLLM-Cache"]
        == "MISS"
    )
    assert call(env, secret, route, {**CHAT, "model": "y"}).headers["X-BricksLLM-Cache"] == "MISS"
    assert call(env, other, route).headers["X-BricksLLM-Cache"] == "MISS"
    assert call(env, other, route).headers["X-BricksLLM-Cache"] == "HIT"
    assert upstream_calls(env) == 4


def test_answers_cross_keys_only_when_the_route_shares_them(env):
    (secret, other), route = cached_route(env, keys=2, shareAcrossKeys=True)
    assert call(env, secret, route).headers["X-BricksLLM-Cache"] == "MISS"
    assert call(env, other, route).headers["X-BricksLLM-Cache"] == "HIT"
    assert upstream_calls(env) == 1


def test_an_answer_expires_with_the_routes_ttl(env):
    secret, route = cached_route(env, ttl="1s")
    assert call(env, secret, route).headers["X-BricksLLM-Cache"] == "MISS"
    assert call(env, secret, route).headers["X-BricksLLM-Cache"] == "HIT"
    time.sleep(1.2)
    assert call(env, secret, route).headers["X-BricksLLM-Cache"] == "MISS"
    assert upstream_calls(env) == 2


def test_twenty_identical_requests_at_once_make_one_upstream_call(env):
    secret, route = cached_route(env)
    env.upstream.configure(response_delay_s=0.5)
    statuses: list[int] = []
    bodies: list[str] = []

    def one() -> None:
        response = call(env, secret, route)
        statuses.append(response.status_code)
        bodies.append(response.json()["id"])

    threads = [threading.Thread(target=one) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert statuses == [200] * 20 and len(set(bodies)) == 1
    assert upstream_calls(env) == 1
