"""Which proxy paths exist, which provider answers each, and what each one does.

Every built-in adapter declares its prefix and routes (`app/providers/<name>.py`); this table only
indexes them. Custom providers answer `POST /api/custom/providers/<name><route path>` for the routes
the admin API defined (served from the snapshot). Any other path is `404 route not supported`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from app.providers.base import Operation, ProviderAdapter
from app.providers.custom import CustomAdapter, ServedProvider, split_custom_path
from app.providers.registry import BUILTIN_ADAPTERS, adapter_for
from app.providers.tokens import TokenCounter


@dataclass(frozen=True)
class RouteMatch:
    provider: str
    template: str  # full gateway path template, e.g. /api/providers/openai/v1/threads/:thread_id
    operation: Operation


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    template: str
    suffix_template: str
    kind: str
    provider: str
    prefix: str


def _compile(method: str, prefix: str, suffix: str, kind: str, provider: str) -> _Route:
    regex = re.sub(r":[a-z_]+", r"[^/]+", re.escape(suffix).replace(r"\:", ":"))
    return _Route(method, re.compile(f"{regex}$"), prefix + suffix, suffix, kind, provider, prefix)


class RouteTable:
    """Exact paths resolve by dictionary; templated ones by a short regex scan per method."""

    def __init__(self, adapters: Iterable[ProviderAdapter] = BUILTIN_ADAPTERS) -> None:
        self._static: dict[tuple[str, str], _Route] = {}
        self._dynamic: dict[str, list[_Route]] = {}
        for adapter in adapters:
            for method, suffix, kind in adapter.routes:
                route = _compile(method, adapter.prefix, suffix, kind, adapter.name)
                if ":" in suffix:
                    self._dynamic.setdefault(method, []).append(route)
                else:
                    self._static[(method, adapter.prefix + suffix)] = route

    def match(self, method: str, path: str) -> RouteMatch | None:
        route = self._static.get((method, path))
        if route is not None:
            return RouteMatch(
                route.provider, route.template, Operation(route.kind, route.suffix_template)
            )
        for route in self._dynamic.get(method, ()):
            if path.startswith(route.prefix) and route.pattern.match(path, len(route.prefix)):
                suffix = path[len(route.prefix) :]
                return RouteMatch(route.provider, route.template, Operation(route.kind, suffix))
        return None


def resolve(
    table: RouteTable, custom_providers: Mapping[str, ServedProvider], method: str, path: str,
    body: bytes, tokens: TokenCounter,
) -> tuple[RouteMatch, ProviderAdapter] | None:  # fmt: skip
    """The route and the adapter answering `method path`: a built-in provider's, or a custom one's."""
    match = table.match(method, path)
    if match is not None:
        return match, adapter_for(match.provider)
    split = split_custom_path(path) if method == "POST" else None
    served = custom_providers.get(split[0]) if split else None
    route = served.routes.get(split[1]) if served and split else None
    if served is None or route is None:
        return None
    adapter = CustomAdapter(served.provider, route, tokens, body)
    return RouteMatch(served.provider.provider, path, adapter.operation), adapter
