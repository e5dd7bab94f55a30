"""The proxy on a three-node Redis Cluster with two gunicorn workers: a key's rate limit is exact
under concurrency (the counters' scripts touch one slot), and the route cache works there too."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.functional.proxy_env import running_proxy, start_of_a_fresh_minute
from tests.functional.redis_cluster import PrivateRedisCluster

pytestmark = [pytest.mark.slow, pytest.mark.redis]
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def test_limits_are_exact_with_two_workers_on_a_cluster(tmp_path):
    with PrivateRedisCluster() as cluster, running_proxy(
        tmp_path, GUNICORN_WORKERS="2", **cluster.env
    ) as env:  # fmt: skip
        key = env.create_key(rateLimitOverTime=7, rateLimitUnit="m")
        start_of_a_fresh_minute()

        def call(_: int) -> int:
            return requests.post(f"{env.base_url}/chat/completions", json=CHAT, timeout=30,
                                 headers={"Authorization": f"Bearer {key}"}).status_code  # fmt: skip

        with ThreadPoolExecutor(12) as pool:
            statuses = list(pool.map(call, range(30)))
        assert statuses.count(200) == 7 and statuses.count(429) == 23
        assert len(env.upstream.requests_to("/chat/completions")) == 7
        ready = requests.get(f"{env.gateway.proxy}/api/health/ready", timeout=5).json()
        assert ready["checks"]["redis"]["ok"] is True, ready
