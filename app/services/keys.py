"""Key management: create, update, revoke, delete and list gateway keys."""

from __future__ import annotations

import dataclasses
from typing import Any

from app.domain.entities import Key, Limits, PathConfig, hash_key
from app.domain.limits import limit_pair_errors
from app.domain.money import micros_to_usd, usd_to_micros
from app.errors import BadRequest, NotFound
from app.services.clock import new_id, now_s
from app.storage.database import UniqueViolation
from app.storage.keys import KeyFilter, KeyRepository
from app.storage.policies import PolicyRepository
from app.storage.provider_settings import ProviderSettingRepository


class KeyService:
    def __init__(
        self, keys: KeyRepository, settings: ProviderSettingRepository, policies: PolicyRepository
    ) -> None:
        self._keys = keys
        self._settings = settings
        self._policies = policies

    def create(self, data: dict[str, Any]) -> Key:
        secret = data["key"]
        not_hashed = bool(data.get("isKeyNotHashed", False))
        setting_ids = self._existing_setting_ids(data.get("settingIds") or [data["settingId"]])
        self._require_policy(data.get("policyId", ""))
        now = now_s()
        key = Key(
            key_id=new_id(),
            name=data["name"],
            key=secret if not_hashed else hash_key(secret),
            created_at=now,
            updated_at=now,
            setting_ids=setting_ids,
            tags=tuple(data.get("tags", ())),
            limits=limits_from_wire(data),
            ttl=data.get("ttl", ""),
            allowed_paths=paths_from_wire(data.get("allowedPaths", [])),
            should_log_request=data.get("shouldLogRequest", False),
            should_log_response=data.get("shouldLogResponse", False),
            rotation_enabled=data.get("rotationEnabled", False),
            policy_id=data.get("policyId", ""),
            is_key_not_hashed=not_hashed,
        )
        try:
            return self._keys.create(key)
        except UniqueViolation as exc:
            raise BadRequest("key: a key with this secret already exists") from exc

    def update(self, key_id: str, data: dict[str, Any]) -> Key:
        current = self.get(key_id)
        if "settingId" in data and "settingIds" in data:
            raise BadRequest("settingIds: give settingId or settingIds, not both")
        changes: dict[str, Any] = {"updated_at": now_s()}
        if "settingIds" in data or "settingId" in data:
            wanted = data.get("settingIds") or [data.get("settingId", "")]
            changes["setting_ids"] = self._existing_setting_ids(wanted)
        if "policyId" in data:
            self._require_policy(data["policyId"])
        changes["limits"] = merge_limits(current.limits, data)
        for wire, attr in _SIMPLE_UPDATES.items():
            if wire in data:
                changes[attr] = data[wire]
        if "tags" in data:
            changes["tags"] = tuple(data["tags"])
        if "allowedPaths" in data:
            changes["allowed_paths"] = paths_from_wire(data["allowedPaths"])
        return self._keys.replace(dataclasses.replace(current, **changes))

    def delete(self, key_id: str) -> None:
        if not self._keys.delete(key_id):
            raise NotFound(f"key {key_id} does not exist")

    def get(self, key_id: str) -> Key:
        key = self._keys.get(key_id)
        if key is None:
            raise NotFound(f"key {key_id} does not exist")
        return key

    def find(self, selection: KeyFilter, **page: Any) -> list[Key]:
        return self._keys.find(selection, **page)

    def count(self, selection: KeyFilter) -> int:
        return self._keys.count(selection)

    def setting_ids_of_provider(self, provider: str) -> list[str]:
        return self._settings.ids_for_provider(provider)

    def _require_policy(self, policy_id: str) -> None:
        """A key's policyId is empty (no policy) or names a stored policy."""
        if policy_id and not self._policies.exists(policy_id):
            raise BadRequest(f"policyId: policy {policy_id} does not exist")

    def _existing_setting_ids(self, ids: list[str]) -> tuple[str, ...]:
        wanted = list(dict.fromkeys(i for i in ids if i))
        if not wanted:
            raise BadRequest("settingIds: at least one provider setting id is required")
        found = {s.id for s in self._settings.get_many(wanted)}
        missing = [i for i in wanted if i not in found]
        if missing:
            raise BadRequest(f"settingIds: unknown provider setting id(s): {', '.join(missing)}")
        return tuple(wanted)


