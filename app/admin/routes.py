"""Failover route endpoints: /api/routes (create, list) and /api/routes/<id> (get, delete)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app.admin.api import Blueprint
from app.container import services
from app.services.routes import route_to_wire
from schemas.routes import CREATE_EXAMPLE, ROUTE_EXAMPLE, RouteCreateSchema, RouteSchema

blp = Blueprint(
    "routes", __name__, description="Failover routes: steps, retries and a response cache"
)


@blp.route("/api/routes")
class Routes(MethodView):
    @blp.response(200, RouteSchema(many=True), example=[ROUTE_EXAMPLE])
    def get(self) -> list[dict[str, Any]]:
        """List routes, in creation order."""
        return [route_to_wire(r) for r in services().routes.all()]

    @blp.arguments(RouteCreateSchema, example=CREATE_EXAMPLE)
    @blp.response(200, RouteSchema, example=ROUTE_EXAMPLE)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a route. Its keys must exist and have settings for every step's provider."""
        return route_to_wire(services().routes.create(data))


@blp.route("/api/routes/<string:route_id>")
class RouteById(MethodView):
    @blp.response(200, RouteSchema, example=ROUTE_EXAMPLE)
    def get(self, route_id: str) -> dict[str, Any]:
        """Retrieve a route."""
        return route_to_wire(services().routes.get(route_id))

    @blp.response(200, RouteSchema, example=ROUTE_EXAMPLE)
    def delete(self, route_id: str) -> dict[str, Any]:
        """Delete a route; the proxy stops serving it within IN_MEMORY_DB_UPDATE_INTERVAL."""
        return route_to_wire(services().routes.delete(route_id))
