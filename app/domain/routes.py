"""Failover routes (BricksLLM's `/api/routes`): the entity and its validation rules.

A route is served on `/api/route<path>`: its steps are tried in order, each `retries + 1` times
with its own timeout, waiting between tries as `retry_strategy` says (`app/routing/` runs them).
Pure data and pure rules: every rule names the offending field the way the admin 400 shows it
(`steps.0.params.deploymentId`). Checks that need storage (keys exist, their settings cover the
steps' providers, the path is unique) live in `app/services/routes.py`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from app.domain.durations import DurationError, parse_duration

# OpenAI-compatible providers a step may call (Anthropic speaks another format).
ROUTE_PROVIDERS = ("openai", "azure", "vllm", "deepinfra")
RETRY_STRATEGIES = ("constant", "exponential")
# BricksLLM's requestFormat; empty: chat completions unless the request is embeddings-shaped.
REQUEST_FORMATS = ("openai_chat_completion", "openai_embeddings")
DEFAULT_STEP_TIMEOUT = "5m"
DEFAULT_CACHE_TTL = "168h"
MAX_CACHE_TTL_S = 720 * 3600
DEFAULT_RETRY_INTERVAL_S = 1.0
MAX_RETRIES = 10


@dataclass(frozen=True)
class RouteStep:
    """One provider and model to try; `params` holds Azure's deploymentId and apiVersion."""

    provider: str
    model: str
    retries: int = 0
    params: dict[str, str] = field(default_factory=dict)
    timeout: str = DEFAULT_STEP_TIMEOUT
    retry_interval: str = ""
    request_params: dict[str, Any] = field(default_factory=dict)

    # Parsed once per step object (the snapshot's), not once per attempt.
    @cached_property
    def timeout_s(self) -> float:
        return parse_duration(self.timeout or DEFAULT_STEP_TIMEOUT)

    @cached_property
    def retry_interval_s(self) -> float:
        if not self.retry_interval:
            return DEFAULT_RETRY_INTERVAL_S
        return parse_duration(self.retry_interval)


@dataclass(frozen=True)
class CacheConfig:
    """The route's response cache. `share_across_keys` (a gateway option, off by default) lets
    every key of the route read answers another key stored."""

    enabled: bool = False
    ttl: str = DEFAULT_CACHE_TTL
    share_across_keys: bool = False

    @cached_property
    def ttl_s(self) -> float:
        return parse_duration(self.ttl or DEFAULT_CACHE_TTL)


@dataclass(frozen=True)
class Route:
    id: str
    name: str
    path: str
    created_at: int
    updated_at: int
    steps: tuple[RouteStep, ...]
    key_ids: tuple[str, ...]
    cache_config: CacheConfig = field(default_factory=CacheConfig)
    retry_strategy: str = ""  # "" behaves as "constant", as in BricksLLM
    request_format: str = ""

    def allows_key(self, key_id: str) -> bool:
        return key_id in self.key_ids

    @property
    def exponential(self) -> bool:
        return self.retry_strategy == "exponential"

    @property
    def providers(self) -> frozenset[str]:
        return frozenset(step.provider for step in self.steps)


# requestParams a step may set, and the JSON type each must have (BricksLLM's list, plus
# max_completion_tokens, which newer OpenAI models take instead of max_tokens).
_NUMBER = "number"
_INTEGER = "integer"
_REQUEST_PARAM_TYPES: dict[str, str] = {
    "frequency_penalty": _NUMBER,
    "presence_penalty": _NUMBER,
    "temperature": _NUMBER,
    "top_p": _NUMBER,
    "max_tokens": _INTEGER,
    "max_completion_tokens": _INTEGER,
    "n": _INTEGER,
    "seed": _INTEGER,
    "top_logprobs": _INTEGER,
    "logprobs": "boolean",
    "stop": "string or list of strings",
    "logit_bias": "object of token ids to integers",
}
REQUEST_PARAMS = tuple(_REQUEST_PARAM_TYPES)


def route_errors(data: Mapping[str, Any]) -> list[str]:
    """Every storage-free problem of a create body (already type-checked by its schema)."""
    errors: list[str] = []
    if not str(data.get("name") or "").strip():
        errors.append("name: required")
    errors += _path_errors(str(data.get("path") or ""))
    if not data.get("keyIds"):
        errors.append("keyIds: at least one key id is required")
    strategy = data.get("retryStrategy") or ""
    if strategy and strategy not in RETRY_STRATEGIES:
        errors.append("retryStrategy: must be 'constant' or 'exponential'")
    request_format = data.get("requestFormat") or ""
    if request_format and request_format not in REQUEST_FORMATS:
        errors.append(f"requestFormat: must be one of {', '.join(REQUEST_FORMATS)}")
    steps = data.get("steps") or []
    if not steps:
        errors.append("steps: at least one step is required")
    for index, step in enumerate(steps):
        errors += step_errors(index, step)
    errors += cache_config_errors(data.get("cacheConfig"))
    return errors


def _path_errors(path: str) -> list[str]:
    if not path:
        return ["path: required"]
    if not path.startswith("/"):
        return ["path: must start with '/'"]
    if any(c.isspace() for c in path) or any(c in "?#%" for c in path):
        return ["path: must not contain whitespace, '?', '#' or '%'"]
    if "//" in path:
        return ["path: must not contain an empty segment ('//')"]
    return []


