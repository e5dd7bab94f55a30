"""Stage 2: may this key do this? Allowed paths, an eligible provider setting, allowed models."""

from __future__ import annotations

import random
from collections.abc import Iterable

import orjson

from app.domain.entities import PathConfig
from app.errors import ProxyError
from app.proxy.context import RequestContext
from app.proxy.snapshot import Snapshot


def read_body(ctx: RequestContext) -> None:
    """Parse a JSON body once; pick the model and the user from JSON or multipart fields."""
    assert ctx.adapter is not None and ctx.route is not None
    request = ctx.request
    problem = ctx.adapter.check_request(request.query)
    if problem:
        raise ProxyError(400, problem)
    if request.body and request.is_json:
        try:
            parsed = orjson.loads(request.body)
        except orjson.JSONDecodeError as exc:
            raise ProxyError(400, "request body is not valid JSON") from exc
        if isinstance(parsed, dict):
            ctx.parsed = parsed
    fields = ctx.parsed if ctx.parsed is not None else request.form_fields
    ctx.model = ctx.event.model = ctx.adapter.request_model(ctx.route.operation, fields)
    ctx.event.user_id = ctx.adapter.request_user(fields)


def path_allowed(ctx: RequestContext, allowed_paths: Iterable[PathConfig]) -> bool:
    """True if one entry names this method and this path (literally, or as its route template)."""
    assert ctx.route is not None
    candidates = (ctx.request.path.rstrip("/"), ctx.route.template)
    return any(
        allowed.method.upper() == ctx.request.method and allowed.path.rstrip("/") in candidates
        for allowed in allowed_paths
    )


def authorize(ctx: RequestContext, snapshot: Snapshot) -> None:
    assert ctx.key is not None and ctx.route is not None
    key, route = ctx.key, ctx.route
    if key.allowed_paths and not path_allowed(ctx, key.allowed_paths):
        raise ProxyError(
            403, f"path {ctx.request.method} {ctx.request.path} is not allowed for this key"
        )
    eligible = [
        snapshot.settings[sid]
        for sid in key.setting_ids
        if sid in snapshot.settings and snapshot.settings[sid].provider == route.provider
    ]
    if not eligible:
        raise ProxyError(401, f"this key has no {route.provider} provider setting")
    setting = random.choice(eligible) if key.rotation_enabled else eligible[0]
    if setting.allowed_models and ctx.model and ctx.model not in setting.allowed_models:
        raise ProxyError(403, f"model {ctx.model} is not allowed")
    ctx.setting = setting
