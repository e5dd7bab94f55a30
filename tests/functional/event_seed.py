"""A small, fixed set of events whose reports are worked out by hand in the tests that use it.

Window [T0, T0 + 179], buckets of 60 s from T0. Latencies in the window: 100, 300, 5, 1000, 50.
"""

from __future__ import annotations

from app.domain.events import Event
from app.storage.database import Database
from app.storage.events import EventRepository

T0 = 1_700_000_000
END = T0 + 179


def seed(db: Database, k1: str = "k1", k2: str = "k2", k3: str = "k3") -> None:
    def ev(event_id: str, at: int, key_id: str, **extra: object) -> Event:
        return Event(id=event_id, created_at=at, key_id=key_id, **extra)  # type: ignore[arg-type]

    EventRepository(db).insert_many([
        ev("e0", T0 - 1, k1, model="gpt-4o", status=200, cost_micros=7_000_000, latency_in_ms=9),
        ev("e1", T0, k1, model="gpt-4o", custom_id="c1", user_id="u1", status=200,
           cost_micros=1_000, latency_in_ms=100, prompt_token_count=10,
           completion_token_count=20, tags=("t1",), action="allowed"),
        ev("e2", T0 + 30, k1, model="gpt-4o", custom_id="c2", user_id="u1", status=200,
           cost_micros=2_500, latency_in_ms=300, prompt_token_count=5,
           completion_token_count=5, tags=("t1", "t2"), policy_id="p1", action="redacted"),
        ev("e3", T0 + 59, k2, model="gpt-4o-mini", custom_id="c1", user_id="u2", status=429,
           latency_in_ms=5, tags=("t2",), policy_id="p1", action="blocked"),
        ev("e4", T0 + 60, k1, model="gpt-4o-mini", custom_id="c1", user_id="u2", status=200,
           cost_micros=500_000, latency_in_ms=1000, prompt_token_count=100,
           completion_token_count=200, tags=("t1",), action="allowed"),
        ev("e5", T0 + 125, k2, model="gpt-4o", status=502, cost_micros=250_000,
           latency_in_ms=50, prompt_token_count=7),
        ev("e6", T0 + 200, k3, model="gpt-4o", status=200, cost_micros=9_000_000,
           latency_in_ms=7, custom_id="c9", user_id="u9"),
    ])  # fmt: skip
