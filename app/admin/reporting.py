"""Reporting endpoints: Retrieve Metrics (`POST /api/reporting/events`), top spending keys, and
the user and custom ids seen on a key. A key's total spend is in `app/admin/events.py`."""

from __future__ import annotations

from typing import Any

import flask
from flask.views import MethodView

from app.admin.api import Blueprint, answer
from app.container import services
from app.storage.events import EventFilter
from app.storage.keys import KeyFilter
from schemas.reporting import (
    KeyIdQuerySchema,
    MetricsRequestSchema,
    MetricsSchema,
    TopKeysRequestSchema,
    TopKeysSchema,
)

blp = Blueprint("reporting", __name__, description="Usage reports over the events")


@blp.route("/api/reporting/events")
class Metrics(MethodView):
    @blp.arguments(MetricsRequestSchema)
    @blp.response(200, MetricsSchema)
    def post(self, body: dict[str, Any]) -> flask.Response:
        """Totals per `increment`-second bucket from `start` (only buckets with events), grouped
        by `filters`, and the median and 99th percentile latency of the selected events."""
        selection = EventFilter(
            key_ids=body.get("keyIds", []), tags=body.get("tags", []),
            custom_ids=body.get("customIds", []), user_ids=body.get("userIds", []),
            start=body["start"], end=body["end"],
        )  # fmt: skip
        group_by = list(dict.fromkeys(body.get("filters", [])))
        return answer(services().reporting.metrics(selection, body["increment"], group_by))


@blp.route("/api/reporting/top-keys")
class TopKeys(MethodView):
    @blp.arguments(TopKeysRequestSchema)
    @blp.response(200, TopKeysSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Key ids ordered by what they spent within [start, end] (`order`, default desc)."""
        keys = None
        if body.get("tags") or body.get("name") or body.get("revoked") is not None:
            keys = KeyFilter(tags=body.get("tags", []), name=body.get("name", ""),
                             revoked=body.get("revoked"))  # fmt: skip
        selection = EventFilter(
            key_ids=body.get("keyIds", []), start=body["start"], end=body["end"]
        )
        return services().reporting.top_keys(
            selection, keys, body["order"] == "desc", body.get("limit"), body["offset"]
        )


# A bare JSON list of strings has no marshmallow schema: documented as this OpenAPI schema and
# answered as it is (`answer`).
_ID_LIST = {"type": "array", "items": {"type": "string"}}


@blp.route("/api/reporting/user-ids")
class UserIds(MethodView):
    @blp.arguments(KeyIdQuerySchema, location="query")
    @blp.response(200, _ID_LIST)
    def get(self, query: dict[str, Any]) -> flask.Response:
        """The distinct user ids of the key's events, sorted."""
        return answer(services().reporting.user_ids(query["keyId"]))


@blp.route("/api/reporting/users-ids")
class UsersIds(UserIds):
    """The same as `/api/reporting/user-ids` (the spelling of BricksLLM's README)."""


@blp.route("/api/reporting/custom-ids")
class CustomIds(MethodView):
    @blp.arguments(KeyIdQuerySchema, location="query")
    @blp.response(200, _ID_LIST)
    def get(self, query: dict[str, Any]) -> flask.Response:
        """The distinct custom ids (`X-CUSTOM-EVENT-ID`) of the key's events, sorted."""
        return answer(services().reporting.custom_ids(query["keyId"]))
