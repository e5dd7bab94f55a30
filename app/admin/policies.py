"""Policy endpoints: /api/policies (create, list by tags) and /api/policies/:id (get, update,
delete)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app.admin.api import Blueprint
from app.container import services
from app.services.policies import policy_to_wire
from schemas.common import split_values
from schemas.policies import (
    CREATE_EXAMPLE,
    POLICY_EXAMPLE,
    PolicyCreateSchema,
    PolicyListQuerySchema,
    PolicySchema,
    PolicyUpdateSchema,
)

blp = Blueprint("policies", __name__, description="Policies: block or redact personal data")


@blp.route("/api/policies")
class Policies(MethodView):
    @blp.arguments(PolicyListQuerySchema, location="query")
    @blp.response(200, PolicySchema(many=True), example=[POLICY_EXAMPLE])
    def get(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """Policies carrying every given tag (every policy when no tag is given), in creation
        order."""
        found = services().policies.find(split_values(query.get("tags")))
        return [policy_to_wire(p) for p in found]

    @blp.arguments(PolicyCreateSchema, example=CREATE_EXAMPLE)
    @blp.response(200, PolicySchema, example=POLICY_EXAMPLE)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a policy; 400 naming the field for an unknown entity or action, or a regex
        RE2 cannot compile."""
        return policy_to_wire(services().policies.create(data))


@blp.route("/api/policies/<string:policy_id>")
class PolicyById(MethodView):
    @blp.response(200, PolicySchema, example=POLICY_EXAMPLE)
    def get(self, policy_id: str) -> dict[str, Any]:
        """One policy; 404 when there is none."""
        return policy_to_wire(services().policies.get(policy_id))

    @blp.arguments(PolicyUpdateSchema, example={"config": {"rules": {"ssn": "block"}}})
    @blp.response(200, PolicySchema, example=POLICY_EXAMPLE)
    def patch(self, data: dict[str, Any], policy_id: str) -> dict[str, Any]:
        """Update a policy; every field is optional, `config` and `regexConfig` are replaced
        whole."""
        return policy_to_wire(services().policies.update(policy_id, data))

    @blp.response(200, PolicySchema, example=POLICY_EXAMPLE)
    def delete(self, policy_id: str) -> dict[str, Any]:
        """Delete a policy and answer it as it was; 400 while a key still names it."""
        policies = services().policies
        policy = policies.get(policy_id)
        policies.delete(policy_id)
        return policy_to_wire(policy)
