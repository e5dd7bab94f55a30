"""Provider name -> adapter. The only place that maps names to behaviour."""

from __future__ import annotations

from app.providers.base import ProviderAdapter
from app.providers.openai import OpenAIAdapter

_ADAPTERS: dict[str, ProviderAdapter] = {"openai": OpenAIAdapter()}


def adapter_for(provider: str) -> ProviderAdapter:
    return _ADAPTERS[provider]
