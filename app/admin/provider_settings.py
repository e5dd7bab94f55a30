"""Provider setting endpoints: /api/provider-settings."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app.admin.api import Blueprint
from app.container import services
from app.services.provider_settings import setting_to_wire
from schemas.common import split_values
from schemas.provider_settings import (
    ProviderSettingCreateSchema,
    ProviderSettingQuerySchema,
    ProviderSettingSchema,
    ProviderSettingUpdateSchema,
)

blp = Blueprint("provider-settings", __name__, description="Upstream credentials and options")


@blp.route("/api/provider-settings")
class ProviderSettings(MethodView):
    @blp.arguments(ProviderSettingQuerySchema, location="query")
    @blp.response(200, ProviderSettingSchema(many=True))
    def get(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """List provider settings, all or by `ids`. Secrets are never returned."""
        found = services().provider_settings.find(split_values(query.get("ids")))
        return [setting_to_wire(s) for s in found]

    @blp.arguments(ProviderSettingCreateSchema)
    @blp.response(200, ProviderSettingSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a provider setting."""
        return setting_to_wire(services().provider_settings.create(data))

    @blp.arguments(ProviderSettingCreateSchema)
    @blp.response(200, ProviderSettingSchema)
    def put(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a provider setting (the README's Getting Started uses PUT)."""
        return setting_to_wire(services().provider_settings.create(data))


@blp.route("/api/provider-settings/<string:setting_id>")
class ProviderSettingById(MethodView):
    @blp.arguments(ProviderSettingUpdateSchema)
    @blp.response(200, ProviderSettingSchema)
    def patch(self, data: dict[str, Any], setting_id: str) -> dict[str, Any]:
        """Update a setting: `setting` is merged into the stored one."""
        return setting_to_wire(services().provider_settings.update(setting_id, data))
