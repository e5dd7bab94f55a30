"""A request's record reaches the metrics and the access log at the next drain: the series move by
exactly the request, its line carries its own time and fields, and a full batch drains at once."""

from __future__ import annotations

import io

from prometheus_client import CollectorRegistry

from app.observability import access_log, metrics, request_records


def record(request_id: str, now: float = 0.5) -> tuple:
    return (now, "POST", "/api/providers/openai/v1/chat/completions", 200, 812.44, request_id,
            "key-42", "openai", "gpt-4o-mini", 0.91, 800.0, "chat.completions", 12, 40, 26,
            "admitted")  # fmt: skip


def test_records_reach_the_series_and_the_log_at_the_drain(monkeypatch):
    stream = io.StringIO()
    access_log.configure("plain", stream=stream)
    m = metrics.Metrics(CollectorRegistry())
    monkeypatch.setattr(metrics, "_current", m)
    labels = {"provider": "openai", "model": "gpt-4o-mini", "operation": "chat.completions",
              "status": "200"}  # fmt: skip
    try:
        request_records.add(record("req-1"))
        request_records.add(record("req-2", now=1.25))
        assert stream.getvalue() == ""  # kept until the drain
        request_records.drain()
        m.flush()
        lines = stream.getvalue().splitlines()
        assert [line.split()[0] for line in lines] == ["1970-01-01T00:00:00.500Z",
                                                        "1970-01-01T00:00:01.250Z"]  # fmt: skip
        assert lines[0].endswith("tokens=12/40 cost_usd=0.000026 request_id=req-1")
        assert m.registry.get_sample_value("bricksllm_requests_total", labels) == 2
        request_records.drain()  # nothing new: nothing twice
        m.flush()
        assert len(stream.getvalue().splitlines()) == 2
        assert m.registry.get_sample_value("bricksllm_requests_total", labels) == 2
    finally:
        access_log.configure("plain")


def test_a_full_batch_drains_at_once(monkeypatch):
    stream = io.StringIO()
    access_log.configure("plain", stream=stream)
    monkeypatch.setattr(metrics, "_enabled", False)
    try:
        for index in range(request_records.LIMIT):
            request_records.add(record(f"r{index}"))
        assert len(stream.getvalue().splitlines()) == request_records.LIMIT
    finally:
        access_log.configure("plain")
        request_records.drain()
