"""Stage 4: the outgoing call, one immutable value that says what goes upstream and for whom.

Built once after authorization. Every later stage reads it: the policy stage may replace it with a
redacted body, limits reserve its cost, the send stage forwards it, the relay and accounting price
it, and the event row keeps its body (never the client's original once the call exists). A route
(several attempts) makes one call per attempt with `dataclasses.replace`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.domain.durations import DurationError, parse_duration
from app.domain.entities import Key, ProviderSetting, User
from app.errors import ProxyError
from app.providers.base import Operation, ProviderAdapter
from app.proxy.context import RequestContext
from app.proxy.endpoints import Endpoint
from app.proxy.upstream import forward_headers


@dataclass(frozen=True)
class OutgoingCall:
    key: Key
    user: User | None
    adapter: ProviderAdapter
    setting: ProviderSetting
    endpoint: Endpoint
    model: str
    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes  # as the client sent it, or as a policy rewrote it
    parsed: dict[str, Any] | None  # `body` parsed (JSON bodies)
    timeout_s: float

    @property
    def operation(self) -> Operation:
        return self.endpoint.operation

    @property
    def wants_stream(self) -> bool:
        return bool(self.parsed and self.parsed.get("stream") is True)


def build_call(
    ctx: RequestContext,
    endpoint: Endpoint,
    adapter: ProviderAdapter,
    key: Key,
    setting: ProviderSetting,
    default_timeout_s: float,
) -> OutgoingCall:
    request = ctx.request
    call = OutgoingCall(
        key=key,
        user=ctx.user,
        adapter=adapter,
        setting=setting,
        endpoint=endpoint,
        model=ctx.model,
        method=request.method,
        url=adapter.upstream_url(setting, endpoint.operation, request.query),
        headers=forward_headers(request.headers, adapter.auth_headers(setting)),
        body=request.body,
        parsed=ctx.parsed,
        timeout_s=_timeout(request.headers, default_timeout_s),
    )
    ctx.call = call
    return call


def _timeout(headers: Mapping[str, str], default_s: float) -> float:
    """`x-request-timeout` (seconds, or a Go duration) shortens PROXY_TIMEOUT for one request."""
    raw = headers.get("x-request-timeout", "").strip()
    if not raw:
        return default_s
    try:
        seconds = float(raw) if raw.replace(".", "", 1).isdigit() else parse_duration(raw)
    except DurationError as exc:
        raise ProxyError(400, "x-request-timeout is not a duration") from exc
    return min(seconds, default_s) if seconds > 0 else default_s
