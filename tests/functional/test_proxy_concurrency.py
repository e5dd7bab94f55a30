"""Limits hold under concurrency across two gunicorn workers sharing Redis, and Redis failure
gives the documented answers within the timeout."""

from __future__ import annotations

import hashlib
import json
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from app.counters.redis import _SETTLE_LUA
from tests.functional.private_services import DelayingProxy
from tests.functional.proxy_env import running_proxy, start_of_a_fresh_minute
from tests.functional.servers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.redis]
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with running_proxy(tmp_path_factory.mktemp("concurrency"), REDIS_HOSTS="127.0.0.1",
                       GUNICORN_WORKERS="2") as proxy:  # fmt: skip
        yield proxy


def _fire(env, key, count, concurrency):
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=concurrency, pool_maxsize=concurrency)
    session.mount("http://", adapter)

    def call(_):
        return session.post(f"{env.base_url}/chat/completions", json=CHAT,
                            headers={"Authorization": f"Bearer {key}"}, timeout=30).status_code  # fmt: skip

    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(call, range(count)))


def test_200_concurrent_calls_on_a_20_per_minute_key_put_exactly_20_on_the_upstream(env):
    env.upstream.reset()
    key = env.create_key(rateLimitOverTime=20, rateLimitUnit="m")
    start_of_a_fresh_minute()
    statuses = _fire(env, key, 200, 50)
    assert statuses.count(200) == 20 and statuses.count(429) == 180
    assert len(env.upstream.requests) == 20


def test_50_concurrent_priced_calls_never_push_spend_over_the_limit(env):
    env.upstream.reset()
    # Each call costs exactly $0.015: 25,000 output tokens of gpt-4o-mini at $0.60/M, which the
    # client announces as max_tokens, so the reservation knows it before the call.
    env.upstream.configure(
        usage={"prompt_tokens": 0, "completion_tokens": 25_000, "total_tokens": 25_000}
    )
    key = env.create_key(costLimitInUsd=0.15)
    body = {**CHAT, "max_tokens": 25_000}
    statuses = []
    with ThreadPoolExecutor(50) as pool:
        statuses = list(pool.map(lambda _: requests.post(
            f"{env.base_url}/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"},
            timeout=30).status_code, range(50)))  # fmt: skip
    events = env.events(env.last_key["keyId"], 50)
    spent = sum(e.cost_micros for e in events)
    assert spent <= 150_000
    assert statuses.count(200) == len(env.upstream.requests) == spent // 15_000
    assert statuses.count(200) >= 1 and set(statuses) <= {200, 429}


def test_the_next_call_on_another_connection_sees_the_settled_spend(tmp_path):
    # DECISIONS.md: a whole body's cost is settled before the body is sent, so the client's next
    # request sees it, whichever connection and worker serve it. Redis is reached through a relay
    # that holds every settlement back 0.4 s: had the answer left before its settlement, the next
    # call would come in while only the first call's reservation (its prompt, no max_tokens) counts.
    settle_sha = hashlib.sha1(_SETTLE_LUA.encode()).hexdigest().encode()
    with DelayingProxy(6379, settle_sha, 0.4) as slow_settlements, running_proxy(
        tmp_path, REDIS_HOSTS="127.0.0.1", REDIS_PORT=str(slow_settlements.port), GUNICORN_WORKERS="2",
    ) as env:  # fmt: skip
        # Each call costs $0.15 (1M prompt tokens of gpt-4o-mini) under a $0.10 limit.
        env.upstream.configure(
            usage={"prompt_tokens": 1_000_000, "completion_tokens": 0, "total_tokens": 1_000_000}
        )
        key = env.create_key(costLimitInUsd=0.1)
        body = json.dumps(CHAT).encode()
        request = (b"POST /api/providers/openai/v1/chat/completions HTTP/1.1\r\nHost: gateway\r\n"
                   b"Authorization: Bearer " + key.encode() + b"\r\nContent-Type: application/json\r\n"
                   b"Content-Length: %d\r\n\r\n%s" % (len(body), body))  # fmt: skip
        address = ("127.0.0.1", env.gateway.proxy_port)
        with (
            socket.create_connection(address, timeout=5) as first,
            socket.create_connection(address, timeout=5) as second,
        ):
            first.sendall(request)
            assert _status_of_whole_answer(first) == 200
            second.sendall(request)  # the moment the first answer is complete
            assert _status_of_whole_answer(second) == 429
        assert len(env.upstream.requests) == 1


def _status_of_whole_answer(sock: socket.socket) -> int:
    """The status of one answer with a Content-Length, once all of its body has arrived."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return int(head.split(b" ")[1])


def test_redis_down_fails_rate_limits_open_and_cost_limits_closed(tmp_path):
    port = free_port()  # nothing listens here: Redis is "down" for this gateway
    with running_proxy(tmp_path, REDIS_HOSTS="127.0.0.1", REDIS_PORT=str(port),
                       REDIS_READ_TIME_OUT="300ms", REDIS_WRITE_TIME_OUT="300ms") as env:  # fmt: skip
        rate_key = env.create_key(rateLimitOverTime=5, rateLimitUnit="m")
        cost_key = env.create_key(costLimitInUsd=5)
        url = f"{env.base_url}/chat/completions"
        rate = requests.post(
            url, json=CHAT, headers={"Authorization": f"Bearer {rate_key}"}, timeout=5
        )
        cost = requests.post(
            url, json=CHAT, headers={"Authorization": f"Bearer {cost_key}"}, timeout=5
        )
    assert rate.status_code == 200
    assert cost.status_code == 503 and "limits cannot be checked" in cost.json()["error"]["message"]
    assert cost.elapsed.total_seconds() < 2
    assert len(env.upstream.requests) == 1
