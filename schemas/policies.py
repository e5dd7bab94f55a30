"""Policy wire formats: create and update bodies, the list query, and the policy as every policy
endpoint answers it (camelCase, as BricksLLM).

`config.rules` maps entity names to actions; `regexConfig.rules` lists `{definition, action}`.
Unknown entities or actions, and regexes RE2 cannot compile, are 400s naming the field.
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, pre_load, validate

from app.domain.policies import ACTIONS, ENTITIES, FAIL_MODES, compile_regex
from schemas.common import StrictBoolean, StrictString, WireSchema, plain_text, text_list

_ACTION = {"description": "block, allow_but_warn, allow_but_redact or allow", "example": "block"}


def _action(**kwargs: Any) -> StrictString:
    unknown = "unknown action {input!r}; use one of {choices}"
    return StrictString(validate=validate.OneOf(ACTIONS, error=unknown), metadata=_ACTION, **kwargs)


def _compiles(definition: str) -> None:
    try:
        compile_regex(definition)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc


class ConfigSchema(WireSchema):
    rules = fields.Dict(
        keys=StrictString(validate=validate.OneOf(ENTITIES, error="unknown entity {input!r}")),
        values=_action(),
        required=True,
        metadata={"description": "PII entity -> action; `all` covers every entity",
                  "example": {"address": "block", "email": "allow_but_redact"}},
    )  # fmt: skip


class RegexRuleSchema(WireSchema):
    definition = plain_text(
        1000,
        validate.Length(min=1),
        _compiles,
        required=True,
        metadata={"description": "An RE2 pattern (no backreferences or lookaround)",
                  "example": r"\bproject-[a-z]+\b"},
    )  # fmt: skip
    action = _action(required=True)


class RegexConfigSchema(WireSchema):
    rules = fields.List(
        fields.Nested(RegexRuleSchema), required=True, validate=validate.Length(max=100)
    )


class _ObjectBody(WireSchema):
    @pre_load
    def _object_body(self, data: Any, **_: Any) -> Any:
        if not isinstance(data, dict):
            raise ValidationError("the body must be a JSON object", "_schema")
        return data


_REDACT_RESPONSES = {
    "description": "Also redact what comes back: matches of block and allow_but_redact rules in "
    "response bodies and streams become ***. Not in BricksLLM; default false."
}
_FAIL_MODE = {
    "description": "When a detector cannot answer: block (503, the default) or allow (forward "
    "unchecked). Not in BricksLLM."
}


class _PolicyFieldsSchema(_ObjectBody):
    name = plain_text(512)
    tags = text_list()
    config = fields.Nested(ConfigSchema, allow_none=True)
    regexConfig = fields.Nested(RegexConfigSchema, allow_none=True)
    redactResponses = StrictBoolean(metadata=_REDACT_RESPONSES)
    onDetectorFailure = StrictString(validate=validate.OneOf(FAIL_MODES), metadata=_FAIL_MODE)


class PolicyCreateSchema(_PolicyFieldsSchema):
    """`POST /api/policies`."""

    tags = text_list(required=True)


class PolicyUpdateSchema(_PolicyFieldsSchema):
    """`PATCH /api/policies/:id`: every field optional; `config` and `regexConfig` replace the
    stored ones whole, null removes them."""


class PolicySchema(WireSchema):
    """A policy as every policy endpoint answers it."""

    id = fields.String()
    name = fields.String()
    createdAt = fields.Integer()
    updatedAt = fields.Integer()
    created_at = fields.Integer(metadata={"description": "createdAt, as BricksLLM's README"})
    updated_at = fields.Integer(metadata={"description": "updatedAt, as BricksLLM's README"})
    tags = fields.List(fields.String())
    config = fields.Nested(ConfigSchema, allow_none=True)
    regexConfig = fields.Nested(RegexConfigSchema, allow_none=True)
    redactResponses = fields.Boolean()
    onDetectorFailure = fields.String()


class PolicyListQuerySchema(WireSchema):
    """`GET /api/policies?tags=`: policies carrying every given tag; every policy without one."""

    tags = fields.List(plain_text(), metadata={"description": "repeated or comma-separated"})


CREATE_EXAMPLE = {
    "name": "Privacy Policy #1",
    "tags": ["org-111"],
    "config": {"rules": {"email": "allow_but_redact", "credit_debit_number": "block"}},
    "regexConfig": {"rules": [{"definition": r"\bproject-[a-z]+\b", "action": "block"}]},
}
POLICY_EXAMPLE = {
    "id": "0190a5e2-7c1d-7b8e-9f10-1a2b3c4d5e6f",
    "name": "Privacy Policy #1",
    "createdAt": 1699933571,
    "updatedAt": 1699933571,
    "created_at": 1699933571,
    "updated_at": 1699933571,
    "tags": ["org-111"],
    "config": CREATE_EXAMPLE["config"],
    "regexConfig": CREATE_EXAMPLE["regexConfig"],
    "redactResponses": False,
    "onDetectorFailure": "block",
}
