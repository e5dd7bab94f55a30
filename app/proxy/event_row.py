"""The one place a request's event row is assembled, from its context and its outcome.

Every stage records what it learns on the context; nothing else writes event fields. Metrics and
the access log hook in here too: this is where every request's outcome is known, once.
"""

from __future__ import annotations

import orjson

from app.domain.events import Event
from app.providers.base import Usage
from app.proxy.context import RequestContext
from app.proxy.outcome import Outcome


def event_row(
    ctx: RequestContext, outcome: Outcome, usage: Usage | None, cost_micros: int
) -> Event:
    request, key = ctx.request, ctx.key
    event = Event(
        id=ctx.event_id,
        created_at=ctx.created_at,
        key_id=key.key_id if key else "",
        tags=key.tags if key else (),
        provider=ctx.endpoint.provider if ctx.endpoint else "",
        model=outcome.model or ctx.model,
        path=request.path,
        method=request.method,
        status=outcome.status,
        cost_micros=cost_micros,
        latency_in_ms=ctx.elapsed_ms(),
        custom_id=request.headers.get("X-CUSTOM-EVENT-ID", ""),
        user_id=ctx.user_id,
        route_id=ctx.route_id,
        policy_id=ctx.policy_id,
        action=ctx.policy_action,
        error=outcome.error,
        metadata=_metadata(request.headers.get("X-METADATA"), request.request_id),
    )
    if usage is not None:
        event.prompt_token_count = usage.prompt_tokens
        event.completion_token_count = usage.completion_tokens
        event.token_count_source = usage.source
    if key is not None and key.should_log_request and ctx.policy_action != "blocked":
        # The body that went upstream (a policy's redaction included), once the call exists;
        # never a body a policy blocked.
        event.request_body = ctx.call.body if ctx.call else request.body
    if key is not None and key.should_log_response:
        event.response_body = outcome.response_body
    return event


def intent_row(ctx: RequestContext) -> Event:
    """What is known of an admitted request before it goes upstream (the in-flight log's record:
    who, what and where; no outcome yet). Lighter than `event_row`: no metadata, no bodies."""
    request, key, endpoint = ctx.request, ctx.key, ctx.endpoint
    return Event(
        id=ctx.event_id,
        created_at=ctx.created_at,
        key_id=key.key_id if key else "",
        tags=key.tags if key else (),
        provider=endpoint.provider if endpoint else "",
        model=ctx.model,
        path=request.path,
        method=request.method,
        custom_id=request.headers.get("X-CUSTOM-EVENT-ID", ""),
        user_id=ctx.user_id,
        route_id=ctx.route_id,
        policy_id=ctx.policy_id,
    )


def _metadata(raw: str | None, request_id: str) -> dict[str, object] | None:
    """`X-METADATA`: a JSON object as sent; any other JSON value wrapped, anything else kept raw.
    The request id joins it (`request_id`, unless the client's metadata has its own)."""
    metadata: dict[str, object] = {}
    if raw:
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            parsed = {"raw": raw}
        metadata = parsed if isinstance(parsed, dict) else {"value": parsed}
    if request_id:
        metadata.setdefault("request_id", request_id)
    return metadata or None