_SIMPLE_UPDATES = {
    "name": "name",
    "revoked": "revoked",
    "revokedReason": "revoked_reason",
    "shouldLogRequest": "should_log_request",
    "shouldLogResponse": "should_log_response",
    "rotationEnabled": "rotation_enabled",
    "policyId": "policy_id",
    "ttl": "ttl",
}
_LIMIT_FIELDS = (
    "costLimitInUsd",
    "costLimitInUsdOverTime",
    "costLimitInUsdUnit",
    "rateLimitOverTime",
    "rateLimitUnit",
)


def limit_fields(data: dict[str, Any]) -> dict[str, Any]:
    return {name: data[name] for name in _LIMIT_FIELDS if name in data}


def merge_limits(current: Limits, data: dict[str, Any]) -> Limits:
    """A PATCH's limit fields over the current limits; BadRequest when a pair is left half set."""
    merged = {**limits_to_wire(current), **limit_fields(data)}
    pair_errors = limit_pair_errors(merged)
    if pair_errors:
        raise BadRequest("; ".join(f"{k}: {v}" for k, v in sorted(pair_errors.items())))
    return limits_from_wire(merged)


def limits_from_wire(data: dict[str, Any]) -> Limits:
    """Wire limits to domain limits. A zero or null amount means no limit, as in BricksLLM."""
    rate = data.get("rateLimitOverTime") or None
    periodic = usd_to_micros(data.get("costLimitInUsdOverTime") or None)
    return Limits(
        cost_limit_micros=usd_to_micros(data.get("costLimitInUsd") or None) or None,
        cost_limit_over_time_micros=periodic or None,
        cost_limit_unit=(data.get("costLimitInUsdUnit") or None) if periodic else None,
        rate_limit_over_time=rate,
        rate_limit_unit=(data.get("rateLimitUnit") or None) if rate else None,
    )


def limits_to_wire(limits: Limits) -> dict[str, Any]:
    """Domain limits as BricksLLM shows them: zero and empty strings for "no limit"."""
    return {
        "costLimitInUsd": micros_to_usd(limits.cost_limit_micros) or 0,
        "costLimitInUsdOverTime": micros_to_usd(limits.cost_limit_over_time_micros) or 0,
        "costLimitInUsdUnit": limits.cost_limit_unit or "",
        "rateLimitOverTime": limits.rate_limit_over_time or 0,
        "rateLimitUnit": limits.rate_limit_unit or "",
    }


def paths_from_wire(items: list[dict[str, str]]) -> tuple[PathConfig, ...]:
    return tuple(PathConfig(path=p["path"], method=p["method"]) for p in items)


def key_to_wire(key: Key) -> dict[str, Any]:
    return {
        "name": key.name,
        "createdAt": key.created_at,
        "updatedAt": key.updated_at,
        "revoked": key.revoked,
        "revokedReason": key.revoked_reason,
        "tags": list(key.tags),
        "keyId": key.key_id,
        "key": key.key,
        **limits_to_wire(key.limits),
        "ttl": key.ttl,
        "allowedPaths": [{"path": p.path, "method": p.method} for p in key.allowed_paths],
        "settingId": key.setting_ids[0] if key.setting_ids else "",
        "settingIds": list(key.setting_ids),
        "shouldLogRequest": key.should_log_request,
        "shouldLogResponse": key.should_log_response,
        "rotationEnabled": key.rotation_enabled,
        "policyId": key.policy_id,
        "isKeyNotHashed": key.is_key_not_hashed,
    }
