"""Stage 3b: which of the client's users is calling, and may they do this?

A request names its user in the body (`user`, or Anthropic's `metadata.user_id`; read by the
adapter in `read_body`). The user that applies is the one with that `userId` whose tags include all
of the key's tags (DECISIONS.md); when several do, the earliest created. A request that names no
user, or a user the gateway does not know, is checked against the key alone.
Messages name the user, never a key.
"""

from __future__ import annotations

from app.domain.entities import Key, User
from app.errors import ProxyError
from app.proxy.authorize import path_allowed
from app.proxy.context import RequestContext
from app.proxy.endpoints import Endpoint
from app.proxy.snapshot import Snapshot


def user_for(snapshot: Snapshot, user_id: str, key_tags: tuple[str, ...]) -> User | None:
    wanted = set(key_tags)
    return next(
        (u for u in snapshot.users_by_user_id.get(user_id, ()) if wanted <= set(u.tags)), None
    )


def authorize_user(
    ctx: RequestContext, endpoint: Endpoint, key: Key, snapshot: Snapshot, now: float
) -> User | None:
    """The user the request is bound to (also set on the context), or None."""
    user_id = ctx.user_id
    if not user_id:
        return None
    user = user_for(snapshot, user_id, key.tags)
    if user is None:
        return None
    if user.revoked:
        raise ProxyError(401, f"user {user_id} has been revoked")
    expires_at = user.expires_at
    if expires_at is not None and now >= expires_at:
        raise ProxyError(401, f"user {user_id} has expired")
    if user.allowed_paths and not path_allowed(ctx.request, endpoint, user.allowed_paths):
        raise ProxyError(
            403, f"path {ctx.request.method} {ctx.request.path} is not allowed for user {user_id}"
        )
    if user.allowed_models and ctx.model and ctx.model not in user.allowed_models:
        raise ProxyError(403, f"model {ctx.model} is not allowed for user {user_id}")
    ctx.user = user
    return user
