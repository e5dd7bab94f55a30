"""Fixed limit windows aligned to UTC: where a window starts and ends for a unit at a unix time.

Units: `s`, `m`, `h`, `d` (fixed lengths, aligned to the unix epoch, hence to UTC midnight) and `mo`
(a calendar month in UTC). Rate limits use `s`/`m`/`h`/`d`, cost limits `m`/`h`/`d`/`mo`; a cost
limit without a unit is a total (lifetime) limit whose single window never ends (`TOTAL_WINDOW`).
Pure functions of their arguments: the caller passes `now`, so tests need no clock.
"""

from __future__ import annotations

import calendar
import math
import time

RATE_UNITS = frozenset({"s", "m", "h", "d"})
COST_UNITS = frozenset({"m", "h", "d", "mo"})
TOTAL_WINDOW = "total"

_FIXED_SECONDS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400}


def window_start(unit: str, now: float) -> int:
    """Unix second at which the `unit` window containing `now` starts (inclusive)."""
    second = math.floor(now)
    length = _FIXED_SECONDS.get(unit)
    if length is not None:
        return second - second % length
    if unit == "mo":
        year, month = time.gmtime(second)[:2]
        return _month_start(year, month)
    raise ValueError(f"unknown window unit: {unit!r}")


def window_end(unit: str, now: float) -> int:
    """Unix second at which the `unit` window containing `now` ends (exclusive: the next one starts)."""
    start = window_start(unit, now)
    length = _FIXED_SECONDS.get(unit)
    if length is not None:
        return start + length
    year, month = time.gmtime(start)[:2]
    return _month_start(year + month // 12, month % 12 + 1)


def seconds_until_window_end(unit: str, now: float) -> int:
    """Whole seconds until the window ends, rounded up and at least 1: a `Retry-After` value."""
    return max(1, math.ceil(window_end(unit, now) - now))


def window_id(unit: str | None, now: float) -> str:
    """A stable name of the window containing `now`: `<unit>:<start>`, or `TOTAL_WINDOW` for no unit."""
    if unit is None:
        return TOTAL_WINDOW
    return f"{unit}:{window_start(unit, now)}"


def _month_start(year: int, month: int) -> int:
    return calendar.timegm((year, month, 1, 0, 0, 0, 0, 0, 0))
