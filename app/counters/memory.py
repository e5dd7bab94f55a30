"""In-process limit counters for the embedded single-process mode (no `REDIS_HOSTS`).

Owns the dict-based implementation of `LimitCounters`: rate counts per window, spend per cost window
and open reservations with their expiry. One lock makes each call atomic (under gevent's monkey
patching `threading.Lock` is a gevent lock; nothing inside it yields). Exact within one process,
meaningless across processes. Windows that ended are dropped lazily, at most once a minute.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from app.counters.base import (
    DEFAULT_RESERVATION_TTL_S,
    CostLimit,
    Denial,
    RateLimit,
    Reservation,
    Unseeded,
    admission_windows,
    check_amount,
    check_distinct,
    cost_window,
    cost_window_end,
    denial,
)
from app.domain.windows import window_end

_SWEEP_EVERY_S = 60.0
# Ended cost windows stay a while so late settles and reports still find them.
_COST_WINDOW_GRACE_S = 60.0


@dataclass(slots=True)
class _RateWindow:
    end: int
    count: int = 0


@dataclass(slots=True)
class _CostWindow:
    end: int | None
    spend: int = 0
    reserved: int = 0
    seeded: bool = False
    open: dict[str, tuple[int, float]] = field(default_factory=dict)  # id -> (amount, expiry)
    expiries: list[tuple[float, str]] = field(default_factory=list)  # heap of (expiry, id)

    def reserve(self, reservation_id: str, amount: int, expiry: float) -> None:
        self.open[reservation_id] = (amount, expiry)
        self.reserved += amount
        heapq.heappush(self.expiries, (expiry, reservation_id))

    def release(self, reservation_id: str) -> None:
        held = self.open.pop(reservation_id, None)
        if held is not None:
            self.reserved -= held[0]
        # Settled ids stay in the heap until they expire; rebuild it when they dominate.
        if len(self.expiries) > 2 * len(self.open) + 64:
            self.expiries = [(exp, rid) for rid, (_, exp) in self.open.items()]
            heapq.heapify(self.expiries)

    def prune(self, now: float) -> None:
        """Expired reservations stop counting."""
        while self.expiries and self.expiries[0][0] <= now:
            _, reservation_id = heapq.heappop(self.expiries)
            held = self.open.get(reservation_id)
            if held is not None and held[1] <= now:
                del self.open[reservation_id]
                self.reserved -= held[0]

    def refuses(self, limit: int, estimate: int) -> bool:
        used = self.spend + self.reserved
        return used >= limit or used + estimate > limit


class MemoryCounters:
    """`LimitCounters` in process memory; `reservation_ttl_s` bounds how long an unsettled
    reservation counts. `require_seeded`: as in `RedisCounters` (a restart loses every window)."""

    require_seeded = False

    def __init__(self, reservation_ttl_s: float = DEFAULT_RESERVATION_TTL_S) -> None:
        self._reservation_ttl_s = reservation_ttl_s
        self._lock = threading.Lock()
        self._rates: dict[str, _RateWindow] = {}
        self._costs: dict[str, _CostWindow] = {}
        self._next_sweep = 0.0

    def admit(
        self,
        rates: Sequence[RateLimit],
        costs: Sequence[CostLimit],
        estimate_micros: int,
        now: float,
    ) -> Reservation | Denial | Unseeded:
        """Take a slot of every rate limit and reserve the estimate on every cost limit, or nothing."""
        rate_ids, cost_ids, reservation_id = admission_windows(rates, costs, estimate_micros, now)
        with self._lock:
            self._maybe_sweep(now)
            if self.require_seeded:
                for cost, wid in zip(costs, cost_ids, strict=True):
                    if not self._cost(wid).seeded:
                        return Unseeded(cost)
            rate_windows = [
                self._rate(wid, rate, now) for wid, rate in zip(rate_ids, rates, strict=True)
            ]
            cost_windows = [self._cost(wid) for wid in cost_ids]
            failed = _first_failure(rates, rate_windows, costs, cost_windows, estimate_micros, now)
            if failed is not None:
                return denial(failed, now)
            for rate_counter in rate_windows:
                rate_counter.count += 1
            if estimate_micros:
                expiry = now + self._reservation_ttl_s
                for cost_counter in cost_windows:
                    cost_counter.reserve(reservation_id, estimate_micros, expiry)
        return Reservation(reservation_id, tuple(cost_ids), estimate_micros)

    def settle(self, reservation: Reservation, actual_micros: int) -> None:
        """Release the reservation and record the actual cost in the windows it was taken in."""
        check_amount(actual_micros)
        with self._lock:
            for wid in reservation.windows:
                counter = self._cost(wid)
                counter.release(reservation.id)
                counter.spend += actual_micros

    def add_spend(self, costs: Sequence[CostLimit], amount_micros: int, now: float) -> None:
        """Record spend that had no reservation in the current window of each cost limit."""
        check_amount(amount_micros)
        windows = [cost_window(cost, now) for cost in costs]
        check_distinct(windows)
        with self._lock:
            for wid in windows:
                self._cost(wid).spend += amount_micros

    def seed(self, cost: CostLimit, now: float, spend_micros: int) -> None:
        """Mark `cost`'s current window seeded, its spend at least `spend_micros`; once."""
        check_amount(spend_micros)
        with self._lock:
            counter = self._cost(cost_window(cost, now))
            if not counter.seeded:
                counter.spend = max(counter.spend, spend_micros)
                counter.seeded = True

    def spend(self, cost: CostLimit, now: float) -> int:
        """Recorded (settled) spend in the current window of `cost`."""
        with self._lock:
            counter = self._costs.get(cost_window(cost, now))
            return counter.spend if counter else 0

    def _rate(self, wid: str, rate: RateLimit, now: float) -> _RateWindow:
        counter = self._rates.get(wid)
        if counter is None:
            counter = self._rates[wid] = _RateWindow(window_end(rate.unit, now))
        return counter

    def _cost(self, wid: str) -> _CostWindow:
        counter = self._costs.get(wid)
        if counter is None:
            counter = self._costs[wid] = _CostWindow(cost_window_end(wid))
        return counter

    def _maybe_sweep(self, now: float) -> None:
        """Drop ended windows; amortised so that admit stays O(limits)."""
        if now < self._next_sweep:
            return
        self._next_sweep = now + _SWEEP_EVERY_S
        self._rates = {wid: c for wid, c in self._rates.items() if c.end > now}
        keep_after = now - self._reservation_ttl_s - _COST_WINDOW_GRACE_S
        self._costs = {
            wid: c for wid, c in self._costs.items() if c.end is None or c.end > keep_after
        }


def _first_failure(
    rates: Sequence[RateLimit],
    rate_windows: Sequence[_RateWindow],
    costs: Sequence[CostLimit],
    cost_windows: Sequence[_CostWindow],
    estimate: int,
    now: float,
) -> RateLimit | CostLimit | None:
    for rate, rate_counter in zip(rates, rate_windows, strict=True):
        if rate_counter.count >= rate.limit:
            return rate
    for cost, cost_counter in zip(costs, cost_windows, strict=True):
        cost_counter.prune(now)
        if cost_counter.refuses(cost.limit_micros, estimate):
            return cost
    return None
