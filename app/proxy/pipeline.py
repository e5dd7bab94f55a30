"""One proxied request, stage by stage. Read this file first.

    route        -> which provider (adapter) and operation the path is (routes.py, 404)
    authenticate -> which key is calling                              (authenticate.py, 401)
    read body    -> model and user from JSON or multipart; the        (authorize.py, 400)
                    provider's own request checks (Azure api-version)
    authorize    -> allowed paths, a provider setting, allowed models (authorize.py, 401/403)
    user         -> the body's user: revoked, expired, paths, models (users.py, 401/403)
    limits       -> rate and spend limits, reserved atomically        (limits.py, 429/503/400)
    upstream     -> the provider call on a pooled connection          (upstream.py, 502/504)
    relay        -> body or SSE stream back to the client             (relay.py)
    accounting   -> price, settle, publish exactly one event          (accounting.py)

Every path out of `handle` (an error at any stage included) ends in `accounting.finish` once, before
the client has the end of its answer: a whole body is settled before it is sent, a stream before
its final chunk (DECISIONS.md), so the client's next request sees what this one cost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial

import orjson

from app.config import Settings
from app.counters.base import LimitCounters
from app.domain.durations import DurationError, parse_duration
from app.domain.events import Event
from app.errors import ProxyError
from app.providers.costs import Pricer
from app.proxy import accounting
from app.proxy.authenticate import authenticate
from app.proxy.authorize import authorize, read_body
from app.proxy.context import ProxyRequest, ProxyResponse, RequestContext, error_response
from app.proxy.limits import FailOpen, reserve
from app.proxy.relay import Finish, relay_body, relay_stream
from app.proxy.routes import RouteTable, resolve
from app.proxy.snapshot import SnapshotHolder
from app.proxy.upstream import UpstreamPool, UpstreamRequest, forward_headers
from app.proxy.users import authorize_user
from app.services.clock import new_id


@dataclass
class ProxyRuntime:
    """What the proxy holds per process."""

    settings: Settings
    routes: RouteTable
    snapshot: SnapshotHolder
    counters: LimitCounters
    pricer: Pricer
    upstream: UpstreamPool
    events: accounting.EventPublisher
    fail_open: FailOpen


def handle(request: ProxyRequest, runtime: ProxyRuntime) -> ProxyResponse:
    ctx = RequestContext(request, _new_event(request))
    finish = partial(accounting.finish, pricer=runtime.pricer, counters=runtime.counters,
                     events=runtime.events)  # fmt: skip
    try:
        resolved = resolve(runtime.routes, runtime.snapshot.current.custom_providers, request.method,
                           request.path, request.body, runtime.pricer.tokens)  # fmt: skip
        if resolved is None:
            raise ProxyError(404, "route not supported")
        ctx.route, ctx.adapter = resolved
        ctx.event.provider = ctx.route.provider
        authenticate(ctx, runtime.snapshot.current)
        read_body(ctx)
        authorize(ctx, runtime.snapshot.current)
        authorize_user(ctx, runtime.snapshot.current)
        reserve(ctx, runtime.counters, runtime.pricer, runtime.fail_open)
        return _call_upstream(ctx, runtime, finish)
    except ProxyError as error:
        finish(ctx, error.status, None, error.message)
        return error_response(error)


def _call_upstream(ctx: RequestContext, runtime: ProxyRuntime, finish: Finish) -> ProxyResponse:
    assert ctx.adapter is not None and ctx.setting is not None and ctx.route is not None
    body, hide_usage = ctx.request.body, False
    if (
        ctx.wants_stream
        and ctx.parsed is not None
        and ctx.route.operation.kind in ("chat", "completions")
    ):
        body, hide_usage = ctx.adapter.prepare_stream_body(body, ctx.parsed)
    upstream = runtime.upstream.send(UpstreamRequest(
        method=ctx.request.method,
        url=ctx.adapter.upstream_url(ctx.setting, ctx.route.operation, ctx.request.query),
        headers=forward_headers(ctx.request.headers, ctx.adapter.auth_headers(ctx.setting)),
        body=body,
        timeout_s=_timeout(ctx.request, runtime.settings.proxy_timeout),
    ))  # fmt: skip
    if "text/event-stream" in (upstream.get("content-type") or ""):
        return relay_stream(ctx, upstream, runtime.pricer, finish, hide_usage)
    return relay_body(ctx, upstream, runtime.pricer, finish)


def _timeout(request: ProxyRequest, default_s: float) -> float:
    """`x-request-timeout` (seconds, or a Go duration) shortens PROXY_TIMEOUT for one request."""
    raw = request.headers.get("x-request-timeout", "").strip()
    if not raw:
        return default_s
    try:
        seconds = float(raw) if raw.replace(".", "", 1).isdigit() else parse_duration(raw)
    except DurationError as exc:
        raise ProxyError(400, "x-request-timeout is not a duration") from exc
    return min(seconds, default_s) if seconds > 0 else default_s


def _new_event(request: ProxyRequest) -> Event:
    event = Event(
        id=new_id(), created_at=int(time.time()), path=request.path, method=request.method
    )
    event.custom_id = request.headers.get("X-CUSTOM-EVENT-ID", "")
    raw_metadata = request.headers.get("X-METADATA")
    if raw_metadata:
        try:
            metadata = orjson.loads(raw_metadata)
            event.metadata = metadata if isinstance(metadata, dict) else {"value": metadata}
        except orjson.JSONDecodeError:
            event.metadata = {"raw": raw_metadata}
    return event
