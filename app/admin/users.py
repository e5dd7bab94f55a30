"""User endpoints: create, update by id or by userId and tags, and list users."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app.admin.api import Blueprint
from app.container import services
from app.services.users import user_to_wire
from app.storage.users import UserFilter
from schemas.common import split_values
from schemas.users import (
    UserCreateSchema,
    UserIdentityQuerySchema,
    UserListQuerySchema,
    UserSchema,
    UserUpdateSchema,
)

blp = Blueprint("users", __name__, description="Users: client-defined ids with their own limits")


@blp.route("/api/users")
class Users(MethodView):
    @blp.arguments(UserListQuerySchema, location="query")
    @blp.response(200, UserSchema(many=True))
    def get(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """Users by userIds, tags (a user matches when it has every tag) and keyIds (any of
        them), in creation order, with offset and limit."""
        selection = UserFilter(
            user_ids=split_values(query.get("userIds")),
            tags=split_values(query.get("tags")),
            key_ids=split_values(query.get("keyIds")),
        )
        found = services().users.find(selection, limit=query.get("limit"), offset=query["offset"])
        return [user_to_wire(u) for u in found]

    @blp.arguments(UserCreateSchema)
    @blp.response(200, UserSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a user; 400 when a user with the same userId and tags exists."""
        return user_to_wire(services().users.create(data))

    @blp.arguments(UserIdentityQuerySchema, location="query")
    @blp.arguments(UserUpdateSchema)
    @blp.response(200, UserSchema)
    def patch(self, query: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        """Update the user with exactly this userId and tag set; 404 when there is none."""
        tags = split_values(query.get("tags"))
        return user_to_wire(services().users.update_by_identity(query["userId"], tags, data))


@blp.route("/api/users/<string:user_id>")
class UserById(MethodView):
    @blp.arguments(UserUpdateSchema)
    @blp.response(200, UserSchema)
    def patch(self, data: dict[str, Any], user_id: str) -> dict[str, Any]:
        """Update a user by its id; every field is optional."""
        return user_to_wire(services().users.update(user_id, data))
