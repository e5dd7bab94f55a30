"""Stage 0: which proxy paths exist, which provider answers each, and what each one does.

Every built-in adapter declares its prefix and routes (`app/providers/<name>.py`); this table only
indexes them. Custom providers answer `POST /api/custom/providers/<name><route path>` for the routes
the admin API defined (served from the snapshot). Any other path is `404 route not supported`.

"Endpoint" is a path the gateway serves; "route" is kept for BricksLLM's failover routes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

from app.errors import ProxyError
from app.providers.base import Operation, OperationKind, ProviderAdapter
from app.providers.custom import CustomAdapter, ServedProvider, split_custom_path
from app.providers.registry import BUILTIN_ADAPTERS, adapter_for
from app.providers.tokens import TokenCounter


@dataclass(frozen=True)
class Endpoint:
    provider: str
    template: str  # full gateway path template, e.g. /api/providers/openai/v1/threads/:thread_id
    operation: Operation


@dataclass(frozen=True)
class _Entry:
    method: str
    pattern: re.Pattern[str]
    template: str
    suffix_template: str
    kind: OperationKind
    provider: str
    prefix: str


def _compile(method: str, prefix: str, suffix: str, kind: str, provider: str) -> _Entry:
    regex = re.sub(r":[a-z_]+", r"[^/]+", re.escape(suffix).replace(r"\:", ":"))
    return _Entry(
        method,
        re.compile(f"{regex}$"),
        prefix + suffix,
        suffix,
        OperationKind(kind),
        provider,
        prefix,
    )


class EndpointTable:
    """Exact paths resolve by dictionary; templated ones by a short regex scan per method."""

    def __init__(self, adapters: Iterable[ProviderAdapter] = BUILTIN_ADAPTERS) -> None:
        self._static: dict[tuple[str, str], _Entry] = {}
        self._dynamic: dict[str, list[_Entry]] = {}
        for adapter in adapters:
            for method, suffix, kind in adapter.routes:
                entry = _compile(method, adapter.prefix, suffix, kind, adapter.name)
                if ":" in suffix:
                    self._dynamic.setdefault(method, []).append(entry)
                else:
                    self._static[(method, adapter.prefix + suffix)] = entry

    def match(self, method: str, path: str) -> Endpoint | None:
        entry = self._static.get((method, path))
        if entry is not None:
            return Endpoint(
                entry.provider, entry.template, Operation(entry.kind, entry.suffix_template)
            )
        for entry in self._dynamic.get(method, ()):
            if path.startswith(entry.prefix) and entry.pattern.match(path, len(entry.prefix)):
                suffix = upstream_suffix(path[len(entry.prefix) :])
                return Endpoint(entry.provider, entry.template, Operation(entry.kind, suffix))
        return None


def upstream_suffix(decoded: str) -> str:
    """A path's templated part as the upstream gets it: each segment percent-encoded again, so a
    client's `%3F`, `%23` or `%2F` stays inside its segment (never a query, fragment or extra
    segment upstream); a `.` or `..` segment, which could climb the upstream's path, is refused."""
    segments = decoded.split("/")
    if any(segment in (".", "..") for segment in segments):
        raise ProxyError(400, "path segments '.' and '..' are not allowed")
    # A byte that is not UTF-8 arrives as a surrogate escape (views.py): encoded back as that byte.
    return "/".join(
        quote(segment.encode("utf-8", "surrogateescape"), safe=_SEGMENT_SAFE)
        for segment in segments
    )


# RFC 3986 pchar less '%': what a segment may hold as is (ids, model names with ':' or '@').
_SEGMENT_SAFE = "!$&'()*+,;=:@-._~"


def resolve_endpoint(
    table: EndpointTable,
    custom_providers: Mapping[str, ServedProvider],
    method: str,
    path: str,
    body: bytes,
    tokens: TokenCounter,
) -> tuple[Endpoint, ProviderAdapter] | None:
    """The endpoint and the adapter answering `method path`: a built-in provider's, or a custom one's."""
    match = table.match(method, path)
    if match is not None:
        return match, adapter_for(match.provider)
    split = split_custom_path(path) if method == "POST" else None
    served = custom_providers.get(split[0]) if split else None
    route = served.routes.get(split[1]) if served and split else None
    if served is None or route is None:
        return None
    adapter = CustomAdapter(served.provider, route, tokens, body)
    return Endpoint(served.provider.provider, path, adapter.operation), adapter
