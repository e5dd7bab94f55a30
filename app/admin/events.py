"""Event endpoints: `GET /api/events`, `GET|POST /api/v2/events` (filtered, ordered event pages)
and `GET /api/reporting/keys/<id>` (a key's total spend)."""

from __future__ import annotations

from typing import Any

import flask
from flask.views import MethodView

from app.admin.api import Blueprint, answer
from app.container import services
from app.storage.events import EventFilter, EventOrder
from schemas.common import split_values
from schemas.events import (
    EventQuerySchema,
    EventSchema,
    EventV2BodySchema,
    EventV2QuerySchema,
    EventV2ResultSchema,
    KeyReportingSchema,
)

blp = Blueprint("events", __name__, description="Usage events and what keys have spent")


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
    def get(self, query: dict[str, Any]) -> flask.Response:
        """Events by custom id, user id, key ids and time window (start and end, unix seconds,
        are required with keyIds). At most `limit` (default 1000) events, newest last."""
        found = services().events.find(_filter(query), limit=query["limit"], offset=query["offset"])
        return answer([event.to_wire() for event in found])


def _v2_filter(query: dict[str, Any]) -> EventFilter:
    def values(name: str) -> list[str]:
        return split_values(query.get(name))

    return EventFilter(
        key_ids=values("keyIds"), custom_ids=values("customIds"), user_ids=values("userIds"),
        tags=values("tags"), policy_ids=values("policyIds"), actions=values("actions"),
        status=query.get("status"), start=query["start"], end=query["end"],
    )  # fmt: skip


def _v2_order(query: dict[str, Any]) -> EventOrder:
    if query.get("costOrder"):
        return EventOrder(by="cost", descending=query["costOrder"] == "desc")
    return EventOrder(descending=query.get("dateOrder") == "desc")


def _v2_events(query: dict[str, Any]) -> flask.Response:
    service, selection = services().events, _v2_filter(query)
    found = service.find(
        selection, limit=query["limit"], offset=query["offset"], order=_v2_order(query)
    )
    result: dict[str, Any] = {"events": [event.to_wire() for event in found]}
    if query["returnCount"]:
        result["count"] = service.count(selection)
    return answer(result)


@blp.route("/api/v2/events")
class EventsV2(MethodView):
    @blp.arguments(EventV2QuerySchema, location="query")
    @blp.response(200, EventV2ResultSchema)
    def get(self, query: dict[str, Any]) -> flask.Response:
        """Events within [start, end] by users, custom ids, keys, tags (every tag), policies,
        actions and status; ordered by date (default ascending) or by cost; `limit` (default
        100, at most 1000) and `offset`; `returnCount` adds the number of matching events."""
        return _v2_events(query)

    @blp.arguments(EventV2BodySchema)
    @blp.response(200, EventV2ResultSchema)
    def post(self, body: dict[str, Any]) -> flask.Response:
        """The same query as `GET /api/v2/events`, as a JSON body."""
        return _v2_events(body)


@blp.route("/api/reporting/keys/<string:key_id>")
class KeyReporting(MethodView):
    @blp.response(200, KeyReportingSchema)
    def get(self, key_id: str) -> dict[str, Any]:
        """What the key has spent in total, from its events; 404 for an unknown key."""
        services().keys.get(key_id)
        return {"id": key_id, "costInUsd": services().events.key_cost_usd(key_id)}
