"""observe_request moves exactly the series of its labels, by exactly one request."""

from __future__ import annotations

import socket
import time
from types import SimpleNamespace

from prometheus_client import CollectorRegistry

from app.observability import metrics
from app.observability.labels import OTHER
from app.observability.metrics import Metrics, StatsdSink


def _value(m: Metrics, name: str, **labels: str) -> float:
    value = m.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def _observe(m: Metrics, **overrides: object) -> None:
    args: dict[str, object] = dict(
        provider="openai", model="gpt-4o-mini", operation="chat.completions", status=200,
        gateway_ms=1.5, upstream_ms=420.0, prompt_tokens=12, completion_tokens=40,
        cost_micros=2600, limit_decision="admitted",
    )  # fmt: skip
    args.update(overrides)
    m.observe_request(**args)  # type: ignore[arg-type]
    m.flush()  # what the worker's loop does every second, and a scrape of this worker at once


def test_one_request_moves_each_series_by_one_request():
    m = Metrics(CollectorRegistry())
    _observe(m)
    labels = {"provider": "openai", "model": "gpt-4o-mini", "operation": "chat.completions"}
    assert _value(m, "bricksllm_requests_total", **labels, status="200") == 1
    hist = {"provider": "openai", "operation": "chat.completions"}
    assert _value(m, "bricksllm_gateway_latency_seconds_count", **hist) == 1
    assert _value(m, "bricksllm_gateway_latency_seconds_sum", **hist) == 0.0015
    assert _value(m, "bricksllm_gateway_latency_seconds_bucket", **hist, le="0.002") == 1
    assert _value(m, "bricksllm_gateway_latency_seconds_bucket", **hist, le="0.001") == 0
    assert _value(m, "bricksllm_upstream_latency_seconds_sum", **hist) == 0.42
    tokens = {"provider": "openai", "model": "gpt-4o-mini"}
    assert _value(m, "bricksllm_tokens_total", **tokens, kind="prompt") == 12
    assert _value(m, "bricksllm_tokens_total", **tokens, kind="completion") == 40
    assert _value(m, "bricksllm_cost_usd_total", **tokens) == 0.0026
    assert _value(m, "bricksllm_limit_decisions_total", decision="admitted") == 1

    _observe(m, status=429, limit_decision="rate_limited", upstream_ms=None, prompt_tokens=0,
             completion_tokens=0, cost_micros=0)  # fmt: skip
    assert _value(m, "bricksllm_requests_total", **labels, status="200") == 1
    assert _value(m, "bricksllm_requests_total", **labels, status="429") == 1
    assert _value(m, "bricksllm_upstream_latency_seconds_count", **hist) == 1  # no upstream call
    assert _value(m, "bricksllm_gateway_latency_seconds_count", **hist) == 2
    assert _value(m, "bricksllm_limit_decisions_total", decision="rate_limited") == 1


def test_label_values_are_bounded():
    m = Metrics(CollectorRegistry(), max_models=3)
    for index in range(10):
        _observe(m, model=f"random-{index}", limit_decision=f"made-up-{index}", status=9999)
    samples = [s for s in m.requests.collect()[0].samples if s.name == "bricksllm_requests_total"]
    models = {s.labels["model"] for s in samples}
    assert models == {"random-0", "random-1", "random-2", OTHER}
    assert {s.labels["status"] for s in samples} == {"0"}
    assert _value(m, "bricksllm_limit_decisions_total", decision=OTHER) == 10
    assert sum(s.value for s in samples) == 10
    long_model = "x" * 500
    _observe(m, model=long_model)  # beyond the bound: "other", and never 500 characters
    assert all(len(s.labels["model"]) <= 64 for s in m.requests.collect()[0].samples)


