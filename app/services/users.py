"""User management: create, update (by id, or by userId and tags) and list users.

Limits follow the same rules as keys (`app/services/keys.py`). `(userId, tags)` is a user's
identity: unique, and not changed by an update.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from app.domain.entities import User, tag_set
from app.errors import BadRequest, NotFound
from app.services.clock import new_id, now_s
from app.services.keys import limits_from_wire, limits_to_wire, merge_limits, paths_from_wire
from app.storage.database import UniqueViolation
from app.storage.users import UserFilter, UserRepository

# PATCH body field -> User attribute, for the fields copied as they are.
_SIMPLE_UPDATES = {"name": "name", "revoked": "revoked", "revokedReason": "revoked_reason",
                   "ttl": "ttl"}  # fmt: skip


class UserService:
    def __init__(self, users: UserRepository) -> None:
        self._users = users

    def create(self, data: dict[str, Any]) -> User:
        now = now_s()
        user = User(
            id=new_id(),
            created_at=now,
            updated_at=now,
            user_id=data.get("userId", ""),
            name=data["name"],
            tags=tag_set(data.get("tags", ())),
            key_ids=_unique(data.get("keyIds", ())),
            limits=limits_from_wire(data),
            ttl=data.get("ttl", ""),
            allowed_paths=paths_from_wire(data.get("allowedPaths", [])),
            allowed_models=_unique(data.get("allowedModels", ())),
        )
        try:
            return self._users.create(user)
        except UniqueViolation as exc:
            raise BadRequest(
                "userId: a user with this userId and these tags already exists"
            ) from exc

    def update(self, id_: str, data: dict[str, Any]) -> User:
        """Update the user whose object id is `id_`; every field of `data` is optional."""
        return self._update(self.get(id_), data)

    def update_by_identity(self, user_id: str, tags: list[str], data: dict[str, Any]) -> User:
        """Update the user with exactly this userId and tag set (order and repeats ignored)."""
        user = self._users.get_by_identity(user_id, tag_set(tags))
        if user is None:
            raise NotFound(f"no user with userId {user_id!r} and tags {sorted(set(tags))}")
        return self._update(user, data)

    def get(self, id_: str) -> User:
        user = self._users.get(id_)
        if user is None:
            raise NotFound(f"user {id_} does not exist")
        return user

    def find(self, selection: UserFilter, limit: int | None = None, offset: int = 0) -> list[User]:
        return self._users.find(selection, limit=limit, offset=offset)

    def _update(self, current: User, data: dict[str, Any]) -> User:
        changes: dict[str, Any] = {
            "updated_at": now_s(),
            "limits": merge_limits(current.limits, data),
        }
        for wire, attr in _SIMPLE_UPDATES.items():
            if wire in data:
                changes[attr] = data[wire]
        if "keyIds" in data:
            changes["key_ids"] = _unique(data["keyIds"])
        if "allowedModels" in data:
            changes["allowed_models"] = _unique(data["allowedModels"])
        if "allowedPaths" in data:
            changes["allowed_paths"] = paths_from_wire(data["allowedPaths"])
        return self._users.replace(dataclasses.replace(current, **changes))


def _unique(values: Any) -> tuple[str, ...]:
    """Repeats dropped, first occurrence kept."""
    return tuple(dict.fromkeys(values))


def user_to_wire(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "name": user.name,
        "createdAt": user.created_at,
        "updatedAt": user.updated_at,
        "tags": list(user.tags),
        "keyIds": list(user.key_ids),
        "revoked": user.revoked,
        "revokedReason": user.revoked_reason,
        **limits_to_wire(user.limits),
        "ttl": user.ttl,
        "allowedPaths": [{"path": p.path, "method": p.method} for p in user.allowed_paths],
        "allowedModels": list(user.allowed_models),
        "userId": user.user_id,
    }
