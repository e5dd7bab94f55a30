"""The events of a route request: one per attempt (DECISIONS.md), and the one of a cache hit.

The last attempt's event is the request's own event, priced and settled by the pipeline's
accounting as for any request; `attempt_events` builds the events of the attempts before it,
which the client never saw: each with the route id, its step's provider and model, its own
status (the upstream's, or 504/502 when none answered), latency and error, and cost 0 (an
upstream error or timeout is not billed). A cache hit's event says `provider: "cached"`, cost 0.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from app.domain.events import Event
from app.routing.outcome import Failure
from app.routing.runner import AttemptRecord

CACHE_HEADER = "X-BricksLLM-Cache"  # "HIT" on answers served from the route cache, else "MISS"
CACHED_PROVIDER = "cached"
# The status an event records for an attempt no upstream answered, as the proxy answers them.
FAILURE_STATUS = {Failure.TIMEOUT: 504, Failure.CONNECTION: 502, Failure.REFUSED_ADDRESS: 502}


def attempt_status(record: AttemptRecord) -> int:
    if record.status is not None:
        return record.status
    return FAILURE_STATUS.get(record.failure or Failure.CONNECTION, 502)


def attempt_events(
    template: Event, route_id: str, attempts: Sequence[AttemptRecord], new_id: Callable[[], str]
) -> list[Event]:
    """Events of every attempt but the last, copied from the request's `template` event."""
    return [
        dataclasses.replace(
            template,
            id=new_id(),
            route_id=route_id,
            provider=record.provider,
            model=record.model,
            status=attempt_status(record),
            cost_micros=0,
            latency_in_ms=int(record.elapsed_s * 1000),
            error=record.failure.value if record.failure else "",
            response_body=None,
        )
        for record in attempts[:-1]
    ]


def apply_final_attempt(event: Event, route_id: str, attempts: Sequence[AttemptRecord]) -> None:
    """Mark the request's own event with the route and the step of its last attempt."""
    event.route_id = route_id
    if attempts:
        event.provider = attempts[-1].provider
        event.model = attempts[-1].model


def mark_cache_hit(event: Event, route_id: str) -> None:
    """The request's own event when the cache answered: no upstream, nothing spent."""
    event.route_id = route_id
    event.provider = CACHED_PROVIDER
    event.cost_micros = 0
