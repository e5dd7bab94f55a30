"""The built-in provider names and the setting fields each one needs; the one list of them.

Adapters (`app/providers/<name>.py`) register behaviour against these names; everything outside
this package asks the catalog instead of comparing provider names itself.
"""

from __future__ import annotations

BUILTIN_PROVIDERS: dict[str, tuple[str, ...]] = {
    "openai": ("apikey",),
    "anthropic": ("apikey",),
    "azure": ("resourceName", "apikey"),
    "vllm": ("url",),
    "deepinfra": ("apikey",),
}

# A custom provider's settings carry the secret sent as its authentication_param.
CUSTOM_PROVIDER_REQUIRED: tuple[str, ...] = ("apikey",)


def is_builtin(provider: str) -> bool:
    return provider in BUILTIN_PROVIDERS


def required_setting_fields(provider: str) -> tuple[str, ...]:
    return BUILTIN_PROVIDERS.get(provider, CUSTOM_PROVIDER_REQUIRED)
