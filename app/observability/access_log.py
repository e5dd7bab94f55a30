"""One access line per request, on the `bricksllm.access` logger (stderr by default).

Plain by default, one JSON object a line with `LOG_FORMAT=json`. A proxied request's line holds
method, path (never the query string, which may carry credentials), status, key id (never the
secret), provider, model, latency, the gateway's own share of it, tokens, cost and request id;
an admin request's line holds what applies of these. Nothing here sees a secret: callers pass
the key's id, and the function has no parameter for headers or bodies.

    2026-01-02T03:04:05.678Z POST /api/providers/openai/v1/chat/completions 200 key=3f2a...
      provider=openai model=gpt-4o-mini latency_ms=812.4 gateway_ms=0.9 tokens=12/40
      cost_usd=0.000026 request_id=5b1e...            (one line; wrapped here)
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any

import orjson

log = logging.getLogger("bricksllm.access")


def configure(log_format: str | None = None, stream: Any = None) -> None:
    """Give the access logger its own handler (once): plain lines, or JSON with LOG_FORMAT=json."""
    fmt = (log_format if log_format is not None else os.environ.get("LOG_FORMAT", "")).lower()
    for handler in list(log.handlers):
        log.removeHandler(handler)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False  # the root logger's format would prefix a second timestamp
    global _json
    _json = fmt == "json"


_json = False


def _timestamp(now: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


def access_line(
    method: str,
    path: str,
    status: int,
    latency_ms: float,
    request_id: str,
    key_id: str = "",
    provider: str = "",
    model: str = "",
    gateway_ms: float | None = None,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    cost_micros: int = 0,
    kind: str = "proxy",
    json: bool | None = None,
    now: float | None = None,
) -> str:
    """The line for one request, without logging it (tests and benchmarks use this)."""
    stamp = _timestamp(time.time() if now is None else now)
    path = path.split("?", 1)[0]
    if json if json is not None else _json:
        record: dict[str, Any] = {
            "time": stamp, "kind": kind, "method": method, "path": path, "status": status,
            "latency_ms": round(latency_ms, 1), "request_id": request_id,
        }  # fmt: skip
        if kind == "proxy":
            record.update(
                key_id=key_id, provider=provider, model=model,
                gateway_ms=None if gateway_ms is None else round(gateway_ms, 2),
                prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                cost_usd=cost_micros / 1_000_000,
            )  # fmt: skip
        return orjson.dumps(record).decode()
    if kind != "proxy":
        return f"{stamp} {kind} {method} {path} {status} latency_ms={latency_ms:.1f} request_id={request_id}"
    gateway = "-" if gateway_ms is None else f"{gateway_ms:.2f}"
    return (
        f"{stamp} {method} {path} {status} key={key_id or '-'} provider={provider or '-'} "
        f"model={model or '-'} latency_ms={latency_ms:.1f} gateway_ms={gateway} "
        f"tokens={prompt_tokens}/{completion_tokens} cost_usd={cost_micros / 1_000_000:.6f} "
        f"request_id={request_id}"
    )


def log_request(
    method: str,
    path: str,
    status: int,
    latency_ms: float,
    request_id: str,
    key_id: str = "",
    provider: str = "",
    model: str = "",
    gateway_ms: float | None = None,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    cost_micros: int = 0,
) -> None:
    """Write the access line of one proxied request."""
    if log.isEnabledFor(logging.INFO):
        log.info(
            access_line(
                method,
                path,
                status,
                latency_ms,
                request_id,
                key_id,
                provider,
                model,
                gateway_ms,
                prompt_tokens,
                completion_tokens,
                cost_micros,
            )  # fmt: skip
        )


def log_admin_request(
    method: str, path: str, status: int, latency_ms: float, request_id: str
) -> None:
    """Write the access line of one admin request (no key, provider or cost)."""
    if log.isEnabledFor(logging.INFO):
        log.info(access_line(method, path, status, latency_ms, request_id, kind="admin"))
