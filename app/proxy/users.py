"""Stage 3b: which of the client's users is calling, and may they do this?

A request names its user in the body (`user`, or Anthropic's `metadata.user_id`; read by the
adapter in `read_body`). The user that applies is the one with that `userId` whose tags include all
of the key's tags (DECISIONS.md); when several do, the earliest created. A request that names no
user, or a user the gateway does not know, is checked against the key alone.
Messages name the user, never a key.

A userId the snapshot does not know, or whose user is revoked or expired, is rechecked in the
database (bounded and batched, `snapshot.recheck_users`): a user created with limits has them
from its first request.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from app.domain.entities import Key, User
from app.errors import ProxyError
from app.proxy.authorize import path_allowed
from app.proxy.context import RequestContext
from app.proxy.endpoints import Endpoint
from app.proxy.snapshot import Snapshot


def user_for(
    snapshot: Snapshot, user_id: str, key_tags: tuple[str, ...], now: float | None = None
) -> User | None:
    user = _first_match(snapshot.users_by_user_id.get(user_id, ()), key_tags)
    if user is None or not _usable(user, time.time() if now is None else now):
        fresh = snapshot.recheck_users(user_id)
        if fresh is not None:
            return _first_match(fresh, key_tags)
    return user


def _first_match(users: Iterable[User], key_tags: tuple[str, ...]) -> User | None:
    wanted = set(key_tags)
    return next((u for u in users if wanted <= set(u.tags)), None)


def _usable(user: User, now: float) -> bool:
    expires_at = user.expires_at
    return not user.revoked and (expires_at is None or now < expires_at)


def authorize_user(
    ctx: RequestContext, endpoint: Endpoint, key: Key, snapshot: Snapshot, now: float
) -> User | None:
    """The user the request is bound to (also set on the context), or None."""
    user_id = ctx.user_id
    if not user_id:
        return None
    user = user_for(snapshot, user_id, key.tags, now)
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
