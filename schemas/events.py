"""Events API wire formats: the `GET /api/events` query, the event (snake_case, as BricksLLM
answers it) and a key's spend report."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas.common import WireSchema, plain_text, split_values

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
