"""Key management endpoints: /api/key-management/keys and /api/v2/key-management/keys."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app.admin.api import Blueprint
from app.container import services
from app.services.keys import key_to_wire
from app.storage.keys import KeyFilter
from schemas.common import split_values
from schemas.keys import (
    KeyCreateSchema,
    KeyListQuerySchema,
    KeySchema,
    KeySearchResultSchema,
    KeySearchSchema,
    KeyUpdateSchema,
)

blp = Blueprint("keys", __name__, description="Gateway API keys with rate and spend limits")


@blp.route("/api/key-management/keys")
class Keys(MethodView):
    @blp.arguments(KeyListQuerySchema, location="query")
    @blp.response(200, KeySchema(many=True))
    def get(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """List keys by tag(s), key ids or provider; a key matches when it has every tag."""
        service = services().keys
        tags = split_values(query.get("tags")) + ([query["tag"]] if query.get("tag") else [])
        setting_ids = None
        if query.get("provider"):
            setting_ids = service.setting_ids_of_provider(query["provider"])
        selection = KeyFilter(
            tags=tags, key_ids=split_values(query.get("keyIds")), setting_ids=setting_ids
        )
        return [key_to_wire(k) for k in service.find(selection)]

    @blp.arguments(KeyCreateSchema)
    @blp.response(200, KeySchema)
    def put(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a key. The secret is stored as its SHA-256 hex unless isKeyNotHashed."""
        return key_to_wire(services().keys.create(data))


@blp.route("/api/key-management/keys/<string:key_id>")
class KeyById(MethodView):
    @blp.arguments(KeyUpdateSchema)
    @blp.response(200, KeySchema)
    def patch(self, data: dict[str, Any], key_id: str) -> dict[str, Any]:
        """Update a key; every field is optional. `revoked: true` revokes it."""
        return key_to_wire(services().keys.update(key_id, data))

    @blp.response(200, KeySchema)
    def delete(self, key_id: str) -> dict[str, Any]:
        """Delete a key; the proxy stops accepting it within IN_MEMORY_DB_UPDATE_INTERVAL."""
        service = services().keys
        key = service.get(key_id)
        service.delete(key_id)
        return key_to_wire(key)


@blp.route("/api/v2/key-management/keys")
class KeySearch(MethodView):
    @blp.arguments(KeySearchSchema)
    @blp.response(200, KeySearchResultSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Search keys by ids, tags, name substring and revoked status, with pagination."""
        service = services().keys
        selection = KeyFilter(
            tags=data.get("tags", []),
            key_ids=data.get("keyIds", []),
            name=data.get("name", ""),
            revoked=data.get("revoked"),
        )
        keys = service.find(
            selection, limit=data.get("limit"), offset=data.get("offset", 0),
            order=data.get("order", "asc"),
        )  # fmt: skip
        result: dict[str, Any] = {"keys": [key_to_wire(k) for k in keys]}
        if data.get("returnCount"):
            result["count"] = service.count(selection)
        return result
