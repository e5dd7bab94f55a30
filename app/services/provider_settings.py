"""Provider settings: validate per provider, store the secret, never hand it back."""

from __future__ import annotations

import dataclasses
from typing import Any

from app.domain.entities import ProviderSetting
from app.domain.upstream_urls import UpstreamUrlError, is_dns_label, validate_upstream_url
from app.errors import BadRequest, NotFound
from app.providers.catalog import is_builtin, required_setting_fields
from app.services.clock import new_id, now_s
from app.storage.provider_settings import CustomProviderRepository, ProviderSettingRepository


class ProviderSettingService:
    def __init__(
        self, settings: ProviderSettingRepository, custom_providers: CustomProviderRepository
    ) -> None:
        self._settings = settings
        self._custom = custom_providers

    def create(self, data: dict[str, Any]) -> ProviderSetting:
        provider = data["provider"]
        if not is_builtin(provider) and self._custom.by_name(provider) is None:
            raise BadRequest(f"provider: unknown provider {provider!r}")
        now = now_s()
        setting = ProviderSetting(
            id=new_id(),
            provider=provider,
            created_at=now,
            updated_at=now,
            setting=_checked_setting(provider, data["setting"]),
            name=data.get("name", ""),
            allowed_models=tuple(data.get("allowedModels", ())),
            cost_map=data.get("costMap"),
        )
        return self._settings.create(setting)

    def update(self, setting_id: str, data: dict[str, Any]) -> ProviderSetting:
        current = self.get(setting_id)
        changes: dict[str, Any] = {"updated_at": now_s()}
        if "setting" in data:
            merged = {**current.setting, **data["setting"]}
            changes["setting"] = _checked_setting(current.provider, merged)
        if "name" in data:
            changes["name"] = data["name"]
        if "allowedModels" in data:
            changes["allowed_models"] = tuple(data["allowedModels"])
        if "costMap" in data:
            changes["cost_map"] = data["costMap"]
        return self._settings.replace(dataclasses.replace(current, **changes))

    def get(self, setting_id: str) -> ProviderSetting:
        setting = self._settings.get(setting_id)
        if setting is None:
            raise NotFound(f"provider setting {setting_id} does not exist")
        return setting

    def find(self, ids: list[str]) -> list[ProviderSetting]:
        return self._settings.get_many(ids) if ids else self._settings.all()


def _checked_setting(provider: str, setting: dict[str, str]) -> dict[str, str]:
    missing = [name for name in required_setting_fields(provider) if not setting.get(name)]
    if missing:
        raise BadRequest(f"setting: {', '.join(missing)} required for provider {provider}")
    checked = dict(setting)
    if checked.get("resourceName") and not is_dns_label(checked["resourceName"]):
        # It becomes https://<resourceName>.openai.azure.com: one label, or it rewrites the host.
        raise BadRequest("setting.resourceName: must be one DNS label (letters, digits, hyphens)")
    if checked.get("url"):
        try:
            checked["url"] = validate_upstream_url(checked["url"])
        except UpstreamUrlError as exc:
            raise BadRequest(f"setting.url: {exc}") from exc
    return checked


def setting_to_wire(setting: ProviderSetting) -> dict[str, Any]:
    return {
        "createdAt": setting.created_at,
        "updatedAt": setting.updated_at,
        "provider": setting.provider,
        "id": setting.id,
        "name": setting.name,
        "allowedModels": list(setting.allowed_models),
        "costMap": setting.cost_map,
        "setting": setting.public_setting(),
    }
