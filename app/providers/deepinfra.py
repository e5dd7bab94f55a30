"""DeepInfra: OpenAI-compatible endpoints under `https://api.deepinfra.com/v1/openai`, Bearer key,
prices as data (`data/deepinfra_prices.json`) plus the setting's costMap."""

from __future__ import annotations

from app.providers import pricing
from app.providers.base import Operation, RouteSpec
from app.providers.openai import OpenAICompatibleAdapter


class DeepInfraAdapter(OpenAICompatibleAdapter):
    name = "deepinfra"
    prefix = "/api/providers/deepinfra"
    public_origin = "https://api.deepinfra.com"
    routes: tuple[RouteSpec, ...] = (
        ("POST", "/v1/chat/completions", "chat"),
        ("POST", "/v1/completions", "completions"),
        ("POST", "/v1/embeddings", "embeddings"),
    )

    @property
    def prices(self) -> pricing.PriceTable:
        return pricing.builtin_prices("deepinfra")

    def upstream_path(self, operation: Operation) -> str:
        # /v1/chat/completions -> /v1/openai/chat/completions
        return "/v1/openai" + operation.upstream_path.removeprefix("/v1")
