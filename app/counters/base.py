"""The limit-counter interface: limits, reservations, denials and the `LimitCounters` protocol.

Both backends (`redis.py`, `memory.py`) implement `LimitCounters` and share the pure helpers here
that name windows and build denials, so they agree on every id and every `Retry-After`.
No I/O in this module.

Contract of `LimitCounters` (DECISIONS.md, "Limits are enforced before the call, atomically"):
- `admit` takes everything or nothing: each rate limit needs a free slot in its current window and
  each cost limit needs `spend + open reservations + estimate <= limit` (with a zero estimate:
  `spend + open reservations < limit`). On success every rate slot is taken and the estimate is
  reserved against every cost window; otherwise nothing changes and the `Denial` names the first
  failing limit (rate limits in the order given, then cost limits).
- `settle` drops the reservation and adds the actual cost to the windows current at admission.
  Call it once per reservation. A reservation not settled within the backend's reservation ttl
  stops counting.
- Limits travel with each call and are never stored, so a raised limit applies at once.
  Pass only real limits: a limit of 0 refuses every request (BricksLLM's "0 = no limit" is the
  caller's to translate).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from app.domain.windows import TOTAL_WINDOW, seconds_until_window_end, window_end, window_id
from app.errors import CountersUnavailable as CountersUnavailable  # re-exported: raised here

DEFAULT_RESERVATION_TTL_S = 900.0


@dataclass(frozen=True)
class RateLimit:
    """At most `limit` requests per `unit` window (`s`, `m`, `h`, `d`) for `scope` (e.g. `key:<id>`)."""

    scope: str
    limit: int
    unit: str


@dataclass(frozen=True)
class CostLimit:
    """At most `limit_micros` spent per `unit` window (`m`, `h`, `d`, `mo`), or in total if None."""

    scope: str
    limit_micros: int
    unit: str | None


@dataclass(frozen=True)
class Reservation:
    """An admitted request: its estimate held against each cost window (`<scope>:<window id>`)."""

    id: str
    windows: tuple[str, ...]
    amount_micros: int


@dataclass(frozen=True)
class Denial:
    """The limit that refused a request; `retry_after_s` is None for a total cost limit."""

    limit: RateLimit | CostLimit
    retry_after_s: int | None


@dataclass(frozen=True)
class Unseeded:
    """Only when the backend's `require_seeded` is on: `limit`'s current window has no counter
    rebuilt from the record of truth yet (a new window, or Redis lost it). Nothing was taken;
    `seed` it and admit again (`app/counters/reseed.py` does)."""

    limit: CostLimit


class LimitCounters(Protocol):
    """Atomic rate and spend accounting; see the module docstring for the contract."""

    def admit(
        self,
        rates: Sequence[RateLimit],
        costs: Sequence[CostLimit],
        estimate_micros: int,
        now: float,
    ) -> Reservation | Denial | Unseeded: ...

    def settle(self, reservation: Reservation, actual_micros: int) -> None: ...

    def seed(self, cost: CostLimit, now: float, spend_micros: int) -> None: ...

    def add_spend(self, costs: Sequence[CostLimit], amount_micros: int, now: float) -> None: ...

    def spend(self, cost: CostLimit, now: float) -> int: ...


def rate_window(rate: RateLimit, now: float) -> str:
    """The counter name of `rate`'s window at `now`: `<scope>:<unit>:<start>`."""
    return f"{rate.scope}:{window_id(rate.unit, now)}"


def cost_window(cost: CostLimit, now: float) -> str:
    """The counter name of `cost`'s window at `now`: `<scope>:<unit>:<start>` or `<scope>:total`."""
    return f"{cost.scope}:{window_id(cost.unit, now)}"


def cost_window_end(window: str) -> int | None:
    """When a window named by `cost_window` ends; None for a total window."""
    if window.endswith(":" + TOTAL_WINDOW):
        return None
    _, unit, start = window.rsplit(":", 2)
    return window_end(unit, int(start))


def denial(limit: RateLimit | CostLimit, now: float) -> Denial:
    """A denial whose retry-after is the time left in the failing limit's window."""
    if limit.unit is None:
        return Denial(limit, None)
    return Denial(limit, seconds_until_window_end(limit.unit, now))


def check_amount(amount_micros: int) -> None:
    """Money moves in non-negative micro-dollars."""
    if amount_micros < 0:
        raise ValueError("amounts are non-negative micro-dollars")


def check_distinct(windows: Sequence[str]) -> None:
    """One limit per (scope, unit) and kind: two would count each request twice in one counter."""
    if len(set(windows)) != len(windows):
        raise ValueError("each (scope, unit) may carry one limit per call")


def admission_windows(
    rates: Sequence[RateLimit], costs: Sequence[CostLimit], estimate_micros: int, now: float
) -> tuple[list[str], list[str], str]:
    """Validate an admit call and name what it touches: rate windows, cost windows, and a fresh
    reservation id. Both backends start every admit here."""
    check_amount(estimate_micros)
    rate_ids = [rate_window(rate, now) for rate in rates]
    cost_ids = [cost_window(cost, now) for cost in costs]
    check_distinct(rate_ids)
    check_distinct(cost_ids)
    return rate_ids, cost_ids, uuid.uuid4().hex
