"""Stage 9: what the request used and cost, the reservation settled, and its one event published."""

from __future__ import annotations

import logging
import time
from typing import Protocol

from app.counters.base import LimitCounters
from app.domain.events import Event
from app.observability import access_log, metrics, request_records
from app.providers.base import Usage
from app.providers.costs import Pricer
from app.proxy.context import RequestContext
from app.proxy.event_row import event_row, intent_row
from app.proxy.limits import settle
from app.proxy.outcome import Outcome
from app.proxy.outgoing import OutgoingCall
from app.proxy.usage import usage_of

log = logging.getLogger(__name__)


class EventPublisher(Protocol):
    def begin(self, event: Event) -> None:
        """The request was admitted: `event` as known so far, kept until it is published."""
        ...

    def publish(self, event: Event) -> None: ...


def cost_of(call: OutgoingCall, outcome: Outcome, usage: Usage, pricer: Pricer) -> int:
    """Micro-dollars of what the call used; 0 without a known price."""
    model = outcome.model or call.model
    prices = call.adapter.prices
    return pricer.cost(call.operation, model, usage, call.setting, call.parsed, prices)


def finish(
    ctx: RequestContext, outcome: Outcome, *,
    pricer: Pricer, counters: LimitCounters, events: EventPublisher,
) -> None:  # fmt: skip
    """Price, settle and publish; called exactly once per request, whatever happened."""
    call = ctx.call
    usage = usage_of(ctx, call, outcome, pricer) if call is not None else None
    cost_micros = cost_of(call, outcome, usage, pricer) if call and usage else 0
    settle(ctx, counters, cost_micros)
    event = event_row(ctx, outcome, usage, cost_micros)
    _publish(events, event)
    _observe(ctx, event)


def _observe(ctx: RequestContext, event: Event) -> None:
    """Metrics and the access line, from the event row: once per request (not per route
    attempt), where its outcome is known. Nothing at all when both are switched off."""
    if not (metrics.is_enabled() or access_log.is_enabled()):
        return
    try:
        total_ms = float(event.latency_in_ms)
        started = ctx.upstream_started
        upstream_ms = (time.monotonic() - started) * 1000 if started is not None else None
        gateway_ms = max(0.0, total_ms - (upstream_ms or 0.0))
        operation = ctx.call.operation.kind.value if ctx.call else "none"
        # Tallied and formatted with the others of its tenth of a second (request_records.py).
        request_records.add((
            time.time(), event.method, event.path, event.status, total_ms,
            ctx.request.request_id, event.key_id, event.provider, event.model, gateway_ms,
            upstream_ms, operation, event.prompt_token_count, event.completion_token_count,
            event.cost_micros, ctx.limit_decision,
        ))  # fmt: skip
    except Exception:  # observing must never fail the request
        log.exception("could not record metrics for %s", event.id)


def admitted(ctx: RequestContext, *, events: EventPublisher) -> None:
    """Record an admitted request before it goes upstream, so that a worker dying mid-request
    still leaves its event (`app/events/inflight.py`)."""
    try:
        events.begin(intent_row(ctx))
    except Exception:  # the request must not fail because this record did
        log.exception("could not record the admission of %s", ctx.event_id)


def publish_attempt(ctx: RequestContext, outcome: Outcome, *, events: EventPublisher) -> None:
    """The event of a route attempt that was not relayed (it failed; it cost nothing). The
    reservation is the whole route's: it is settled with the attempt that is relayed."""
    _publish(events, event_row(ctx, outcome, None, 0))


def _publish(events: EventPublisher, event: Event) -> None:
    try:
        events.publish(event)
    except Exception:  # the response must not fail because accounting did
        log.exception("could not publish event %s", event.id)