def step_errors(index: int, step: Mapping[str, Any]) -> list[str]:
    prefix = f"steps.{index}"
    errors: list[str] = []
    provider = step.get("provider") or ""
    if not provider:
        errors.append(f"{prefix}.provider: required")
    elif provider not in ROUTE_PROVIDERS:
        errors.append(f"{prefix}.provider: must be one of {', '.join(ROUTE_PROVIDERS)}")
    if not str(step.get("model") or "").strip():
        errors.append(f"{prefix}.model: required")
    params = step.get("params") or {}
    if provider == "azure":
        errors += [
            f"{prefix}.params.{name}: required for an azure step"
            for name in ("deploymentId", "apiVersion")
            if not params.get(name)
        ]
    for name in ("timeout", "retryInterval"):
        problem = _duration_error(step.get(name) or "")
        if problem:
            errors.append(f"{prefix}.{name}: {problem}")
    retries = step.get("retries", 0)
    if not 0 <= retries <= MAX_RETRIES:
        errors.append(f"{prefix}.retries: must be between 0 and {MAX_RETRIES}")
    errors += request_params_errors(step.get("requestParams") or {}, f"{prefix}.requestParams")
    return errors


def _duration_error(text: str) -> str | None:
    if not text:
        return None
    try:
        seconds = parse_duration(text)
    except DurationError:
        return "not a duration; use e.g. 500ms, 5s, 2m or 1m30s"
    return None if seconds > 0 else "must be longer than 0s"


def request_params_errors(params: Mapping[str, Any], prefix: str) -> list[str]:
    """Each known request parameter with its JSON type; an unknown one is refused (a typo would
    otherwise silently do nothing)."""
    errors: list[str] = []
    for name, value in params.items():
        expected = _REQUEST_PARAM_TYPES.get(name)
        if expected is None:
            errors.append(f"{prefix}.{name}: not a supported request parameter "
                          f"({', '.join(REQUEST_PARAMS)})")  # fmt: skip
        elif not _has_type(expected, value):
            errors.append(f"{prefix}.{name}: must be a {expected}")
    return errors


def _has_type(expected: str, value: Any) -> bool:
    if isinstance(value, bool):
        return expected == "boolean"
    if expected == _NUMBER:
        return isinstance(value, (int, float))
    if expected == _INTEGER:
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if expected.startswith("string"):
        return isinstance(value, str) or _strings(value)
    if expected.startswith("object"):
        return isinstance(value, dict) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value.values()
        )
    return False


def _strings(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)


def cache_config_errors(config: Mapping[str, Any] | None) -> list[str]:
    if config is None:
        return ['cacheConfig: required (e.g. {"enabled": false})']
    ttl = config.get("ttl") or ""
    if not ttl:
        return []
    try:
        seconds = parse_duration(ttl)
    except DurationError:
        return ["cacheConfig.ttl: not a duration; use e.g. 5m, 24h or 168h"]
    if seconds <= 0:
        return ["cacheConfig.ttl: must be longer than 0s"]
    if seconds > MAX_CACHE_TTL_S:
        return ["cacheConfig.ttl: at most 720h (30 days)"]
    return []


def uncovered_providers(
    route_providers: frozenset[str], setting_providers: Sequence[str]
) -> list[str]:
    """The step providers a key's settings do not cover, sorted."""
    return sorted(route_providers - set(setting_providers))


# The stored and wire form of steps and cache configs: BricksLLM's camelCase JSON.


def step_from_dict(raw: Mapping[str, Any]) -> RouteStep:
    """A step from its JSON form; defaults filled in (timeout 5m)."""
    return RouteStep(
        provider=str(raw.get("provider") or ""),
        model=str(raw.get("model") or ""),
        retries=int(raw.get("retries") or 0),
        params={str(k): str(v) for k, v in (raw.get("params") or {}).items()},
        timeout=str(raw.get("timeout") or DEFAULT_STEP_TIMEOUT),
        retry_interval=str(raw.get("retryInterval") or ""),
        request_params=dict(raw.get("requestParams") or {}),
    )


def step_to_dict(step: RouteStep) -> dict[str, Any]:
    return {
        "provider": step.provider,
        "model": step.model,
        "retries": step.retries,
        "params": dict(step.params),
        "timeout": step.timeout,
        "retryInterval": step.retry_interval,
        "requestParams": dict(step.request_params),
    }


def cache_from_dict(raw: Mapping[str, Any] | None) -> CacheConfig:
    """A cache config from its JSON form; an enabled cache without ttl gets 168h."""
    raw = raw or {}
    enabled = bool(raw.get("enabled"))
    ttl = str(raw.get("ttl") or "")
    return CacheConfig(
        enabled=enabled,
        ttl=ttl or (DEFAULT_CACHE_TTL if enabled else ""),
        share_across_keys=bool(raw.get("shareAcrossKeys")),
    )


def cache_to_dict(config: CacheConfig) -> dict[str, Any]:
    return {
        "enabled": config.enabled,
        "ttl": config.ttl,
        "shareAcrossKeys": config.share_across_keys,
    }
