"""Provider setting wire formats. The `setting` map is write-only for secrets."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, ValidationError, fields, pre_load, validate

from schemas.common import StrictFloat, StrictString, WireSchema, string_list

_MODEL_PRICES = fields.Dict(
    keys=fields.String(validate=validate.Length(min=1, max=256)),
    values=StrictFloat(validate=validate.Range(min=0, max=1e6), allow_nan=False),
)


class CostMapSchema(WireSchema):
    """USD per 1K tokens by exact model name; a non-zero entry overrides the built-in price."""

    promptCostPerModel = _MODEL_PRICES
    completionCostPerModel = _MODEL_PRICES
    embeddingsCostPerModel = _MODEL_PRICES


class SettingField(fields.Dict):
    """A flat map of strings; `apiKey` is accepted as a spelling of `apikey`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            keys=fields.String(validate=validate.Length(min=1, max=128)),
            values=StrictString(validate=validate.Length(max=8192)),
            **kwargs,
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        result = super()._deserialize(value, attr, data, **kwargs)
        if "apiKey" in result:
            if "apikey" in result and result["apikey"] != result["apiKey"]:
                raise ValidationError("give the key once, as apikey or apiKey")
            result["apikey"] = result.pop("apiKey")
        return result


class _SettingFieldsSchema(WireSchema):
    """Unknown top-level fields are refused, naming them: a `url` put beside `setting` instead
    of inside it would otherwise be dropped without a word."""

    class Meta:
        unknown = RAISE

    name = StrictString(validate=validate.Length(max=512))
    allowedModels = string_list()
    costMap = fields.Nested(CostMapSchema, allow_none=True)

    @pre_load
    def _object_body(self, data: Any, **_: Any) -> Any:
        if not isinstance(data, dict):
            raise ValidationError("the body must be a JSON object", "_schema")
        return data


class ProviderSettingCreateSchema(_SettingFieldsSchema):
    provider = StrictString(required=True, validate=validate.Length(min=1, max=128))
    setting = SettingField(required=True)


class ProviderSettingUpdateSchema(_SettingFieldsSchema):
    """PATCH: `setting` is merged into the stored one; the provider cannot change."""

    setting = SettingField()


class ProviderSettingSchema(WireSchema):
    createdAt = fields.Integer()
    updatedAt = fields.Integer()
    provider = fields.String()
    id = fields.String()
    name = fields.String()
    allowedModels = fields.List(fields.String())
    costMap = fields.Dict(allow_none=True)
    setting = fields.Dict(
        metadata={"description": "Secrets are shown as ******** and never returned."}
    )


class ProviderSettingQuerySchema(WireSchema):
    ids = fields.List(StrictString())
