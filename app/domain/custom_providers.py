"""Custom provider rules: the route config's fields, what a valid definition is, and PATCH merging.

Pure functions over plain data. Route configs travel as dicts with the wire's snake_case names (the
`CustomProvider` entity stores them so); `RouteConfig` is their typed view for the proxy adapter.
Every rule returns the offending field as `route_configs.<index>.<field>` so a 400 can name it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from app.domain.upstream_urls import is_forbidden_address

# Fields a route config must always have, in the order errors name them.
REQUIRED_ROUTE_FIELDS = (
    "path",
    "target_url",
    "model_location",
    "request_prompt_location",
    "response_completion_location",
)
# Streaming is optional, but these three only make sense together: where the request says it
# streams, what each event's text is, and the data payload that ends the stream.
STREAM_ROUTE_FIELDS = ("stream_location", "stream_end_word", "stream_response_completion_location")
ROUTE_STRING_FIELDS = REQUIRED_ROUTE_FIELDS + STREAM_ROUTE_FIELDS

# An HTTP header name (RFC 9110 token); these would break the request if the secret replaced them.
_HEADER_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_RESERVED_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "content-type"}
)
# The name and the paths become segments of the proxy path /api/custom/providers/<name><path>.
_URL_BREAKERS = frozenset("/?#%")


@dataclass(frozen=True)
class RouteConfig:
    """One route of a custom provider; the `*_location` fields are GJSON paths."""

    path: str
    target_url: str
    model_location: str
    request_prompt_location: str
    response_completion_location: str
    stream_location: str = ""
    stream_end_word: str = ""
    stream_response_completion_location: str = ""
    stream_max_empty_messages: int = 0

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> RouteConfig:
        values: dict[str, Any] = {name: str(raw.get(name) or "") for name in ROUTE_STRING_FIELDS}
        values["stream_max_empty_messages"] = int(raw.get("stream_max_empty_messages") or 0)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def streams(self) -> bool:
        return bool(self.stream_location)


def normalize_name(name: str) -> str:
    """Names are stored lower-cased (as BricksLLM does), so lookups ignore case."""
    return name.lower()


def has_whitespace(text: str) -> bool:
    return any(c.isspace() for c in text)


def name_error(name: str, builtin: Iterable[str]) -> str | None:
    """What is wrong with a (lower-cased) provider name, or None."""
    if not name:
        return "provider: required"
    if has_whitespace(name):
        return "provider: must not contain whitespace"
    if any(c in _URL_BREAKERS for c in name):
        return "provider: must not contain '/', '?', '#' or '%' (it is a segment of the proxy path)"
    if name in set(builtin):
        return f"provider: {name!r} is a built-in provider; choose another name"
    return None


def authentication_param_error(param: str) -> str | None:
    """The header that carries the secret: empty (Authorization: Bearer) or a plain header name."""
    if not param:
        return None
    if has_whitespace(param):
        return "authentication_param: must not contain whitespace"
    if not _HEADER_TOKEN.match(param):
        return "authentication_param: must be an HTTP header name"
    if param.lower() in _RESERVED_HEADERS:
        return f"authentication_param: {param!r} cannot carry the secret"
    return None


def route_configs_errors(configs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every problem of a provider's full list of route configs; no problems: an empty list."""
    if not configs:
        return ["route_configs: at least one route config is required"]
    errors: list[str] = []
    seen: set[str] = set()
    for index, config in enumerate(configs):
        errors += _route_errors(index, config)
        path = str(config.get("path") or "")
        if path and path in seen:
            errors.append(f"route_configs.{index}.path: {path!r} is already used by another route")
        seen.add(path)
    return errors


def _route_errors(index: int, config: Mapping[str, Any]) -> list[str]:
    prefix = f"route_configs.{index}"
    errors = [
        f"{prefix}.{name}: required" for name in REQUIRED_ROUTE_FIELDS if not config.get(name)
    ]
    given = [name for name in STREAM_ROUTE_FIELDS if config.get(name)]
    if given and len(given) < len(STREAM_ROUTE_FIELDS):
        errors += [
            f"{prefix}.{name}: required when {', '.join(given)} is set"
            for name in STREAM_ROUTE_FIELDS
            if name not in given
        ]
    target = str(config.get("target_url") or "")
    problem = target_url_error(target) if target else None
    if problem:
        errors.append(f"{prefix}.target_url: {problem}")
    path = str(config.get("path") or "")
    if path and (not path.startswith("/") or has_whitespace(path) or any(c in "?#" for c in path)):
        errors.append(f"{prefix}.path: must start with '/' and contain no whitespace, '?' or '#'")
    return errors


def target_url_error(url: str) -> str | None:
    """A full upstream URL (a query string is allowed); never credentials or a metadata address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or has_whitespace(url):
        return "must be an absolute http or https URL"
    if parts.username or parts.password:
        return "must not carry credentials"
    if parts.fragment:
        return "must not carry a fragment"
    if is_forbidden_address(parts.hostname):
        return "metadata and link-local addresses are not allowed upstreams"
    try:
        _ = parts.port
    except ValueError:
        return "has an invalid port"
    return None


def merge_route_configs(
    current: Sequence[Mapping[str, Any]], changes: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """PATCH semantics (BricksLLM's): a change whose path exists updates the fields it gives; a
    change with a new path is added; routes not mentioned stay. Order: existing, then new."""
    merged = [dict(config) for config in current]
    by_path = {str(config.get("path")): config for config in merged}
    for change in changes:
        existing = by_path.get(str(change.get("path")))
        if existing is None:
            added = dict(change)
            merged.append(added)
            by_path[str(change.get("path"))] = added
        else:
            existing.update(change)
    return merged


def complete_route_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The stored form of a route config: every field present, defaults filled in."""
    return RouteConfig.from_dict(config).to_dict()
