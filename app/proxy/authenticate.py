"""Stage 1: who is calling. The key comes from the first of x-api-key, api-key, Authorization."""

from __future__ import annotations

from collections.abc import Mapping

from app.domain.entities import Key, hash_key
from app.errors import ProxyError
from app.proxy.context import RequestContext
from app.proxy.snapshot import Snapshot

_KEY_HEADERS = ("x-api-key", "api-key", "Authorization")


def presented_key(headers: Mapping[str, str]) -> str:
    """The credential of the first key header present; a later header never rescues a wrong one."""
    for name in _KEY_HEADERS:
        value = headers.get(name)
        if value is None:
            continue
        value = value.strip()
        if name == "Authorization" and " " in value:
            value = value.split(" ", 1)[1].strip()  # the token after the scheme (Bearer, Basic...)
        return value
    return ""


def authenticate(ctx: RequestContext, snapshot: Snapshot, now: float) -> Key:
    """The calling key; it is on the context (and so on the event) even when it is refused."""
    secret = presented_key(ctx.request.headers)
    if not secret:
        raise ProxyError(401, "api key is missing")
    key = snapshot.key_for(hash_key(secret), secret)
    if key is None:
        raise ProxyError(401, "api key is not valid")
    ctx.key = key
    if key.revoked:
        raise ProxyError(401, "api key has been revoked")
    expires_at = key.expires_at
    if expires_at is not None and now >= expires_at:
        raise ProxyError(401, "api key has expired")
    return key
