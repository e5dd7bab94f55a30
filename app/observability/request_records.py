"""A proxied request's figures for the metrics and its access line, taken off the request's path.

`accounting._observe` adds one tuple per request; every 0.1 s (or at 1,000 records, at a scrape of
this worker and when it stops) `drain()` tallies them for the metrics and formats their access
lines in one loop, and writes the lines in one write. Done per request, the same work cost about
twice as much CPU (bench/observability_cpu.py): the code and data it touches were cold each time,
between the stages of a request. A worker killed with SIGKILL loses its last tenth of a second of
lines and figures, never an event (events have their own journal).

A record, in order: (unix time at the end, method, path, status, latency ms, request id, key id,
provider, model, gateway ms, upstream ms or None, operation, prompt tokens, completion tokens,
cost in micro-dollars, limit decision).
"""

from __future__ import annotations

import threading
from typing import Any

from gevent.monkey import get_original

from app.observability import access_log, metrics

INTERVAL_S = 0.1
LIMIT = 1000

# The interpreter's own lock, as in access_log.py: nothing that yields runs while it is held.
_lock = get_original("_thread", "allocate_lock")()
_pending: list[tuple[Any, ...]] = []
_due = False  # a drain is scheduled


def add(record: tuple[Any, ...]) -> None:
    """Keep one request's record until the next drain (scheduled when none is)."""
    global _due
    with _lock:
        _pending.append(record)
        full = len(_pending) >= LIMIT
        start = not _due and not full
        _due = _due or start
    if full:
        drain()
    elif start:  # outside the lock: starting a timer yields under gevent
        timer = threading.Timer(INTERVAL_S, drain)
        timer.daemon = True
        timer.start()


def drain() -> None:
    """Tally and write out every record kept so far."""
    global _pending, _due
    with _lock:
        records, _pending, _due = _pending, [], False
    if not records:
        return
    current = metrics.current() if metrics.is_enabled() else None
    write = access_log.is_enabled()
    lines = []
    for (now, method, path, status, latency_ms, request_id, key_id, provider, model, gateway_ms,
         upstream_ms, operation, prompt, completion, cost, decision) in records:  # fmt: skip
        if current is not None:
            current.observe_request(provider, model, operation, status, gateway_ms, upstream_ms,
                                    prompt, completion, cost, decision)  # fmt: skip
        if write:
            lines.append(access_log.access_line(
                method, path, status, latency_ms, request_id, key_id, provider, model,
                gateway_ms, prompt, completion, cost, now=now,
            ))  # fmt: skip
    if lines:
        access_log.write_lines(lines)
