"""Custom provider wire formats (snake_case, as BricksLLM's README shows them).

The schemas check types only; which fields a route config needs is decided after a PATCH is merged
into the stored routes (`app/domain/custom_providers.py`), so create and update share one rule.
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, pre_load, validate

from schemas.common import StrictInteger, StrictString, WireSchema


def _location(description: str) -> StrictString:
    return StrictString(validate=validate.Length(max=1024), metadata={"description": description})


class RouteConfigSchema(WireSchema):
    path = StrictString(
        validate=validate.Length(max=2048), metadata={"example": "/chat/completions"}
    )
    target_url = StrictString(
        validate=validate.Length(max=2048),
        metadata={"example": "https://api.openai.com/v1/chat/completions"},
    )
    model_location = _location("GJSON path of the model in the request.")
    request_prompt_location = _location("GJSON path of the prompt text in the request.")
    response_completion_location = _location("GJSON path of the completion text in the response.")
    stream_location = _location("GJSON path of the request's stream boolean.")
    stream_end_word = _location("The SSE data payload that ends a stream, e.g. [DONE].")
    stream_response_completion_location = _location("GJSON path of the text in each stream event.")
    stream_max_empty_messages = StrictInteger(validate=validate.Range(min=0, max=1_000_000))


class _ObjectBody(WireSchema):
    @pre_load
    def _object_body(self, data: Any, **_: Any) -> Any:
        if not isinstance(data, dict):
            raise ValidationError("the body must be a JSON object", "_schema")
        return data


_AUTH_PARAM_DOC = {
    "description": "Header that carries the setting's apikey; empty: Authorization: Bearer."
}


class CustomProviderCreateSchema(_ObjectBody):
    provider = StrictString(required=True, validate=validate.Length(max=128))
    route_configs = fields.List(
        fields.Nested(RouteConfigSchema), required=True, validate=validate.Length(max=256)
    )
    authentication_param = StrictString(validate=validate.Length(max=256), metadata=_AUTH_PARAM_DOC)


class CustomProviderUpdateSchema(_ObjectBody):
    """PATCH: route configs are merged by path; the name cannot change."""

    route_configs = fields.List(fields.Nested(RouteConfigSchema), validate=validate.Length(max=256))
    authentication_param = StrictString(
        allow_none=True, validate=validate.Length(max=256), metadata=_AUTH_PARAM_DOC
    )


class CustomProviderSchema(WireSchema):
    id = fields.String()
    created_at = fields.Integer()
    updated_at = fields.Integer()
    provider = fields.String()
    route_configs = fields.List(fields.Nested(RouteConfigSchema))
    authentication_param = fields.String()
