"""Stage 0-4 for a failover route (`/api/route/<path>`): the route a path names, the client's body
read as the route's format, and one outgoing call per step (the step's provider, setting, model
and requestParams). Everything after this reads the calls, as for a provider path."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import orjson

from app.domain.entities import Key
from app.domain.routes import Route, RouteStep
from app.errors import ProxyError
from app.providers.base import Operation, OperationKind
from app.providers.registry import adapter_for
from app.proxy.authorize import authorize
from app.proxy.context import RequestContext
from app.proxy.endpoints import Endpoint
from app.proxy.outgoing import OutgoingCall, build_call
from app.proxy.snapshot import Snapshot
from app.routing.body import RouteRequestError, apply_step, parse_request, route_operation

ROUTE_PREFIXES = ("/api/route/", "/api/routes/")  # README and BricksLLM's code (DECISIONS.md)


def route_for(routes: Mapping[str, Route], path: str) -> Route | None:
    """The failover route a proxy path calls, or None for any other path."""
    for prefix in ROUTE_PREFIXES:
        if path.startswith(prefix):
            return routes.get(path[len(prefix) - 1 :])
    return None


def read_route_body(ctx: RequestContext, route: Route) -> OperationKind:
    """The client's body as chat completions or embeddings; model and user as for any request."""
    try:
        ctx.parsed = parse_request(ctx.request.body)
    except RouteRequestError as exc:
        raise ProxyError(400, f"request body is not valid: {exc}") from exc
    ctx.model = route.steps[0].model
    user = ctx.parsed.get("user")
    ctx.user_id = user if isinstance(user, str) else ""
    return OperationKind(route_operation(route, ctx.parsed))


def step_endpoint(route: Route, step: RouteStep, kind: OperationKind) -> Endpoint:
    """The provider endpoint a step calls: its adapter's POST path of that kind (Azure's with the
    step's deployment), under the route's own path."""
    adapter = adapter_for(step.provider)
    suffix = next(
        (path for method, path, k in adapter.routes if method == "POST" and k == kind.value), None
    )
    if suffix is None:
        raise ProxyError(400, f"provider {step.provider} has no {kind.value} endpoint")
    suffix = suffix.replace(":deployment_id", step.params.get("deploymentId", ""))
    return Endpoint(step.provider, route.path, Operation(kind, suffix))


def step_calls(
    ctx: RequestContext, route: Route, key: Key, kind: OperationKind, snapshot: Snapshot,
    timeout_s: float,
) -> list[OutgoingCall]:  # fmt: skip
    """One call per step, in order; a step whose provider the key has no setting for is 401."""
    assert ctx.parsed is not None
    calls = []
    for step in route.steps:
        endpoint = step_endpoint(route, step, kind)
        adapter = adapter_for(step.provider)
        setting = authorize(ctx.request, endpoint, key, step.model, snapshot)
        body = apply_step(ctx.parsed, step)
        call = build_call(ctx, endpoint, adapter, key, setting, min(timeout_s, step.timeout_s))
        api_version = step.params.get("apiVersion", "")
        url = adapter.upstream_url(setting, endpoint.operation, _query(api_version))
        calls.append(replace(call, model=step.model, url=url, body=body, parsed=orjson.loads(body)))
    return calls


def _query(api_version: str) -> str:
    return f"api-version={api_version}" if api_version else ""
