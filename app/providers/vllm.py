"""vLLM: an OpenAI-compatible server at the setting's `url`; its apikey (optional) as Bearer.
Self-hosted models have no built-in price: they cost what the setting's costMap says, else 0."""

from __future__ import annotations

from app.domain.entities import ProviderSetting
from app.providers.base import RouteSpec
from app.providers.openai import OpenAICompatibleAdapter


class VllmAdapter(OpenAICompatibleAdapter):
    name = "vllm"
    prefix = "/api/providers/vllm"
    routes: tuple[RouteSpec, ...] = (
        ("POST", "/v1/chat/completions", "chat"),
        ("POST", "/v1/completions", "completions"),
    )

    def auth_headers(self, setting: ProviderSetting) -> dict[str, str]:
        return {"Authorization": f"Bearer {setting.api_key}"} if setting.api_key else {}
