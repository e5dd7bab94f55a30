"""Event endpoints: `GET /api/events` (filtered event list) and `GET /api/reporting/keys/<id>`."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app.admin.api import Blueprint
from app.container import services
from app.services.events import EventService
from app.storage.events import EventFilter, EventRepository
from schemas.common import split_values
from schemas.events import EventQuerySchema, EventSchema, KeyReportingSchema

blp = Blueprint("events", __name__, description="Usage events and what keys have spent")


def _events() -> EventService:
    # The container does not carry an EventService yet; the service is stateless, so building
    # one per request over the shared database costs nothing. Prefer the container's once wired.
    container = services()
    found = getattr(container, "events", None)
    return found if isinstance(found, EventService) else EventService(EventRepository(container.db))


def _filter(query: dict[str, Any]) -> EventFilter:
    return EventFilter(
        key_ids=split_values(query.get("keyIds")),
        custom_ids=[query["customId"]] if query.get("customId") else [],
        user_ids=[query["userId"]] if query.get("userId") else [],
        start=query.get("start"),
        end=query.get("end"),
    )


@blp.route("/api/events")
class Events(MethodView):
    @blp.arguments(EventQuerySchema, location="query")
    @blp.response(200, EventSchema(many=True))
    def get(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """Events by custom id, user id, key ids and time window (start and end, unix seconds,
        are required with keyIds). At most `limit` (default 1000) events, newest last."""
        found = _events().find(_filter(query), limit=query["limit"], offset=query["offset"])
        return [event.to_wire() for event in found]


@blp.route("/api/reporting/keys/<string:key_id>")
class KeyReporting(MethodView):
    @blp.response(200, KeyReportingSchema)
    def get(self, key_id: str) -> dict[str, Any]:
        """What the key has spent in total, from its events; 404 for an unknown key."""
        services().keys.get(key_id)
        return {"id": key_id, "costInUsd": _events().key_cost_usd(key_id)}
