"""The gateway's configuration objects as plain frozen data: keys, users, provider settings, custom
providers.

Field names are snake_case here; the wire formats (camelCase for keys and settings, snake_case for
custom providers) live in `schemas/`. Money is integer micro-dollars, times are unix seconds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from app.domain.durations import parse_ttl


def hash_key(secret: str) -> str:
    """The stored form of a gateway key: SHA-256 hex, as BricksLLM stores it."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class PathConfig:
    """One allowed path template (e.g. `/api/providers/openai/v1/chat/completions`) and method."""

    path: str
    method: str


@dataclass(frozen=True)
class Limits:
    """Rate and spend limits shared by keys and users; None means no limit of that kind."""

    cost_limit_micros: int | None = None
    cost_limit_over_time_micros: int | None = None
    cost_limit_unit: str | None = None
    rate_limit_over_time: int | None = None
    rate_limit_unit: str | None = None

    @property
    def any(self) -> bool:
        return any(
            v is not None
            for v in (
                self.cost_limit_micros,
                self.cost_limit_over_time_micros,
                self.rate_limit_over_time,
            )
        )

    @property
    def has_cost_limit(self) -> bool:
        return self.cost_limit_micros is not None or self.cost_limit_over_time_micros is not None


@dataclass(frozen=True)
class Key:
    """A gateway API key and everything that governs its use."""

    key_id: str
    name: str
    key: str  # SHA-256 hex of the secret, or the raw secret when is_key_not_hashed
    created_at: int
    updated_at: int
    setting_ids: tuple[str, ...]
    tags: tuple[str, ...] = ()
    revoked: bool = False
    revoked_reason: str = ""
    limits: Limits = field(default_factory=Limits)
    ttl: str = ""
    allowed_paths: tuple[PathConfig, ...] = ()
    should_log_request: bool = False
    should_log_response: bool = False
    rotation_enabled: bool = False
    policy_id: str = ""
    is_key_not_hashed: bool = False

    @property
    def expires_at(self) -> int | None:
        """Unix time after which the key is refused; the ttl counts from creation."""
        return self.created_at + parse_ttl(self.ttl) if self.ttl else None


@dataclass(frozen=True)
class User:
    """A client-defined user (`user_id`, plus the tags it applies under) with its own limits.

    `(user_id, tags)` is unique; tags are kept sorted and without repeats, because they are a set
    and the pair is the user's identity (`PATCH /api/users?userId=&tags=`).
    """

    id: str
    created_at: int
    updated_at: int
    user_id: str = ""
    name: str = ""
    tags: tuple[str, ...] = ()
    key_ids: tuple[str, ...] = ()
    revoked: bool = False
    revoked_reason: str = ""
    limits: Limits = field(default_factory=Limits)
    ttl: str = ""
    allowed_paths: tuple[PathConfig, ...] = ()
    allowed_models: tuple[str, ...] = ()

    @property
    def expires_at(self) -> int | None:
        """Unix time after which the user is refused; the ttl counts from creation."""
        return self.created_at + parse_ttl(self.ttl) if self.ttl else None


def tag_set(tags: Iterable[str]) -> tuple[str, ...]:
    """Tags as a user stores them: sorted, without repeats."""
    return tuple(sorted(set(tags)))


SECRET_SETTING_FIELDS = frozenset({"apikey"})
PUBLIC_SETTING_FIELDS = frozenset({"url", "resourceName"})


@dataclass(frozen=True)
class ProviderSetting:
    """Credentials and options for one upstream provider; `setting` holds the secret apikey."""

    id: str
    provider: str
    created_at: int
    updated_at: int
    setting: dict[str, str]
    name: str = ""
    allowed_models: tuple[str, ...] = ()
    cost_map: dict[str, dict[str, float]] | None = None

    @property
    def api_key(self) -> str:
        return self.setting.get("apikey", "")

    @property
    def url(self) -> str:
        return self.setting.get("url", "")

    def public_setting(self) -> dict[str, Any]:
        """The setting as admin responses show it: secrets replaced by a marker, never the value."""
        return {
            name: (value if name in PUBLIC_SETTING_FIELDS else "********")
            for name, value in self.setting.items()
        }


@dataclass(frozen=True)
class CustomProvider:
    """A provider defined through the admin API: its routes and how the secret is sent."""

    id: str
    provider: str
    created_at: int
    updated_at: int
    route_configs: tuple[dict[str, Any], ...]
    authentication_param: str = ""
