"""Stage 2: read the client's body once: the provider's own request checks (Azure's api-version),
the JSON parsed, and the model and the user it names (JSON, or multipart form fields)."""

from __future__ import annotations

import orjson

from app.errors import ProxyError
from app.providers.base import ProviderAdapter
from app.proxy.context import RequestContext
from app.proxy.endpoints import Endpoint


def read_body(ctx: RequestContext, endpoint: Endpoint, adapter: ProviderAdapter) -> None:
    request = ctx.request
    problem = adapter.check_request(request.query)
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
    ctx.model = adapter.request_model(endpoint.operation, fields)
    ctx.user_id = adapter.request_user(fields)
