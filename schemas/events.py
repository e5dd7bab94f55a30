"""Events API wire formats: the `GET /api/events` and v2 queries, the event (snake_case, as
BricksLLM answers it) and a key's spend report."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas.common import (
    StrictBoolean,
    StrictInteger,
    StrictString,
    WireSchema,
    plain_text,
    split_values,
    text_list,
)

_UNIX_SECONDS = validate.Range(min=0, max=2**63 - 1)


class EventQuerySchema(WireSchema):
    """Filters of `GET /api/events`. Query values are text, so integers parse from strings."""

    customId = plain_text()
    userId = plain_text()
    keyIds = fields.List(plain_text(), metadata={"description": "repeated or comma-separated"})
    start = fields.Integer(
        validate=_UNIX_SECONDS, metadata={"description": "unix seconds, inclusive"}
    )
    end = fields.Integer(
        validate=_UNIX_SECONDS, metadata={"description": "unix seconds, inclusive"}
    )
    limit = fields.Integer(validate=validate.Range(min=1, max=1000), load_default=1000)
    offset = fields.Integer(validate=validate.Range(min=0, max=2**31 - 1), load_default=0)

    @validates_schema
    def _window(self, data: dict[str, Any], **_: Any) -> None:
        start, end = data.get("start"), data.get("end")
        if split_values(data.get("keyIds")) and (start is None or end is None):
            raise ValidationError("start and end are required when keyIds is given", "start")
        if start is not None and end is not None and start >= end:
            raise ValidationError("start must be before end", "end")


class EventSchema(WireSchema):
    """One event, exactly as `Event.to_wire()` shapes it."""

    id = fields.String()
    created_at = fields.Integer()
    tags = fields.List(fields.String())
    key_id = fields.String()
    cost_in_usd = fields.Float()
    model = fields.String()
    provider = fields.String()
    status = fields.Integer()
    prompt_token_count = fields.Integer()
    completion_token_count = fields.Integer()
    latency_in_ms = fields.Integer()
    path = fields.String()
    method = fields.String()
    custom_id = fields.String()
    user_id = fields.String()
    policy_id = fields.String()
    action = fields.String()
    route_id = fields.String()
    token_count_source = fields.String()
    metadata = fields.Raw(allow_none=True)
    request = fields.String(allow_none=True)
    response = fields.String(allow_none=True)


class KeyReportingSchema(WireSchema):
    """What a key has spent, from its events."""

    id = fields.String()
    costInUsd = fields.Float()


ACTIONS = ("allowed", "warned", "redacted", "blocked")  # warned: a policy's allow_but_warn matched
_ORDER = validate.OneOf(("asc", "desc"))
_LIST = {"description": "repeated or comma-separated"}


class _EventV2Rules(WireSchema):
    """The rules of both forms of the v2 events query: a window, one order at most, known actions."""

    @validates_schema
    def _rules(self, data: dict[str, Any], **_: Any) -> None:
        if data["start"] >= data["end"]:
            raise ValidationError("start must be before end", "end")
        if data.get("costOrder") and data.get("dateOrder"):
            raise ValidationError("give costOrder or dateOrder, not both", "costOrder")
        unknown = [a for a in split_values(data.get("actions")) if a not in ACTIONS]
        if unknown:
            raise ValidationError(
                f"unknown action(s) {', '.join(unknown)}; use {', '.join(ACTIONS)}", "actions"
            )


class EventV2QuerySchema(_EventV2Rules):
    """`GET /api/v2/events`. Lists are repeated or comma-separated parameters."""

    userIds = fields.List(plain_text(), metadata=_LIST)
    customIds = fields.List(plain_text(), metadata=_LIST)
    keyIds = fields.List(plain_text(), metadata=_LIST)
    tags = fields.List(plain_text(), metadata={"description": "events carrying every tag"})
    policyIds = fields.List(plain_text(), metadata=_LIST)
    actions = fields.List(
        plain_text(), metadata={"description": "allowed, warned, redacted, blocked"}
    )
    status = fields.Integer(validate=validate.Range(min=0, max=999))
    start = fields.Integer(required=True, validate=_UNIX_SECONDS)
    end = fields.Integer(required=True, validate=_UNIX_SECONDS)
    limit = fields.Integer(validate=validate.Range(min=1, max=1000), load_default=100)
    offset = fields.Integer(validate=validate.Range(min=0, max=2**31 - 1), load_default=0)
    costOrder = fields.String(validate=_ORDER)
    dateOrder = fields.String(validate=_ORDER)
    returnCount = fields.Boolean(load_default=False)


class EventV2BodySchema(_EventV2Rules):
    """`POST /api/v2/events`: the same query as a JSON body."""

    userIds = text_list()
    customIds = text_list()
    keyIds = text_list()
    tags = text_list(metadata={"description": "events carrying every tag"})
    policyIds = text_list()
    actions = fields.List(StrictString(validate=validate.OneOf(ACTIONS)))
    status = StrictInteger(validate=validate.Range(min=0, max=999))
    start = StrictInteger(required=True, validate=_UNIX_SECONDS)
    end = StrictInteger(required=True, validate=_UNIX_SECONDS)
    limit = StrictInteger(validate=validate.Range(min=1, max=1000), load_default=100)
    offset = StrictInteger(validate=validate.Range(min=0, max=2**31 - 1), load_default=0)
    costOrder = StrictString(validate=_ORDER)
    dateOrder = StrictString(validate=_ORDER)
    returnCount = StrictBoolean(load_default=False)


class EventV2ResultSchema(WireSchema):
    """A page of events, and with `returnCount` the number of matching events of every page."""

    events = fields.List(fields.Nested(EventSchema))
    count = fields.Integer()
