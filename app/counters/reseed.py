"""Cost counters rebuilt from the record of truth: a window Redis lost (a restart without its
data, an eviction, a flush) or never had is seeded from the events table before a request is
admitted against it, once per window, single-flight.

`ReseedingCounters` wraps a backend (`RedisCounters` or `MemoryCounters`) and is itself a
`LimitCounters`: it turns the backend's `require_seeded` on, and when `admit` answers `Unseeded`
it reads the window's spend from the events (`SpendSource`), seeds it (the larger of that and any
spend settled since the counter was lost) and admits again. Concurrent requests of one process
wait for the one read in flight; across processes the seed script keeps the first seed.

Limits of the rebuild, documented in the README: events not yet written (still queued, or in the
journal while the database is down) are not counted; only `key:` scopes are rebuilt (a user's
windows start from zero); a database that cannot be read makes the window unavailable
(`CountersUnavailable`: the fail-open/fail-closed policy applies).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Protocol

from app.counters.base import (
    CostLimit,
    CountersUnavailable,
    Denial,
    LimitCounters,
    RateLimit,
    Reservation,
    Unseeded,
    cost_window,
)
from app.domain.windows import window_end, window_start

log = logging.getLogger(__name__)


class SpendSource(Protocol):
    """Spend recorded for a key between two unix seconds (`start` inclusive, `end` exclusive;
    None: unbounded)."""

    def spend_micros(self, key_id: str, start: int | None, end: int | None) -> int: ...


class ReseedingCounters:
    """A `LimitCounters` whose cost windows are seeded from `source` before their first use."""

    def __init__(self, inner: LimitCounters, source: SpendSource) -> None:
        inner.require_seeded = True  # type: ignore[attr-defined]  # both backends define it
        self._inner = inner
        self._source = source
        self._lock = threading.Lock()
        self._flights: dict[str, threading.Event] = {}
        self.seeded = 0  # windows this process seeded (for tests and logs)

    def admit(
        self, rates: Sequence[RateLimit], costs: Sequence[CostLimit], estimate_micros: int,
        now: float,
    ) -> Reservation | Denial | Unseeded:  # fmt: skip
        for _ in range(len(costs) + 1):
            outcome = self._inner.admit(rates, costs, estimate_micros, now)
            if not isinstance(outcome, Unseeded):
                return outcome
            self._seed_once(outcome.limit, now)
        raise CountersUnavailable("cost counters could not be seeded")

    def settle(self, reservation: Reservation, actual_micros: int) -> None:
        self._inner.settle(reservation, actual_micros)

    def add_spend(self, costs: Sequence[CostLimit], amount_micros: int, now: float) -> None:
        self._inner.add_spend(costs, amount_micros, now)

    def spend(self, cost: CostLimit, now: float) -> int:
        return self._inner.spend(cost, now)

    @property
    def ping(self) -> Callable[[], bool] | None:
        """The backend's readiness check (Redis answers), or None for in-process counters."""
        ping: Callable[[], bool] | None = getattr(self._inner, "ping", None)
        return ping

    def seed(self, cost: CostLimit, now: float, spend_micros: int) -> None:
        self._inner.seed(cost, now, spend_micros)

    def _seed_once(self, cost: CostLimit, now: float) -> None:
        """Seed the window, or wait for the seed of it already in flight in this process."""
        wid = cost_window(cost, now)
        with self._lock:
            flight = self._flights.get(wid)
            leader = flight is None
            if leader:
                flight = self._flights[wid] = threading.Event()
        assert flight is not None
        if not leader:
            flight.wait(10.0)  # then admit again: seeded, or this request seeds it
            return
        try:
            spend = self._window_spend(cost, now)
            self._inner.seed(cost, now, spend)
            self.seeded += 1
            log.info("cost counter %s rebuilt from the events: %d micro-dollars", wid, spend)
        finally:
            with self._lock:
                self._flights.pop(wid, None)
            flight.set()

    def _window_spend(self, cost: CostLimit, now: float) -> int:
        kind, _, owner = cost.scope.partition(":")
        if kind != "key":
            return 0  # a user's windows are not rebuilt (see the module docstring)
        start = None if cost.unit is None else window_start(cost.unit, now)
        end = None if cost.unit is None else window_end(cost.unit, now)
        try:
            return self._source.spend_micros(owner, start, end)
        except Exception as exc:
            raise CountersUnavailable(f"spend of {cost.scope} cannot be read: {exc}") from exc
