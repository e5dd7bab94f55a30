"""Budgets hold without max_tokens (the SDKs' default): 50 concurrent requests that set no output
bound, against an upstream that answers long completions, never take spend past the key's limit;
and the request refused only because its unbounded output does not fit is told which max_tokens
would."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.functional.proxy_env import running_proxy

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "write a long story"}]}
LONG = {"prompt_tokens": 12, "completion_tokens": 16_000, "total_tokens": 16_012}
LIMIT_USD = 0.05
RUNS = 3


def _call(env, key: str, body: dict) -> requests.Response:
    return requests.post(f"{env.base_url}/chat/completions", json=body, timeout=30,
                         headers={"Authorization": f"Bearer {key}"})  # fmt: skip


def test_50_concurrent_requests_without_max_tokens_never_pass_the_limit(tmp_path):
    with running_proxy(tmp_path) as env:
        env.upstream.configure(usage=LONG, response_delay_s=0.5)  # all 50 are in flight at once
        spends = []
        for _ in range(RUNS):
            key = env.create_key(costLimitInUsd=LIMIT_USD)
            key_id = env.last_key["keyId"]
            with ThreadPoolExecutor(50) as pool:
                answers = list(pool.map(lambda k: _call(env, k, CHAT), [key] * 50))
            statuses = [a.status_code for a in answers]
            events = env.events(key_id, expected=50)
            spends.append(sum(e.cost_micros for e in events))
            assert set(statuses) == {200, 429}, statuses
            assert statuses.count(200) >= 4  # the budget is used, not refused wholesale
        env.upstream.configure(response_delay_s=0.0)
        refused = _call(env, key, CHAT)  # what is left fits a bounded request, not this one
        message = refused.json()["error"]["message"]
        bound = int(message.split("to at most ")[1].split()[0])
        fitting = _call(env, key, {**CHAT, "max_tokens": bound})
    print("spend per run (micro-dollars):", spends)
    assert all(spend <= LIMIT_USD * 1e6 for spend in spends), spends
    assert refused.status_code == 429
    assert "sets no max_tokens" in message and "max_completion_tokens" in message
    assert fitting.status_code == 200, fitting.text
