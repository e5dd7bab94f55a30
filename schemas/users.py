"""User wire formats (camelCase, as BricksLLM): create and update bodies, the list and identity
queries, and the user as every user endpoint answers it."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from app.domain.limits import limit_pair_errors
from schemas.common import (
    LimitFieldsSchema,
    LimitsOutSchema,
    PathConfigSchema,
    StrictBoolean,
    WireSchema,
    plain_text,
    text_list,
    validate_ttl,
)

_LIST = {"description": "repeated or comma-separated"}


class _UserFieldsSchema(LimitFieldsSchema):
    """Fields a client may set on create and on update."""

    name = plain_text(512)
    keyIds = text_list()
    ttl = plain_text(64, validate_ttl)
    allowedPaths = fields.List(fields.Nested(PathConfigSchema), validate=validate.Length(max=1000))
    allowedModels = text_list()


class UserCreateSchema(_UserFieldsSchema):
    """`POST /api/users`. `userId` and `tags` together identify the user and must be unique."""

    name = plain_text(512, validate.Length(min=1), required=True)
    userId = plain_text()
    tags = text_list()

    @validates_schema
    def _pairs(self, data: dict[str, Any], **_: Any) -> None:
        errors = limit_pair_errors(data)
        if errors:
            raise ValidationError(dict(errors))


class UserUpdateSchema(_UserFieldsSchema):
    """PATCH bodies are partial; the limit pairs are checked on the merged user by the service.
    `userId` and `tags` are the user's identity and are not changed by an update."""

    revoked = StrictBoolean()
    revokedReason = plain_text(1024)


class UserSchema(LimitsOutSchema):
    """A user as every user endpoint answers it."""

    id = fields.String()
    name = fields.String()
    createdAt = fields.Integer()
    updatedAt = fields.Integer()
    keyIds = fields.List(fields.String())
    allowedModels = fields.List(fields.String())
    userId = fields.String()


class UserListQuerySchema(WireSchema):
    """`GET /api/users`: a user matches every filter given (all the tags, any of the keyIds)."""

    userIds = fields.List(plain_text(), metadata=_LIST)
    tags = fields.List(plain_text(), metadata=_LIST)
    keyIds = fields.List(plain_text(), metadata=_LIST)
    offset = fields.Integer(validate=validate.Range(min=0, max=2**31 - 1), load_default=0)
    limit = fields.Integer(validate=validate.Range(min=1, max=10000))


class UserIdentityQuerySchema(WireSchema):
    """`PATCH /api/users?userId=&tags=`: the user with exactly this userId and tag set."""

    userId = plain_text(load_default="")
    tags = fields.List(plain_text(), metadata=_LIST)
