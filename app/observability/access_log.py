"""One access line per request, on the `bricksllm.access` logger (stderr by default).

Plain by default, one JSON object a line with `LOG_FORMAT=json`. A proxied request's line holds
method, path (never the query string, which may carry credentials), status, key id (never the
secret), provider, model, latency, the gateway's own share of it, tokens, cost and request id;
an admin request's line holds what applies of these. Nothing here sees a secret: callers pass
the key's id, and the function has no parameter for headers or bodies.

    2026-01-02T03:04:05.678Z POST /api/providers/openai/v1/chat/completions 200 key=3f2a...
      provider=openai model=gpt-4o-mini latency_ms=812.4 gateway_ms=0.9 tokens=12/40
      cost_usd=0.000026 request_id=5b1e...            (one line; wrapped here)

Lines go to stderr in batches: a proxied request's line is formatted with the others of its
tenth of a second (`request_records.py`), an admin request's through a small buffer written out
at most every 0.1 s (or at 64 KB, and at shutdown). A line per request through the `logging`
machinery and one write each cost a fifth of the gateway's per-request CPU budget for
observability. A worker killed with SIGKILL may lose its last tenth of a second of lines (never
events: those have their own journal).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

import orjson
from gevent.monkey import get_original

# The interpreter's own lock even in a gevent-patched worker: it costs a tenth of gevent's, and
# nothing that could yield to another greenlet runs while it is held (starting the flush timer
# waits for the timer's greenlet: under this lock, a second writer would block the whole worker).
_real_lock = get_original("_thread", "allocate_lock")


class _Sink:
    """Where access lines go: written at once to a given stream (tests), or buffered for stderr."""

    def __init__(self, stream: Any = None, interval_s: float = 0.1, limit: int = 64 * 1024) -> None:
        self._stream = stream
        self._interval_s = interval_s
        self._limit = limit
        self._lines: list[str] = []
        self._size = 0
        self._timer_due = False  # a flush is scheduled
        self._lock = _real_lock()

    def write(self, line: str) -> None:
        if self._stream is not None:
            self._stream.write(line + "\n")
            return
        with self._lock:
            self._lines.append(line)
            self._size += len(line)
            full = self._size >= self._limit
            start_timer = not full and not self._timer_due
            if start_timer:
                self._timer_due = True
        if full:
            self.flush()
        elif start_timer:  # outside the lock: starting a timer yields under gevent
            timer = threading.Timer(self._interval_s, self.flush)
            timer.daemon = True
            timer.start()

    def flush(self) -> None:
        with self._lock:
            lines, self._lines, self._size, self._timer_due = self._lines, [], 0, False
        self.write_now(lines)

    def write_now(self, lines: list[str]) -> None:
        """Write `lines` at once, in one write (lines a batch already gathered)."""
        if not lines:
            return
        if self._stream is not None:
            self._stream.write("".join(line + "\n" for line in lines))
            return
        try:
            sys.stderr.write("\n".join(lines) + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):  # stderr closed: nothing else to tell
            pass


_sink = _Sink()
_json = False
_enabled = True


def configure(log_format: str = "plain", stream: Any = None, enabled: bool = True) -> None:
    """Plain lines, or JSON with LOG_FORMAT=json; to `stream` as they come, else stderr buffered;
    none at all when not `enabled` (ACCESS_LOG_ENABLED=false)."""
    global _json, _sink, _enabled
    _sink.flush()
    _sink = _Sink(stream)
    _json = log_format.lower() == "json"
    _enabled = enabled


def is_enabled() -> bool:
    return _enabled


def flush() -> None:
    """Write out the buffered lines (at shutdown)."""
    _sink.flush()


def write_lines(lines: list[str]) -> None:
    """Write the access lines of a batch of proxied requests (request_records.py) at once."""
    _sink.write_now(lines)


_second: list[Any] = [None, ""]  # the last second formatted, and its text (one per second)


def _timestamp(now: float) -> str:
    second = int(now)
    if _second[0] != second:
        _second[:] = [second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))]
    return f"{_second[1]}.{int(now % 1 * 1000):03d}Z"


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


def log_admin_request(
    method: str, path: str, status: int, latency_ms: float, request_id: str
) -> None:
    """Write the access line of one admin request (no key, provider or cost)."""
    if not _enabled:
        return
    _sink.write(access_line(method, path, status, latency_ms, request_id, kind="admin"))
