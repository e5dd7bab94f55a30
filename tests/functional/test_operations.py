"""Operating the gateway for real: /metrics over two workers, readiness, access lines, the
refusal to start on an unmigrated database."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from app.observability.metrics import FLUSH_INTERVAL_S
from tests.functional.private_services import PrivatePostgres, PrivateRedis
from tests.functional.proxy_env import running_proxy
from tests.functional.servers import ROOT, free_port
from tests.secrets_canary import assert_no_secrets

pytestmark = pytest.mark.slow
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def _sample(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        metric, _, value = line.rpartition(" ")
        if metric == (f"{name}{{{wanted}}}" if labels else name):
            return float(value)
    return 0.0


@pytest.mark.redis
def test_metrics_sum_both_workers_and_logs_hold_no_secret(tmp_path):
    metrics_dir = tmp_path / "metrics"
    with running_proxy(tmp_path, REDIS_HOSTS="127.0.0.1", GUNICORN_WORKERS="2",
                       PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)) as env:  # fmt: skip
        key = env.create_key()

        def call(_: int) -> int:
            return requests.post(f"{env.base_url}/chat/completions", json=CHAT, timeout=30,
                                 headers={"Authorization": f"Bearer {key}"}).status_code  # fmt: skip

        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(call, range(20))) == [200] * 20
        pids, queued, deadline = set(), 0.0, time.monotonic() + 15
        while time.monotonic() < deadline and (queued != 20 or len(pids) < 2):
            scrape = requests.get(f"{env.gateway.proxy}/metrics", timeout=5)
            assert scrape.status_code == 200 and scrape.headers["Content-Type"].startswith(
                "text/plain"
            )
            queued = _sample(scrape.text, "bricksllm_events_total", outcome="queued")
            pids |= {re.sub(r"\D", "", name) for name in os.listdir(metrics_dir)}
            time.sleep(0.5)
        assert queued == 20, scrape.text  # every worker's requests, each counted once
        assert len(pids) == 2  # both workers wrote figures: the scrape summed two processes
        assert "bricksllm_config_snapshot_age_seconds" in scrape.text
        assert 'bricksllm_upstream_connections{state="idle"}' in scrape.text
        health = requests.head(f"{env.gateway.proxy}/api/health", timeout=5)
        assert health.status_code == 200 and health.text == ""
        admin = requests.get(f"{env.gateway.admin}/api/key-management/keys", timeout=5,
                             headers={"X-Request-Id": "trace-me-1"})  # fmt: skip
        assert admin.headers["X-Request-Id"] == "trace-me-1"
        time.sleep(0.3)
        output = env.gateway.output
    assert re.search(
        r"admin GET /api/key-management/keys 200 latency_ms=\S+ request_id=trace-me-1", output
    )
    assert_no_secrets(output + scrape.text, [key, "sk-upstream"])


@pytest.mark.redis
def test_readiness_goes_503_while_redis_is_down_and_back(tmp_path):
    redis_server = PrivateRedis().start()
    try:
        # REDIS_URL, as platforms set it, in place of REDIS_HOSTS/REDIS_PORT.
        redis_url = f"redis://127.0.0.1:{redis_server.port}/0"
        with running_proxy(tmp_path, REDIS_URL=redis_url, GUNICORN_WORKERS="1") as env:
            ready = f"{env.gateway.proxy}/api/health/ready"
            first = requests.get(ready, timeout=5)
            assert first.status_code == 200, first.text
            assert first.json()["checks"]["redis"] == {"ok": True}
            redis_server.kill()
            down = requests.get(ready, timeout=10)
            assert down.status_code == 503
            assert down.json()["status"] == "not ready"
            assert down.json()["checks"]["redis"]["ok"] is False
            assert down.json()["checks"]["limits_enforced"]["ok"] is False
            assert down.json()["checks"]["database"] == {"ok": True}
            assert requests.get(f"{env.gateway.proxy}/api/health", timeout=5).status_code == 200
            redis_server.start()
            deadline = time.monotonic() + 10
            while (back := requests.get(ready, timeout=10)).status_code != 200:
                assert time.monotonic() < deadline, back.text
                time.sleep(0.2)
            admin_ready = requests.get(f"{env.gateway.admin}/api/health/ready", timeout=5)
            assert admin_ready.status_code == 200 and admin_ready.json()["checks"]["database"]["ok"]
    finally:
        redis_server.remove()


def test_proxy_refuses_an_unmigrated_database_in_one_line(tmp_path):
    env = {"PATH": os.environ["PATH"], "BRICKS_ROLE": "proxy", "PROXY_PORT": str(free_port()),
           "SQLITE_PATH": str(tmp_path / "fresh.db"), "EVENT_JOURNAL_DIR": str(tmp_path / "j")}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    output = (result.stdout + result.stderr).strip()
    assert len(output.splitlines()) == 1, output
    assert "not migrated" in output and "run `python -m app.cli migrate`" in output


@pytest.mark.postgres
def test_database_url_is_honoured_by_migrate_and_check(tmp_path):
    with PrivatePostgres() as postgres:
        env = {"PATH": os.environ["PATH"],
               "DATABASE_URL": f"postgres://postgres@127.0.0.1:{postgres.port}/postgres?sslmode=disable"}  # fmt: skip

        def cli(command: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "app.cli", command], cwd=ROOT, env=env,
                                  capture_output=True, text=True, timeout=60)  # fmt: skip

        assert cli("check").returncode == 1
        migrated = cli("migrate")
        assert migrated.returncode == 0 and "applied on PostgreSQL" in migrated.stdout
        assert cli("check").returncode == 0


def _request_figures(text: str, status: str) -> tuple[float, float, float]:
    labels = {"provider": "openai", "model": "gpt-4o-mini", "operation": "chat", "status": status}
    requests_total = _sample(text, "bricksllm_requests_total", **labels)
    latency = {"provider": "openai", "operation": "chat"}
    gateway_count = _sample(text, "bricksllm_gateway_latency_seconds_count", **latency)
    upstream_count = _sample(text, "bricksllm_upstream_latency_seconds_count", **latency)
    return requests_total, gateway_count, upstream_count


@pytest.mark.redis
def test_each_request_moves_its_metrics_by_one_across_two_workers_and_logs_one_line(tmp_path):
    with running_proxy(tmp_path, REDIS_HOSTS="127.0.0.1", GUNICORN_WORKERS="2",
                       PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
                       LOG_FORMAT="json") as env:  # fmt: skip
        key = env.create_key(rateLimitOverTime=3, rateLimitUnit="h")
        headers = {"Authorization": f"Bearer {key}"}

        def scrape() -> str:
            return requests.get(f"{env.gateway.proxy}/metrics", timeout=5).text

        before = _request_figures(scrape(), "200")
        for index in range(3):  # new connections: either worker may serve each
            response = requests.post(f"{env.base_url}/chat/completions", json=CHAT, timeout=10,
                                     headers={**headers, "X-Request-Id": f"trace-{index}"})  # fmt: skip
            assert (
                response.status_code == 200 and response.headers["X-Request-Id"] == f"trace-{index}"
            )
            # The worker that served it adds it to the shared series within FLUSH_INTERVAL_S (the
            # scraped worker at once): the scrape may reach either, so it waits that long once.
            time.sleep(FLUSH_INTERVAL_S + 0.5)
            after = _request_figures(scrape(), "200")
            assert after == tuple(value + 1 for value in before), (before, after)
            before = after
        denied = requests.post(
            f"{env.base_url}/chat/completions", json=CHAT, timeout=10, headers=headers
        )
        assert denied.status_code == 429 and len(denied.headers["X-Request-Id"]) == 32
        time.sleep(FLUSH_INTERVAL_S + 0.5)
        text = scrape()
        assert _sample(text, "bricksllm_limit_decisions_total", decision="rate_limited") >= 1
        time.sleep(0.3)
        output = env.gateway.output
    lines = [line for line in output.splitlines() if '"request_id": "trace-1"' in line or
             '"request_id":"trace-1"' in line]  # fmt: skip
    assert len(lines) == 1, output[-3000:]
    record = json.loads(lines[0][lines[0].index("{") :])
    for field in ("method", "path", "status", "key_id", "provider", "model", "latency_ms",
                  "gateway_ms", "prompt_tokens", "completion_tokens", "cost_usd", "request_id"):  # fmt: skip
        assert field in record, field
    assert record["status"] == 200 and record["key_id"] == env.last_key["keyId"]
    assert record["provider"] == "openai" and record["prompt_tokens"] > 0
    assert_no_secrets(output, [key, "sk-upstream"])


def test_metrics_and_access_lines_can_be_switched_off(tmp_path):
    with running_proxy(tmp_path, METRICS_ENABLED="false", ACCESS_LOG_ENABLED="false") as env:
        key = env.create_key()
        response = requests.post(f"{env.base_url}/chat/completions", json=CHAT, timeout=10,
                                 headers={"Authorization": f"Bearer {key}",
                                          "X-Request-Id": "quiet-1"})  # fmt: skip
        scrape = requests.get(f"{env.gateway.proxy}/metrics", timeout=5)
        admin = requests.get(f"{env.gateway.admin}/api/key-management/keys", timeout=5,
                             headers={"X-Request-Id": "quiet-2"})  # fmt: skip
        events = env.events(env.last_key["keyId"], expected=1)
        time.sleep(0.3)  # the access log's batch interval (0.1 s): a line would be out by now
        output = env.gateway.output
    assert (response.status_code, admin.status_code) == (200, 200)
    assert scrape.status_code == 404
    assert "quiet-1" not in output and "quiet-2" not in output, output[-3000:]
    assert [event.status for event in events] == [200]  # the event is kept: only observing stops
