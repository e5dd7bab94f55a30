"""Requests bound to the client's users: the user from the body, checked after the key, with its
own limits admitted atomically together with the key's. Real gunicorn, the fake upstream."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.functional.proxy_env import running_proxy, start_of_a_fresh_minute, wait_for_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with running_proxy(tmp_path_factory.mktemp("users")) as proxy:
        yield proxy


@pytest.fixture(autouse=True)
def fresh_upstream(env):
    env.upstream.reset()


def create_user(env, **fields) -> dict:
    response = requests.post(
        f"{env.gateway.admin}/api/users", json={"name": "u", **fields}, timeout=5
    )
    assert response.status_code == 200, response.text
    wait_for_config()
    return response.json()


def revoke_user(env, user: dict) -> None:
    response = requests.patch(f"{env.gateway.admin}/api/users/{user['id']}",
                              json={"revoked": True, "revokedReason": "left"}, timeout=5)  # fmt: skip
    assert response.status_code == 200, response.text
    wait_for_config()


def chat(env, key: str, user: str, **extra) -> requests.Response:
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "hi"}],
        "user": user,
        **extra,
    }
    return requests.post(
        f"{env.base_url}/chat/completions", json=body, headers={"x-api-key": key}, timeout=30
    )


def test_a_users_rate_limit_holds_across_two_keys(env):
    org, user_id = f"org-{uuid.uuid4().hex[:6]}", f"u-{uuid.uuid4().hex[:6]}"
    first, second = env.create_key(tags=[org]), env.create_key(tags=[org])
    create_user(env, userId=user_id, tags=[org], rateLimitOverTime=3, rateLimitUnit="m")
    start_of_a_fresh_minute()
    statuses = [chat(env, key, user_id).status_code for key in (first, second, first)]
    assert statuses == [200, 200, 200]
    refused = chat(env, second, user_id)
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    message = refused.json()["error"]["message"]
    assert f"user {user_id} rate limit exceeded" in message and second not in message
    assert len(env.upstream.requests) == 3
    assert chat(env, second, "someone-else").status_code == 200, (
        "another user of the key is not limited"
    )


def test_a_user_applies_only_when_its_tags_include_all_the_keys_tags(env):
    user_id = f"u-{uuid.uuid4().hex[:6]}"
    key = env.create_key(tags=["team-a", "team-b"])
    revoke_user(env, create_user(env, userId=user_id, tags=["team-a"]))
    assert chat(env, key, user_id).status_code == 200  # tags miss team-b: the user does not apply
    revoke_user(env, create_user(env, userId=user_id, tags=["team-a", "team-b", "extra"]))
    response = chat(env, key, user_id)
    assert (
        response.status_code == 401
        and f"user {user_id} has been revoked" in response.json()["error"]["message"]
    )
    [_, event] = env.events(env.last_key["keyId"], 2)
    assert (event.status, event.user_id) == (401, user_id)


def test_a_users_cost_limit_holds_under_50_concurrent_requests(env):
    user_id = f"u-{uuid.uuid4().hex[:6]}"
    env.upstream.configure(
        usage={"prompt_tokens": 0, "completion_tokens": 25_000, "total_tokens": 25_000}
    )
    key = env.create_key()  # no limit on the key: only the user's $0.15 budget applies
    create_user(env, userId=user_id, costLimitInUsd=0.15)
    with ThreadPoolExecutor(50) as pool:
        statuses = list(
            pool.map(lambda _: chat(env, key, user_id, max_tokens=25_000).status_code, range(50))
        )
    events = env.events(env.last_key["keyId"], 50)
    spent = sum(e.cost_micros for e in events if e.user_id == user_id)
    assert spent <= 150_000
    assert statuses.count(200) == len(env.upstream.requests) == spent // 15_000 >= 1
    assert set(statuses) <= {200, 429}


def test_user_models_and_paths_and_the_anthropic_user(env):
    user_id = f"u-{uuid.uuid4().hex[:6]}"
    key = env.create_key()
    create_user(env, userId=user_id, allowedModels=["gpt-4o"],
                allowedPaths=[{"path": "/api/providers/openai/v1/chat/completions", "method": "POST"}])  # fmt: skip
    denied = chat(env, key, user_id)
    assert (
        denied.status_code == 403
        and f"model gpt-4o-mini is not allowed for user {user_id}" in denied.text
    )
    assert chat(env, key, user_id, model="gpt-4o").status_code == 200
    embeddings = requests.post(f"{env.base_url}/embeddings", headers={"x-api-key": key}, timeout=10,
                               json={"model": "gpt-4o", "input": "x", "user": user_id})  # fmt: skip
    assert embeddings.status_code == 403 and "not allowed for user" in embeddings.text
    anthropic_setting = env.create_setting("anthropic", {"apikey": "sk-ant"})
    anthropic_key = env.create_key_on([anthropic_setting])
    revoke_user(env, create_user(env, userId="claude-user"))
    response = requests.post(f"{env.gateway.proxy}/api/providers/anthropic/v1/messages", headers={"x-api-key": anthropic_key},
                             json={"model": "claude-3-haiku-20240307", "max_tokens": 5, "metadata": {"user_id": "claude-user"},
                                   "messages": [{"role": "user", "content": "hi"}]}, timeout=10)  # fmt: skip
    assert response.status_code == 401 and "user claude-user has been revoked" in response.text
    assert len(env.upstream.requests) == 1  # only the allowed gpt-4o chat
