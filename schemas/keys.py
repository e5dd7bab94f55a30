"""Key management wire formats (camelCase, as BricksLLM)."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from app.domain.limits import limit_pair_errors
from schemas.common import (
    LimitFieldsSchema,
    LimitsOutSchema,
    PathConfigSchema,
    StrictBoolean,
    StrictInteger,
    StrictString,
    WireSchema,
    string_list,
    validate_ttl,
)


class _KeyFieldsSchema(LimitFieldsSchema):
    """Fields a client may set on create and on update."""

    name = StrictString(validate=validate.Length(max=512))
    tags = string_list()
    settingId = StrictString()
    settingIds = string_list()
    allowedPaths = fields.List(fields.Nested(PathConfigSchema))
    shouldLogRequest = StrictBoolean()
    shouldLogResponse = StrictBoolean()
    rotationEnabled = StrictBoolean()
    policyId = StrictString()


# A key travels in an HTTP header (Authorization, x-api-key, api-key): only visible ASCII can
# ever authenticate, so anything else is refused at creation rather than stored unusable.
_HEADER_SAFE = validate.Regexp(
    r"^[\x21-\x7e]+$",
    error="must be visible ASCII characters only (no spaces): it is sent in a header",
)


class KeyCreateSchema(_KeyFieldsSchema):
    name = StrictString(required=True, validate=validate.Length(min=1, max=512))
    key = StrictString(required=True, validate=[validate.Length(min=1, max=1024), _HEADER_SAFE])
    ttl = StrictString(validate=validate_ttl)
    isKeyNotHashed = StrictBoolean()

    @validates_schema
    def _rules(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, Any] = dict(limit_pair_errors(data))
        has_one = "settingId" in data and data["settingId"] != ""
        has_many = "settingIds" in data and data["settingIds"] != []
        if has_one == has_many:
            errors["settingIds"] = ["exactly one of settingId and settingIds is required"]
        if errors:
            raise ValidationError(errors)


class KeyUpdateSchema(_KeyFieldsSchema):
    """PATCH bodies are partial; the pair rules are checked on the merged key by the service."""

    revoked = StrictBoolean()
    revokedReason = StrictString(validate=validate.Length(max=1024))
    ttl = StrictString(validate=validate_ttl)  # counts from the key's creation, as on create


class KeySchema(LimitsOutSchema):
    """A key as every key endpoint answers it. `key` is the stored hash (or the raw unhashed key)."""

    name = fields.String()
    createdAt = fields.Integer()
    updatedAt = fields.Integer()
    keyId = fields.String()
    key = fields.String()
    settingId = fields.String()
    settingIds = fields.List(fields.String())
    shouldLogRequest = fields.Boolean()
    shouldLogResponse = fields.Boolean()
    rotationEnabled = fields.Boolean()
    policyId = fields.String()
    isKeyNotHashed = fields.Boolean()


class KeyListQuerySchema(WireSchema):
    tag = StrictString()
    tags = fields.List(StrictString())
    provider = StrictString()
    keyIds = fields.List(StrictString())


class KeySearchSchema(WireSchema):
    keyIds = string_list()
    tags = string_list()
    name = StrictString(validate=validate.Length(max=512))
    revoked = StrictBoolean(allow_none=True)
    limit = StrictInteger(validate=validate.Range(min=0, max=10000))
    offset = StrictInteger(validate=validate.Range(min=0, max=2**31 - 1))
    order = StrictString(validate=validate.OneOf(("asc", "desc")))
    returnCount = StrictBoolean()


class KeySearchResultSchema(WireSchema):
    keys = fields.List(fields.Nested(KeySchema))
    count = fields.Integer()
