"""Where a step's attempt goes: the key's provider setting for the step's provider, and the
provider operation (path and query) that the step's adapter turns into the upstream URL.

    setting = step_setting(key, snapshot.settings, step.provider)        # None: 403-worthy
    operation, query = step_operation(step, route_operation(route, request))
    url = adapter_for(step.provider).upstream_url(setting, operation, query)
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from app.domain.entities import Key, ProviderSetting
from app.domain.routes import RouteStep
from app.providers.base import Operation
from app.routing.body import Operation as RouteOperation

_OPENAI_PATHS = {"chat": "/v1/chat/completions", "embeddings": "/v1/embeddings"}
_AZURE_SUFFIXES = {"chat": "chat/completions", "embeddings": "embeddings"}


def step_setting(
    key: Key, settings: Mapping[str, ProviderSetting], provider: str
) -> ProviderSetting | None:
    """The key's first provider setting (in the key's order) for `provider`."""
    for setting_id in key.setting_ids:
        setting = settings.get(setting_id)
        if setting is not None and setting.provider == provider:
            return setting
    return None


def step_operation(step: RouteStep, kind: RouteOperation) -> tuple[Operation, str]:
    """The operation (as the provider's own proxy path would resolve it) and the query string:
    Azure steps address their deployment and carry `api-version`; the others OpenAI's paths
    (each adapter maps them to its upstream, e.g. DeepInfra's /v1/openai/...)."""
    if step.provider == "azure":
        deployment = step.params.get("deploymentId", "")
        path = f"/openai/deployments/{deployment}/{_AZURE_SUFFIXES[kind]}"
        return Operation(kind, path), urlencode({"api-version": step.params.get("apiVersion", "")})
    return Operation(kind, _OPENAI_PATHS[kind]), ""
