"""Stage 7: price what happened, settle the reservation, publish the one event of the request."""

from __future__ import annotations

import logging
from typing import Protocol

from app.counters.base import LimitCounters
from app.domain.events import Event
from app.providers.base import Usage
from app.providers.costs import Pricer
from app.proxy.context import RequestContext
from app.proxy.limits import settle

log = logging.getLogger(__name__)


class EventPublisher(Protocol):
    def publish(self, event: Event) -> None: ...


def cost_of(ctx: RequestContext, pricer: Pricer, usage: Usage | None) -> int:
    """Micro-dollars of what the request used; 0 without usage or a known price."""
    if usage is None or ctx.route is None or ctx.adapter is None:
        return 0
    return pricer.cost(
        ctx.route.operation, ctx.model, usage, ctx.setting, ctx.parsed, ctx.adapter.prices
    )


def finish(
    ctx: RequestContext, status: int, usage: Usage | None, error: str = "", *,
    pricer: Pricer, counters: LimitCounters, events: EventPublisher,
) -> None:  # fmt: skip
    """Price, settle and publish; called exactly once per request, whatever happened."""
    cost_micros = cost_of(ctx, pricer, usage)
    settle(ctx, counters, cost_micros)
    event = ctx.event
    event.status = status
    event.latency_in_ms = ctx.elapsed_ms()
    event.cost_micros = cost_micros
    event.error = error
    if usage is not None:
        event.prompt_token_count = usage.prompt_tokens
        event.completion_token_count = usage.completion_tokens
        event.token_count_source = usage.source
    if ctx.key is not None and ctx.key.should_log_request:
        event.request_body = ctx.request.body
    try:
        events.publish(event)
    except Exception:  # the response must not fail because accounting did
        log.exception("could not publish event %s", event.id)
