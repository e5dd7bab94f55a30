"""Azure OpenAI: deployment paths under `https://<resourceName>.openai.azure.com`, the key in
`api-key`, a required `api-version` query parameter, and OpenAI's prices under Azure's model names."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from app.domain.entities import ProviderSetting
from app.providers import pricing
from app.providers.base import Operation, RouteSpec
from app.providers.openai import RESPONSES_ROUTES, OpenAICompatibleAdapter

# Azure names some models differently from OpenAI; the prices are OpenAI's (standard deployments).
AZURE_MODEL_ALIASES = {
    "gpt-35-turbo": "gpt-3.5-turbo",
    "gpt-35-turbo-16k": "gpt-3.5-turbo-16k",
    "gpt-35-turbo-instruct": "gpt-3.5-turbo-instruct",
}


@functools.cache
def azure_prices() -> pricing.PriceTable:
    return pricing.openai_prices().with_aliases("azure", AZURE_MODEL_ALIASES)


AZURE_RESPONSES_ROUTES: tuple[RouteSpec, ...] = tuple(
    (method, path.removeprefix("/v1"), kind) for method, path, kind in RESPONSES_ROUTES
)


def deployment_of(operation: Operation) -> str:
    """`/openai/deployments/<id>/<op>` -> `<id>`; "" for paths without a deployment."""
    parts = operation.upstream_path.split("/")
    return parts[3] if len(parts) > 3 and parts[2] == "deployments" else ""


class AzureAdapter(OpenAICompatibleAdapter):
    name = "azure"
    prefix = "/api/providers/azure"
    routes: tuple[RouteSpec, ...] = (
        ("POST", "/openai/deployments/:deployment_id/chat/completions", "chat"),
        ("POST", "/openai/deployments/:deployment_id/completions", "completions"),
        ("POST", "/openai/deployments/:deployment_id/embeddings", "embeddings"),
        # The Responses API has no deployment in its path: the body's `model` names the
        # deployment. `/openai/v1/...` is Azure's v1 API surface, the same operations.
        *(
            (method, f"/openai{version}{path}", kind)
            for version in ("", "/v1")
            for method, path, kind in AZURE_RESPONSES_ROUTES
        ),
    )

    @property
    def prices(self) -> pricing.PriceTable:
        return azure_prices()

    def check_request(self, query: str) -> str | None:
        versions = parse_qs(query).get("api-version", [])
        return (
            None
            if any(v.strip() for v in versions)
            else "the api-version query parameter is required"
        )

    def request_model(self, operation: Operation, fields: Mapping[str, Any]) -> str:
        # Azure bodies usually carry no model: the deployment decides. Until the answer names the
        # model, the deployment id stands for it (deployments are commonly named after their model,
        # and a costMap can price any deployment name).
        return super().request_model(operation, fields) or deployment_of(operation)

    def upstream_url(self, setting: ProviderSetting, operation: Operation, query: str) -> str:
        origin = (
            setting.url.rstrip("/")
            or f"https://{setting.setting.get('resourceName', '')}.openai.azure.com"
        )
        return f"{origin}{operation.upstream_path}?{query}"

    def auth_headers(self, setting: ProviderSetting) -> dict[str, str]:
        return {"api-key": setting.api_key}
