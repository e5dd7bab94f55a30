"""Custom provider endpoints: /api/custom/providers."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app.admin.api import Blueprint
from app.container import services
from app.services.custom_providers import custom_provider_to_wire
from schemas.custom_providers import (
    CustomProviderCreateSchema,
    CustomProviderSchema,
    CustomProviderUpdateSchema,
)

blp = Blueprint("custom-providers", __name__, description="Providers defined by their routes")


@blp.route("/api/custom/providers")
class CustomProviders(MethodView):
    @blp.response(200, CustomProviderSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """List custom providers, in creation order."""
        return [custom_provider_to_wire(p) for p in services().custom_providers.all()]

    @blp.arguments(CustomProviderCreateSchema)
    @blp.response(200, CustomProviderSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a custom provider. The name is lower-cased and must be unique."""
        return custom_provider_to_wire(services().custom_providers.create(data))


@blp.route("/api/custom/providers/<string:provider_id>")
class CustomProviderById(MethodView):
    @blp.arguments(CustomProviderUpdateSchema)
    @blp.response(200, CustomProviderSchema)
    def patch(self, data: dict[str, Any], provider_id: str) -> dict[str, Any]:
        """Update a custom provider: route configs are merged by path."""
        return custom_provider_to_wire(services().custom_providers.update(provider_id, data))
