"""Order statistics over integer measurements given as a histogram (value, count), sorted by value."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile_cont(histogram: Sequence[tuple[float, int]], fraction: float) -> float:
    """percentile_cont over the values a sorted (value, count) histogram stands for: the values
    at 0-based ranks floor(p) and ceil(p), p = fraction * (count - 1), interpolated as PostgreSQL
    does: low + (high - low) * (p - floor(p)). 0.0 for no values."""
    total = sum(n for _, n in histogram)
    if total == 0:
        return 0.0
    position = fraction * (total - 1)
    low_rank = math.floor(position)
    low = _value_at(histogram, low_rank)
    high = _value_at(histogram, min(low_rank + 1, total - 1))
    return low + (high - low) * (position - low_rank)


def _value_at(histogram: Sequence[tuple[float, int]], rank: int) -> float:
    seen = 0
    for value, count in histogram:
        seen += count
        if rank < seen:
            return value
    raise IndexError(rank)