def test_background_figures_become_counters_and_gauges():
    m = Metrics(CollectorRegistry())
    totals = SimpleNamespace(
        queued=5, written=3, journaled=2, replayed=0, rejected=0, lost=1, pending=2
    )
    m.watch_events(lambda: totals)
    m.watch_snapshot(lambda: metrics.SnapshotFigures(age_s=1.5, keys=7))
    m.watch_upstream_pool(lambda: metrics.PoolFigures(in_use=3, idle=4))
    m.refresh()
    totals.queued, totals.lost = 9, 1
    m.refresh()
    assert _value(m, "bricksllm_events_total", outcome="queued") == 9
    assert _value(m, "bricksllm_events_total", outcome="journaled") == 2
    assert _value(m, "bricksllm_events_total", outcome="lost") == 1
    assert _value(m, "bricksllm_events_pending") == 2
    assert _value(m, "bricksllm_config_snapshot_age_seconds") == 1.5
    assert _value(m, "bricksllm_config_snapshot_keys") == 7
    assert _value(m, "bricksllm_upstream_connections", state="in_use") == 3
    assert _value(m, "bricksllm_upstream_connections", state="idle") == 4


def test_bus_stats_still_have_the_outcomes_read():
    assert metrics.bus_stats_fields() == metrics.EVENT_OUTCOMES


def test_dogstatsd_lines_reach_a_local_agent(monkeypatch):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as agent:
        agent.bind(("127.0.0.1", 0))
        agent.settimeout(5)
        sink = StatsdSink.to_agent("127.0.0.1", agent.getsockname()[1])
        m = Metrics(CollectorRegistry(), statsd=sink)
        _observe(m)
        sink.flush()
        received = b""
        deadline = time.monotonic() + 5
        while b"bricksllm.limit_decisions" not in received and time.monotonic() < deadline:
            received += agent.recv(65536) + b"\n"
    lines = set(received.decode().split("\n"))
    tags = "provider:openai,model:gpt-4o-mini,operation:chat.completions,status:200"
    assert f"bricksllm.requests:1|c|#{tags}" in lines
    assert f"bricksllm.gateway_latency_seconds:0.0015|h|#{tags}" in lines
    assert f"bricksllm.upstream_latency_seconds:0.42|h|#{tags}" in lines
    assert f"bricksllm.tokens:12|c|#{tags},kind:prompt" in lines
    assert f"bricksllm.tokens:40|c|#{tags},kind:completion" in lines
    assert f"bricksllm.cost_usd:0.0026|c|#{tags}" in lines
    assert "bricksllm.limit_decisions:1|c|#decision:admitted" in lines


def test_requests_reach_the_series_at_the_flush_with_their_buckets():
    m = Metrics(CollectorRegistry())
    hist = {"provider": "openai", "operation": "chat.completions"}
    for gateway_ms in (0.3, 0.5, 0.7, 30.0, 5000.0):
        m.observe_request("openai", "gpt-4o-mini", "chat.completions", 200, gateway_ms, None,
                          0, 0, 0, "admitted")  # fmt: skip
    assert _value(m, "bricksllm_gateway_latency_seconds_count", **hist) == 0  # not yet flushed
    m.flush()
    assert _value(m, "bricksllm_gateway_latency_seconds_count", **hist) == 5
    assert _value(m, "bricksllm_gateway_latency_seconds_bucket", **hist, le="0.0005") == 2
    assert _value(m, "bricksllm_gateway_latency_seconds_bucket", **hist, le="0.001") == 3
    assert _value(m, "bricksllm_gateway_latency_seconds_bucket", **hist, le="0.05") == 4
    assert _value(m, "bricksllm_gateway_latency_seconds_bucket", **hist, le="+Inf") == 5
    assert abs(_value(m, "bricksllm_gateway_latency_seconds_sum", **hist) - 5.0315) < 1e-9
    assert _value(m, "bricksllm_upstream_latency_seconds_count", **hist) == 0
    assert _value(m, "bricksllm_limit_decisions_total", decision="admitted") == 5
    m.flush()  # nothing new: nothing added twice
    assert _value(m, "bricksllm_requests_total", **hist, model="gpt-4o-mini", status="200") == 5
