"""Route wire formats (camelCase, as BricksLLM's `/api/routes`).

The schemas check JSON types; the route rules (providers, Azure params, durations, request
parameter types, the cache ttl) are in `app/domain/routes.py`, and the checks that need storage in
`app/services/routes.py`. `CREATE_EXAMPLE` and `ROUTE_EXAMPLE` are the OpenAPI examples; a test
creates a route from the first one.
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, pre_load, validate

from schemas.common import StrictBoolean, StrictInteger, StrictString, WireSchema, string_list

_DURATION = {"description": "A Go-style duration: 500ms, 5s, 2m, 1h30m."}


class StepParamsSchema(WireSchema):
    deploymentId = StrictString(validate=validate.Length(max=256), metadata={"example": "gpt4o"})
    apiVersion = StrictString(validate=validate.Length(max=64), metadata={"example": "2024-06-01"})


class StepSchema(WireSchema):
    provider = StrictString(
        required=True,
        validate=validate.Length(max=64),
        metadata={"description": "openai, azure, vllm or deepinfra.", "example": "azure"},
    )
    model = StrictString(
        required=True, validate=validate.Length(max=256), metadata={"example": "gpt-4o"}
    )
    retries = StrictInteger(
        validate=validate.Range(min=0, max=10),
        metadata={"description": "Extra tries of this step (it runs retries + 1 times)."},
    )
    params = fields.Nested(
        StepParamsSchema,
        metadata={"description": "Azure steps: deploymentId and apiVersion (both required)."},
    )
    timeout = StrictString(
        validate=validate.Length(max=32),
        metadata={**_DURATION, "description": "Deadline of each try. Default 5m.", "example": "5s"},
    )
    retryInterval = StrictString(
        validate=validate.Length(max=32),
        metadata={
            **_DURATION,
            "description": "Wait between tries (exponential: the first wait). Default 1s.",
            "example": "1s",
        },  # fmt: skip
    )
    requestParams = fields.Dict(
        keys=fields.String(validate=validate.Length(max=64)),
        metadata={
            "description": "Replace these fields of the client's request: frequency_penalty, "
            "presence_penalty, temperature, top_p (numbers), max_tokens, max_completion_tokens, "
            "n, seed, top_logprobs (integers), logprobs (boolean), stop (string or strings), "
            "logit_bias (object of integers).",
            "example": {"temperature": 0.2},
        },
    )


class CacheConfigSchema(WireSchema):
    enabled = StrictBoolean(required=True, metadata={"example": True})
    ttl = StrictString(
        validate=validate.Length(max=32),
        metadata={
            "description": "How long answers stay cached. Default 168h, at most 720h.",
            "example": "1h",
        },  # fmt: skip
    )
    shareAcrossKeys = StrictBoolean(
        metadata={
            "description": "Gateway option: every key of the route may read answers "
            "another key cached. Default false: each key has its own cache."
        }  # fmt: skip
    )


class RouteCreateSchema(WireSchema):
    name = StrictString(required=True, validate=validate.Length(max=512))
    path = StrictString(
        required=True,
        validate=validate.Length(max=1024),
        metadata={
            "description": "Unique; served at /api/route<path> on the proxy.",
            "example": "/production/chat/completions",
        },  # fmt: skip
    )
    retryStrategy = StrictString(
        validate=validate.Length(max=32),
        metadata={"description": "constant (default) or exponential (with jitter)."},
    )
    requestFormat = StrictString(
        validate=validate.Length(max=64),
        metadata={
            "description": "openai_chat_completion or openai_embeddings; empty: decided "
            "by the request (embeddings when it has input and no messages)."
        },  # fmt: skip
    )
    steps = fields.List(fields.Nested(StepSchema), required=True, validate=validate.Length(max=32))
    keyIds = string_list(required=True, validate=validate.Length(max=1000))
    cacheConfig = fields.Nested(CacheConfigSchema, required=True)

    @pre_load
    def _object_body(self, data: Any, **_: Any) -> Any:
        if not isinstance(data, dict):
            raise ValidationError("the body must be a JSON object", "_schema")
        return data


class RouteStepOutSchema(WireSchema):
    provider = fields.String()
    model = fields.String()
    retries = fields.Integer()
    params = fields.Dict(keys=fields.String(), values=fields.String())
    timeout = fields.String()
    retryInterval = fields.String()
    requestParams = fields.Dict(keys=fields.String())


class CacheConfigOutSchema(WireSchema):
    enabled = fields.Boolean()
    ttl = fields.String()
    shareAcrossKeys = fields.Boolean()


class RouteSchema(WireSchema):
    id = fields.String()
    createdAt = fields.Integer()
    updatedAt = fields.Integer()
    name = fields.String()
    path = fields.String()
    retryStrategy = fields.String()
    requestFormat = fields.String()
    steps = fields.List(fields.Nested(RouteStepOutSchema))
    keyIds = fields.List(fields.String())
    cacheConfig = fields.Nested(CacheConfigOutSchema)


CREATE_EXAMPLE: dict[str, Any] = {
    "name": "production-chat",
    "path": "/production/chat/completions",
    "retryStrategy": "exponential",
    "steps": [
        {
            "provider": "azure",
            "model": "gpt-4o",
            "params": {"deploymentId": "gpt4o", "apiVersion": "2024-06-01"},
            "retries": 2,
            "retryInterval": "500ms",
            "timeout": "20s",
        },
        {
            "provider": "openai",
            "model": "gpt-4o-mini",
            "timeout": "30s",
            "requestParams": {"temperature": 0.2, "max_tokens": 512},
        },
    ],
    "keyIds": ["9e6e8b27-2ce0-4ef0-bdd7-1ed3916592eb"],
    "cacheConfig": {"enabled": True, "ttl": "1h"},
}

ROUTE_EXAMPLE: dict[str, Any] = {
    "id": "0190d1c2-7a3b-7c4d-8e5f-1a2b3c4d5e6f",
    "createdAt": 1699933571,
    "updatedAt": 1699933571,
    "name": "production-chat",
    "path": "/production/chat/completions",
    "retryStrategy": "exponential",
    "requestFormat": "",
    "steps": [
        {
            "provider": "azure",
            "model": "gpt-4o",
            "retries": 2,
            "params": {"deploymentId": "gpt4o", "apiVersion": "2024-06-01"},
            "timeout": "20s",
            "retryInterval": "500ms",
            "requestParams": {},
        },
        {
            "provider": "openai",
            "model": "gpt-4o-mini",
            "retries": 0,
            "params": {},
            "timeout": "30s",
            "retryInterval": "",
            "requestParams": {"temperature": 0.2, "max_tokens": 512},
        },
    ],
    "keyIds": ["9e6e8b27-2ce0-4ef0-bdd7-1ed3916592eb"],
    "cacheConfig": {"enabled": True, "ttl": "1h", "shareAcrossKeys": False},
}
