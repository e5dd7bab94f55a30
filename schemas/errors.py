"""The admin error shape, documented for every error response of the admin API."""

from __future__ import annotations

from marshmallow import fields

from schemas.common import WireSchema


class AdminErrorSchema(WireSchema):
    type = fields.String(metadata={"example": "/errors/validation"})
    title = fields.String(metadata={"example": "bad request"})
    status = fields.Integer(metadata={"example": 400})
    detail = fields.String(
        metadata={"example": "rateLimitUnit: required when rateLimitOverTime is set"}
    )
    instance = fields.String(metadata={"example": "/api/key-management/keys"})
