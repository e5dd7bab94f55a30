"""Fields and base classes shared by every admin schema."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from app.domain.durations import DurationError, parse_ttl
from app.domain.limits import COST_UNITS, RATE_UNITS


class WireSchema(Schema):
    """Unknown fields are ignored, as BricksLLM ignores them, so migrating clients keep working."""

    class Meta:
        unknown = EXCLUDE


def validate_ttl(value: str) -> None:
    if value == "":
        return
    try:
        parse_ttl(value)
    except DurationError as exc:
        raise ValidationError(f"{exc}; use a duration like 90s, 30m, 24h, 2d or 1h30m") from exc


class StrictString(fields.String):
    """A string that refuses numbers and other JSON types instead of coercing them, and NUL
    characters, which PostgreSQL cannot store (a 400 here, not a 500 from the driver)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str):
            raise ValidationError("Not a valid string.")
        _no_nul(value)
        return super()._deserialize(value, attr, data, **kwargs)


class StrictInteger(fields.Integer):
    """An integer that refuses booleans and numeric strings."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool):
            raise ValidationError("Not a valid integer.")
        return super()._deserialize(value, attr, data, **kwargs)


class StrictFloat(fields.Float):
    """A number that refuses booleans and numeric strings."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValidationError("Not a valid number.")
        return super()._deserialize(value, attr, data, **kwargs)


class StrictBoolean(fields.Boolean):
    """true or false only; "yes" and 1 are refused."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, bool):
            raise ValidationError("Not a valid boolean.")
        return value


def string_list(**kwargs: Any) -> fields.List[Any]:
    return fields.List(StrictString(validate=validate.Length(max=1000)), **kwargs)


def non_negative_usd(**kwargs: Any) -> StrictFloat:
    return StrictFloat(validate=validate.Range(min=0, max=1e12), allow_nan=False, **kwargs)


def rate_unit(**kwargs: Any) -> StrictString:
    return StrictString(validate=validate.OneOf(("", *RATE_UNITS)), **kwargs)


def cost_unit(**kwargs: Any) -> StrictString:
    return StrictString(validate=validate.OneOf(("", *COST_UNITS)), **kwargs)


def _no_nul(value: str) -> None:
    # PostgreSQL cannot take NUL in text: refused here as a 400, not a 500 from the driver.
    if "\x00" in value:
        raise ValidationError("must not contain NUL characters")


def plain_text(max_length: int = 1000, *checks: Any, **kwargs: Any) -> StrictString:
    """A string of at most `max_length` characters that PostgreSQL can store (no NUL), passing
    any further `checks`."""
    return StrictString(validate=[validate.Length(max=max_length), _no_nul, *checks], **kwargs)


def text_list(**kwargs: Any) -> fields.List[Any]:
    """A list of `plain_text` strings."""
    return fields.List(plain_text(), validate=validate.Length(max=1000), **kwargs)


class LimitFieldsSchema(WireSchema):
    """The rate and spend limit fields keys and users share (pairs are checked by the caller)."""

    costLimitInUsd = non_negative_usd(allow_none=True)
    costLimitInUsdOverTime = non_negative_usd(allow_none=True)
    costLimitInUsdUnit = cost_unit(allow_none=True)
    rateLimitOverTime = StrictInteger(
        validate=validate.Range(min=0, max=2**31 - 1), allow_none=True
    )
    rateLimitUnit = rate_unit(allow_none=True)


class PathConfigOut(WireSchema):
    path = fields.String()
    method = fields.String()


class LimitsOutSchema(WireSchema):
    """The limit and access fields keys and users answer alike."""

    revoked = fields.Boolean()
    revokedReason = fields.String()
    tags = fields.List(fields.String())
    costLimitInUsd = fields.Float()
    costLimitInUsdOverTime = fields.Float()
    costLimitInUsdUnit = fields.String()
    rateLimitOverTime = fields.Integer()
    rateLimitUnit = fields.String()
    ttl = fields.String()
    allowedPaths = fields.List(fields.Nested(PathConfigOut))


class PathConfigSchema(WireSchema):
    path = StrictString(required=True, validate=validate.Length(min=1, max=2048))
    method = StrictString(
        required=True,
        validate=validate.OneOf(("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD")),
    )


def split_values(values: list[str] | None) -> list[str]:
    """`tags=a&tags=b` and `tags=a,b` both give ["a", "b"]."""
    result: list[str] = []
    for value in values or []:
        result.extend(part.strip() for part in value.split(",") if part.strip())
    return result
