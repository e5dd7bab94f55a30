"""Bounded metric label values: a deployment may see a million keys, but never a million series.

Labels are provider, model, operation, status and limit decision, and nothing per key or user
(per-key figures live in the reporting API). Free-form values (models, operations) are kept as
they come for the first `limit` distinct values a process sees, then reported as "other", and
truncated to 64 characters, so a client sending random model names cannot grow the series.
"""

from __future__ import annotations

import threading

OTHER = "other"
MAX_LENGTH = 64

# What the limits stage decided for a request; anything else is reported as "other".
LIMIT_DECISIONS = frozenset(
    {
        "admitted",  # every limit checked and a slot taken
        "no_limits",  # the key and user have no limits
        "rate_limited",  # 429 by a rate limit
        "cost_limited",  # 429 by a cost limit
        "fail_open",  # admitted without its limits while Redis could not answer
        "unavailable",  # 503: Redis could not answer and the limits fail closed
        "not_reached",  # the request ended before the limits stage (401, 400, 404...)
    }
)


class BoundedValues:
    """Maps a free-form value to itself for the first `limit` distinct values, then to "other"."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        value = value[:MAX_LENGTH] if value else "none"
        with self._lock:
            if value in self._seen:
                return value
            if len(self._seen) >= self._limit:
                return OTHER
            self._seen.add(value)
        return value


def status_label(status: int) -> str:
    """The HTTP status as a label; out-of-range numbers (0: the client left) stay bounded."""
    return str(status) if 100 <= status <= 599 else "0"


def decision_label(decision: str) -> str:
    return decision if decision in LIMIT_DECISIONS else OTHER
