"""Stores provider settings (with their secrets) and custom providers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.domain.entities import CustomProvider, ProviderSetting
from app.storage.database import Database, Row, from_json, placeholders, to_json
from app.storage.versioning import bump_config_version

_SETTING_COLUMNS = "id, provider, name, created_at, updated_at, setting, allowed_models, cost_map"
_CUSTOM_COLUMNS = "id, provider, created_at, updated_at, route_configs, authentication_param"


def _row_to_setting(row: Row) -> ProviderSetting:
    return ProviderSetting(
        id=row["id"],
        provider=row["provider"],
        name=row["name"],
        created_at=int(row["created_at"]),
        updated_at=int(row["updated_at"]),
        setting=dict(from_json(row["setting"], {})),
        allowed_models=tuple(from_json(row["allowed_models"], [])),
        cost_map=from_json(row["cost_map"]),
    )


def _setting_values(s: ProviderSetting) -> tuple[Any, ...]:
    cost_map = None if s.cost_map is None else to_json(s.cost_map)
    return (s.id, s.provider, s.name, s.created_at, s.updated_at, to_json(s.setting),
            to_json(list(s.allowed_models)), cost_map)  # fmt: skip


class ProviderSettingRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, setting: ProviderSetting) -> ProviderSetting:
        with self._db.transaction() as cursor:
            cursor.execute(
                f"INSERT INTO provider_settings ({_SETTING_COLUMNS}) VALUES ({placeholders(8)})",
                _setting_values(setting),
            )
            bump_config_version(cursor, "setting", setting.id)
        return setting

    def replace(self, setting: ProviderSetting) -> ProviderSetting:
        with self._db.transaction() as cursor:
            cursor.execute(
                "UPDATE provider_settings SET name = %s, updated_at = %s, setting = %s, "
                "allowed_models = %s, cost_map = %s WHERE id = %s",
                (
                    setting.name,
                    setting.updated_at,
                    to_json(setting.setting),
                    to_json(list(setting.allowed_models)),
                    None if setting.cost_map is None else to_json(setting.cost_map),
                    setting.id,
                ),
            )
            bump_config_version(cursor, "setting", setting.id)
        return setting

    def get(self, setting_id: str) -> ProviderSetting | None:
        found = self.get_many([setting_id])
        return found[0] if found else None

    def get_many(self, ids: Sequence[str]) -> list[ProviderSetting]:
        if not ids:
            return []
        rows = self._db.query(
            f"SELECT {_SETTING_COLUMNS} FROM provider_settings WHERE id IN ({placeholders(len(ids))})"
            " ORDER BY created_at, id",
            list(ids),
        )
        return [_row_to_setting(row) for row in rows]

    def all(self) -> list[ProviderSetting]:
        rows = self._db.query(
            f"SELECT {_SETTING_COLUMNS} FROM provider_settings ORDER BY created_at, id"
        )
        return [_row_to_setting(row) for row in rows]

    def ids_for_provider(self, provider: str) -> list[str]:
        rows = self._db.query("SELECT id FROM provider_settings WHERE provider = %s", (provider,))
        return [row["id"] for row in rows]


def _row_to_custom(row: Row) -> CustomProvider:
    return CustomProvider(
        id=row["id"],
        provider=row["provider"],
        created_at=int(row["created_at"]),
        updated_at=int(row["updated_at"]),
        route_configs=tuple(from_json(row["route_configs"], [])),
        authentication_param=row["authentication_param"],
    )


class CustomProviderRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, provider: CustomProvider) -> CustomProvider:
        with self._db.transaction() as cursor:
            cursor.execute(
                f"INSERT INTO custom_providers ({_CUSTOM_COLUMNS}) VALUES ({placeholders(6)})",
                (provider.id, provider.provider, provider.created_at, provider.updated_at,
                 to_json(list(provider.route_configs)), provider.authentication_param),
            )  # fmt: skip
            bump_config_version(cursor, "custom_provider", provider.id)
        return provider

    def replace(self, provider: CustomProvider) -> CustomProvider:
        with self._db.transaction() as cursor:
            cursor.execute(
                "UPDATE custom_providers SET updated_at = %s, route_configs = %s, "
                "authentication_param = %s WHERE id = %s",
                (provider.updated_at, to_json(list(provider.route_configs)),
                 provider.authentication_param, provider.id),
            )  # fmt: skip
            bump_config_version(cursor, "custom_provider", provider.id)
        return provider

    def get(self, provider_id: str) -> CustomProvider | None:
        rows = self._db.query(
            f"SELECT {_CUSTOM_COLUMNS} FROM custom_providers WHERE id = %s", (provider_id,)
        )
        return _row_to_custom(rows[0]) if rows else None

    def get_many(self, ids: Sequence[str]) -> list[CustomProvider]:
        if not ids:
            return []
        rows = self._db.query(
            f"SELECT {_CUSTOM_COLUMNS} FROM custom_providers WHERE id IN ({placeholders(len(ids))})",
            list(ids),
        )
        return [_row_to_custom(row) for row in rows]

    def by_name(self, name: str) -> CustomProvider | None:
        rows = self._db.query(
            f"SELECT {_CUSTOM_COLUMNS} FROM custom_providers WHERE provider = %s", (name,)
        )
        return _row_to_custom(rows[0]) if rows else None

    def all(self) -> list[CustomProvider]:
        rows = self._db.query(
            f"SELECT {_CUSTOM_COLUMNS} FROM custom_providers ORDER BY created_at, id"
        )
        return [_row_to_custom(row) for row in rows]
