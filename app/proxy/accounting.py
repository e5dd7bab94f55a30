"""Stage 9: what the request used and cost, the reservation settled, and its one event published."""

from __future__ import annotations

import logging
from typing import Protocol

from app.counters.base import LimitCounters
from app.domain.events import Event
from app.providers.base import Usage
from app.providers.costs import Pricer
from app.proxy.context import RequestContext
from app.proxy.event_row import event_row
from app.proxy.limits import settle
from app.proxy.outcome import Outcome
from app.proxy.outgoing import OutgoingCall
from app.proxy.usage import usage_of

log = logging.getLogger(__name__)


class EventPublisher(Protocol):
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


def publish_attempt(ctx: RequestContext, outcome: Outcome, *, events: EventPublisher) -> None:
    """The event of a route attempt that was not relayed (it failed; it cost nothing). The
    reservation is the whole route's: it is settled with the attempt that is relayed."""
    _publish(events, event_row(ctx, outcome, None, 0))


def _publish(events: EventPublisher, event: Event) -> None:
    try:
        events.publish(event)
    except Exception:  # the response must not fail because accounting did
        log.exception("could not publish event %s", event.id)
