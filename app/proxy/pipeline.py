"""One proxied request, stage by stage. Read this file first, then one module per stage, in order.

    endpoint     -> which provider (adapter) and operation the path is  (endpoints.py, 404)
    authenticate -> which key is calling                                (authenticate.py, 401)
    read body    -> the JSON parsed once; model and user from it or     (body.py, 400)
                    the multipart fields; the provider's request checks
    authorize    -> allowed paths, a provider setting, allowed models   (authorize.py, 401/403)
    user         -> the body's user: revoked, expired, paths, models    (users.py, 401/403)
    outgoing     -> the one immutable call: URL, headers, body, model   (outgoing.py, 400)
    policy       -> block or redact personal data (the key's policy)    (policy.py, 403/503)
    limits       -> rate and spend limits, reserved atomically          (limits.py, 429/503/400)
    send         -> the call on a pooled upstream connection            (send.py, upstream.py, 502/504)
    relay        -> body or SSE stream back to the client, observed     (relay.py)
    accounting   -> usage, price, settle, the event row, published      (accounting.py, usage.py,
                                                                         event_row.py)

Every path out of `handle` (an error at any stage included) ends in `accounting.finish` once, before
the client has the end of its answer: a whole body is settled before it is sent, a stream before
its final chunk (DECISIONS.md), so the client's next request sees what this one cost.

A failover route (`/api/route/<path>`, `_handle_route`) runs the same stages with one call per
step (route_steps.py) and tries them in turn (failover.py), one event per attempt, behind the
route's cache (route_cache.py). Metrics and the access log hook into `event_row.py`, where every
request's outcome is known once.
"""

from __future__ import annotations

import logging
import time
from functools import partial

from app.domain.routes import Route
from app.errors import ProxyError
from app.providers.registry import adapter_for_path
from app.proxy import accounting
from app.proxy.authenticate import authenticate
from app.proxy.authorize import authorize
from app.proxy.body import read_body
from app.proxy.context import ProxyRequest, ProxyResponse, RequestContext, error_response
from app.proxy.endpoints import resolve_endpoint
from app.proxy.failover import run_route
from app.proxy.limits import reserve
from app.proxy.outcome import Outcome
from app.proxy.outgoing import build_call
from app.proxy.policy import apply_policy
from app.proxy.relay import Finish, relay_body, relay_stream
from app.proxy.route_cache import through_cache
from app.proxy.route_steps import read_route_body, route_for, step_calls, step_endpoint
from app.proxy.runtime import ProxyRuntime
from app.proxy.send import send
from app.proxy.users import authorize_user

log = logging.getLogger(__name__)


def handle(request: ProxyRequest, runtime: ProxyRuntime) -> ProxyResponse:
    ctx = RequestContext(request, runtime.clock())
    finish: Finish = partial(
        accounting.finish, ctx, pricer=runtime.pricer, counters=runtime.counters,
        events=runtime.events,
    )  # fmt: skip
    snapshot = runtime.snapshot.current
    route = route_for(snapshot.routes_by_path, request.path)
    if route is not None:
        return _handle_route(ctx, route, runtime, finish)
    try:
        resolved = resolve_endpoint(runtime.endpoints, snapshot.custom_providers, request.method,
                                    request.wire_path or request.path, request.body,
                                    runtime.pricer.tokens)  # fmt: skip
        if resolved is None:
            raise ProxyError(404, "route not supported")
        ctx.endpoint, ctx.adapter = endpoint, adapter = resolved
        key = authenticate(ctx, snapshot, ctx.now)
        read_body(ctx, endpoint, adapter)
        setting = authorize(request, endpoint, key, ctx.model, snapshot)
        authorize_user(ctx, endpoint, key, snapshot, ctx.now)
        call = build_call(ctx, endpoint, adapter, key, setting, runtime.settings.proxy_timeout)
        call = ctx.call = apply_policy(ctx, call, snapshot.policies, runtime.detectors)
        reserve(ctx, call, runtime.counters, runtime.pricer, runtime.fail_open, ctx.now)
        accounting.admitted(ctx, events=runtime.events)
        ctx.upstream_started = time.monotonic()
        upstream, hide_usage = send(call, runtime.upstream)
    except ProxyError as error:
        finish(Outcome(error.status, error.message))
        return error_response(error, ctx.adapter or adapter_for_path(request.path))
    except Exception:  # a fault of ours: still one event, and the reservation released at once
        return _internal_error(ctx, finish)
    if upstream.is_event_stream:
        return relay_stream(call, upstream, finish, hide_usage, runtime.streams)
    return relay_body(call, upstream, finish)


def _handle_route(
    ctx: RequestContext, route: Route, runtime: ProxyRuntime, finish: Finish
) -> ProxyResponse:
    """A failover route: the same stages, with one call per step and the steps tried in turn
    (behind the route's cache when it has one)."""
    snapshot = runtime.snapshot.current
    ctx.route_id = route.id
    timeout_s = runtime.settings.proxy_timeout
    try:
        key = authenticate(ctx, snapshot, ctx.now)
        if not route.allows_key(key.key_id):
            raise ProxyError(403, "this key may not call this route")
        kind = read_route_body(ctx, route)
        ctx.endpoint = first = step_endpoint(route, route.steps[0], kind)
        authorize_user(ctx, first, key, snapshot, ctx.now)
        calls = step_calls(ctx, route, key, kind, snapshot, timeout_s)
        calls = [apply_policy(ctx, call, snapshot.policies, runtime.detectors) for call in calls]
        ctx.call, ctx.adapter = calls[0], calls[0].adapter
    except ProxyError as error:
        finish(Outcome(error.status, error.message))
        return error_response(error, ctx.adapter)
    except Exception:
        return _internal_error(ctx, finish)

    def go_upstream() -> ProxyResponse:
        try:
            reserve(ctx, calls[0], runtime.counters, runtime.pricer, runtime.fail_open, ctx.now,
                    calls[1:])  # fmt: skip
        except ProxyError as error:
            finish(Outcome(error.status, error.message))
            return error_response(error, ctx.adapter)
        accounting.admitted(ctx, events=runtime.events)
        ctx.upstream_started = time.monotonic()
        publish_attempt = partial(accounting.publish_attempt, events=runtime.events)
        try:
            return run_route(ctx, route, calls, runtime.upstream, finish, publish_attempt,
                             timeout_s, runtime.streams)  # fmt: skip
        except Exception:
            return _internal_error(ctx, finish)

    if route.cache_config.enabled:
        return through_cache(ctx, route, runtime.route_cache, go_upstream, finish, timeout_s)
    return go_upstream()


def _internal_error(ctx: RequestContext, finish: Finish) -> ProxyResponse:
    log.exception("proxy request %s failed", ctx.event_id)
    error = ProxyError(500, "internal error")
    finish(Outcome(error.status, error.message))
    return error_response(error, ctx.adapter)
