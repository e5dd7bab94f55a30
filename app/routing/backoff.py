"""The wait before a step's next try: constant, or exponential with jitter, capped; and the
upstream's `Retry-After`, honoured when it fits the request's deadline.

Exponential: the n-th retry waits a random time in [b/2, b] with b = interval * 2^(n-1), capped
at `MAX_BACKOFF_S` ("equal jitter": spreads retries of many clients, never waits less than half).
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable

MAX_BACKOFF_S = 30.0
# Without a request deadline, a Retry-After longer than this is not waited for (the step is
# given up and the next one tried): a client waits for its answer, not for an hour-long ban.
MAX_RETRY_AFTER_S = 60.0


def backoff_delay(
    exponential: bool, interval_s: float, retry_number: int, rng: Callable[[], float]
) -> float:
    """Seconds to wait before retry `retry_number` (1 for the first retry); `rng()` in [0, 1)."""
    if not exponential:
        return min(interval_s, MAX_BACKOFF_S)
    ceiling = min(interval_s * 2.0 ** (retry_number - 1), MAX_BACKOFF_S)
    return ceiling / 2 + rng() * ceiling / 2


def retry_wait(
    delay_s: float, retry_after_s: float | None, now: float, deadline: float | None
) -> float | None:
    """The wait before the next try, or None when it would not fit: `Retry-After` longer than
    the time left (or than `MAX_RETRY_AFTER_S` without a deadline), or no time left at all."""
    budget = MAX_RETRY_AFTER_S if deadline is None else deadline - now
    if retry_after_s is not None and retry_after_s > budget:
        return None
    wait = max(delay_s, retry_after_s or 0.0)
    if deadline is not None and now + wait >= deadline:
        return None
    return wait


def parse_retry_after(value: str | None, now_unix: float) -> float | None:
    """`Retry-After` as seconds from now: delta-seconds or an HTTP date (RFC 9110 10.2.3);
    None when absent or unreadable; never negative."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now_unix)
