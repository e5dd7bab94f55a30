"""Stage 3: may this key do this? Allowed paths, an eligible provider setting, allowed models."""

from __future__ import annotations

import random
from collections.abc import Iterable

from app.domain.entities import Key, PathConfig, ProviderSetting
from app.errors import ProxyError
from app.proxy.context import ProxyRequest
from app.proxy.endpoints import Endpoint
from app.proxy.snapshot import Snapshot


def path_allowed(
    request: ProxyRequest, endpoint: Endpoint, allowed_paths: Iterable[PathConfig]
) -> bool:
    """True if one entry names this method and this path (literally, or as its endpoint template)."""
    candidates = (request.path.rstrip("/"), endpoint.template)
    return any(
        allowed.method.upper() == request.method and allowed.path.rstrip("/") in candidates
        for allowed in allowed_paths
    )


def authorize(
    request: ProxyRequest, endpoint: Endpoint, key: Key, model: str, snapshot: Snapshot
) -> ProviderSetting:
    """The provider setting the call will use (a random eligible one when the key rotates)."""
    if key.allowed_paths and not path_allowed(request, endpoint, key.allowed_paths):
        raise ProxyError(403, f"path {request.method} {request.path} is not allowed for this key")
    eligible = [
        snapshot.settings[sid]
        for sid in key.setting_ids
        if sid in snapshot.settings and snapshot.settings[sid].provider == endpoint.provider
    ]
    if not eligible:
        raise ProxyError(401, f"this key has no {endpoint.provider} provider setting")
    setting = random.choice(eligible) if key.rotation_enabled else eligible[0]
    if setting.allowed_models and model and model not in setting.allowed_models:
        raise ProxyError(403, f"model {model} is not allowed")
    return setting
