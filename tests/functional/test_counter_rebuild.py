"""Redis loses its data (a restart without persistence, an eviction, a flush) under a running
gateway: an exhausted key stays exhausted, its counters rebuilt from the events table."""

from __future__ import annotations

import pytest
import redis
import requests

from tests.functional.private_services import PrivateRedis
from tests.functional.proxy_env import running_proxy

pytestmark = [pytest.mark.slow, pytest.mark.redis]
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20}


def _call(env, key: str) -> requests.Response:
    return requests.post(f"{env.base_url}/chat/completions", json=CHAT,
                         headers={"Authorization": f"Bearer {key}"}, timeout=10)  # fmt: skip


@pytest.mark.parametrize("limit", [{"costLimitInUsd": 0.0001},
                                   {"costLimitInUsdOverTime": 0.0001, "costLimitInUsdUnit": "d"}])  # fmt: skip
def test_an_exhausted_key_stays_exhausted_after_redis_loses_its_keys(tmp_path, limit):
    with PrivateRedis() as server, running_proxy(tmp_path, **server.env) as env:
        key = env.create_key(**limit)
        key_id = env.last_key["keyId"]
        statuses = [_call(env, key).status_code for _ in range(60)]
        assert 200 in statuses and statuses[-1] == 429, statuses  # spent until exhausted
        spent = env.events(key_id, expected=len(statuses))
        assert len(spent) == len(statuses)
        before = len(env.upstream.requests)
        for _ in range(3):
            redis.Redis(port=server.port).flushall()  # a private server: nothing else lives there
            again = _call(env, key)
            assert again.status_code == 429, again.text
        assert "cost limit" in again.json()["error"]["message"]
        assert len(env.upstream.requests) == before  # nothing reached the upstream
    assert "rebuilt from the events" in env.gateway.output  # complete once the servers stopped
