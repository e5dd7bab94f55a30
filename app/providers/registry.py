"""Provider name -> adapter. The only place that maps names to behaviour."""

from __future__ import annotations

from app.providers.anthropic import AnthropicAdapter
from app.providers.azure import AzureAdapter
from app.providers.base import ProviderAdapter
from app.providers.deepinfra import DeepInfraAdapter
from app.providers.openai import OpenAIAdapter
from app.providers.vllm import VllmAdapter

BUILTIN_ADAPTERS: tuple[ProviderAdapter, ...] = (
    OpenAIAdapter(), AnthropicAdapter(), AzureAdapter(), VllmAdapter(), DeepInfraAdapter(),
)  # fmt: skip
_ADAPTERS: dict[str, ProviderAdapter] = {adapter.name: adapter for adapter in BUILTIN_ADAPTERS}


def adapter_for(provider: str) -> ProviderAdapter:
    return _ADAPTERS[provider]
