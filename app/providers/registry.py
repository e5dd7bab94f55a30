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


def adapter_for_path(path: str) -> ProviderAdapter | None:
    """The built-in adapter whose prefix `path` starts with (even an unknown path under it), so
    that an error answered before routing still takes that provider's error shape; else None."""
    return next((a for a in BUILTIN_ADAPTERS if path.startswith(a.prefix + "/")), None)
