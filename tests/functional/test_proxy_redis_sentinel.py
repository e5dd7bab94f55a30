"""The proxy on Redis Sentinel with two gunicorn workers: limits are exact on the master the
sentinel names, readiness sees it, and when the master is killed the requests are answered as in
any Redis outage until the sentinel has promoted the replica, then counted on the new master."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.functional.proxy_env import running_proxy, start_of_a_fresh_minute
from tests.functional.redis_sentinel import PrivateRedisSentinel
from tests.functional.servers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.timeout(180)]
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
READ_TIMEOUT_S = 0.5
MARGIN_S = 1.0  # gunicorn, the fake upstream and a machine shared with other test runs
# A failover takes down-after-milliseconds (1 s) before the sentinel thinks the master down, up to
# 1 s of random delay before it starts, then the promotion it sees on its next INFO (1 s apart
# during a failover): 3-4 s here; the bound leaves room for a loaded machine.
FAILOVER_BOUND_S = 15.0
# After the promotion, each worker reaches the new master on its next connection; a request that
# still held a connection to the dead master is answered as in an outage, once.
RECONNECT_BOUND_S = 5.0


@pytest.fixture
def sentinel():
    with PrivateRedisSentinel() as private:
        yield private


def _call(env, key: str) -> requests.Response:
    return requests.post(f"{env.base_url}/chat/completions", json=CHAT, timeout=10,
                         headers={"Authorization": f"Bearer {key}"})  # fmt: skip


def _warnings(env) -> str:
    return "\n".join(line for line in env.gateway.output.splitlines() if "WARNING" in line)


def _ready(env) -> dict:
    return requests.get(f"{env.gateway.proxy}/api/health/ready", timeout=5).json()


def test_limits_are_exact_with_two_workers_through_a_sentinel(tmp_path, sentinel):
    # The first sentinel listed is unreachable: each worker asks the next one.
    hosts = f"127.0.0.1:{free_port()},{sentinel.env['REDIS_HOSTS']}"
    with running_proxy(tmp_path, GUNICORN_WORKERS="2", **{**sentinel.env, "REDIS_HOSTS": hosts}
                       ) as env:  # fmt: skip
        key = env.create_key(rateLimitOverTime=7, rateLimitUnit="m")
        key_id = env.last_key["keyId"]
        start_of_a_fresh_minute()
        with ThreadPoolExecutor(12) as pool:
            statuses = list(pool.map(lambda _: _call(env, key).status_code, range(30)))
        # (A request admitted fail-open would show here, with its warning in the output.)
        assert statuses.count(200) == 7 and statuses.count(429) == 23, _warnings(env)
        assert len(env.upstream.requests_to("/chat/completions")) == 7
        # Counted on the master the sentinel names, in one window shared by both workers.
        master = sentinel.node(sentinel.current_master_port())
        [window] = master.keys(f"bricks:rl:key:{key_id}:m:*")
        assert master.get(window) == "7"
        ready = _ready(env)
        assert ready["checks"]["redis"]["ok"] is True, ready


def _assert_outage_answers(env, rate_key: str, cost_key: str) -> None:
    """As when Redis is down (test_outage_redis.py): rate-only admitted, cost-limited refused."""
    rate, cost = _call(env, rate_key), _call(env, cost_key)
    assert rate.status_code == 200, rate.text  # RATE_LIMIT_FAIL_OPEN=true
    assert cost.status_code == 503, cost.text  # COST_LIMIT_FAIL_OPEN=false
    assert cost.json()["error"]["message"] == (
        "[BricksLLM] limits cannot be checked right now; try again shortly"
    )
    for response in (rate, cost):
        assert response.elapsed.total_seconds() < READ_TIMEOUT_S + MARGIN_S


def _first_admitted(env, key: str, bound_s: float) -> float:
    """Seconds until a request of `key` is admitted (polled every 0.1 s, at most `bound_s`)."""
    start = time.monotonic()
    while _call(env, key).status_code != 200:
        assert time.monotonic() - start < bound_s, f"not admitted within {bound_s}s"
        time.sleep(0.1)
    return time.monotonic() - start


def test_after_the_master_is_killed_requests_are_counted_on_the_promoted_replica(tmp_path,
                                                                                 sentinel):  # fmt: skip
    with running_proxy(tmp_path, GUNICORN_WORKERS="2", **sentinel.env,
                       REDIS_READ_TIME_OUT=f"{int(READ_TIMEOUT_S * 1000)}ms",
                       REDIS_WRITE_TIME_OUT="300ms") as env:  # fmt: skip
        rate_key = env.create_key(rateLimitOverTime=100, rateLimitUnit="m")
        cost_key = env.create_key(costLimitInUsd=5)
        cost_id = env.last_key["keyId"]
        assert _call(env, rate_key).status_code == 200 and _call(env, cost_key).status_code == 200

        old = sentinel.kill_master()
        _assert_outage_answers(env, rate_key, cost_key)  # the sentinel still names the dead master
        new = sentinel.wait_for_failover(old, FAILOVER_BOUND_S)
        assert new == sentinel.replica_port

        master = sentinel.node(new)
        spend_key = f"bricks:cs:key:{cost_id}:total"
        before = int(master.hget(spend_key, "spend") or 0)
        _first_admitted(env, cost_key, RECONNECT_BOUND_S)
        # The admitted request's cost was settled on the new master before its answer ended.
        assert int(master.hget(spend_key, "spend")) > before

        # Both workers count on the new master: a fresh 2-a-minute key is exact again.
        start_of_a_fresh_minute(needed_s=10)
        key = env.create_key(rateLimitOverTime=2, rateLimitUnit="m")
        assert [_call(env, key).status_code for _ in range(3)] == [200, 200, 429]
        [window] = master.keys(f"bricks:rl:key:{env.last_key['keyId']}:m:*")
        assert master.get(window) == "2"
        ready = _ready(env)
        assert ready["checks"]["redis"]["ok"] is True, ready
