"""Which proxy paths exist, what each one does, and where it goes upstream.

OpenAI paths follow OpenAI's real API (DECISIONS.md corrects the README's typos; the README's
literal paths are accepted too). A path not in the table is `404 route not supported`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.providers.base import Operation

OPENAI_PREFIX = "/api/providers/openai"

# (method, path after the prefix, kind). Kinds drive pricing; "other" is forwarded unpriced.
_OPENAI_ROUTES: tuple[tuple[str, str, str], ...] = (
    ("POST", "/v1/chat/completions", "chat"),
    ("POST", "/v1/completions", "completions"),
    ("POST", "/v1/embeddings", "embeddings"),
    ("POST", "/v1/moderations", "other"),
    ("POST", "/v1/responses", "other"),
    ("GET", "/v1/responses/:id", "other"),
    ("DELETE", "/v1/responses/:id", "other"),
    ("GET", "/v1/models", "other"),
    ("GET", "/v1/models/:model", "other"),
    ("GET", "/v1/files", "other"),
    ("POST", "/v1/files", "other"),
    ("DELETE", "/v1/files/:file_id", "other"),
    ("POST", "/v1/files/:file_id", "other"),  # the README's literal "delete a file"
    ("GET", "/v1/files/:file_id", "other"),
    ("GET", "/v1/files/:file_id/content", "other"),
    ("POST", "/v1/images/generations", "image"),
    ("POST", "/v1/images/edits", "image"),
    ("POST", "/v1/images/variations", "image"),
    ("POST", "/v1/audio/speech", "speech"),
    ("POST", "/v1/audio/transcriptions", "transcription"),
    ("POST", "/v1/audio/translations", "transcription"),
    ("POST", "/v1/audios/translations", "transcription"),  # the README's literal path
    ("POST", "/v1/assistants", "other"),
    ("GET", "/v1/assistants", "other"),
    ("GET", "/v1/assistants/:assistant_id", "other"),
    ("POST", "/v1/assistants/:assistant_id", "other"),
    ("DELETE", "/v1/assistants/:assistant_id", "other"),
    ("POST", "/v1/assistants/:assistant_id/files", "other"),
    ("GET", "/v1/assistants/:assistant_id/files", "other"),
    ("GET", "/v1/assistants/:assistant_id/files/:file_id", "other"),
    ("DELETE", "/v1/assistants/:assistant_id/files/:file_id", "other"),
    ("POST", "/v1/threads", "other"),
    ("POST", "/v1/threads/runs", "other"),
    ("GET", "/v1/threads/:thread_id", "other"),
    ("POST", "/v1/threads/:thread_id", "other"),
    ("DELETE", "/v1/threads/:thread_id", "other"),
    ("POST", "/v1/threads/:thread_id/messages", "other"),
    ("GET", "/v1/threads/:thread_id/messages", "other"),
    ("GET", "/v1/threads/:thread_id/messages/:message_id", "other"),
    ("POST", "/v1/threads/:thread_id/messages/:message_id", "other"),
    ("GET", "/v1/threads/:thread_id/messages/:message_id/files", "other"),
    ("GET", "/v1/threads/:thread_id/messages/:message_id/files/:file_id", "other"),
    ("POST", "/v1/threads/:thread_id/runs", "other"),
    ("GET", "/v1/threads/:thread_id/runs", "other"),
    ("GET", "/v1/threads/:thread_id/runs/:run_id", "other"),
    ("POST", "/v1/threads/:thread_id/runs/:run_id", "other"),
    ("POST", "/v1/threads/:thread_id/runs/:run_id/cancel", "other"),
    ("POST", "/v1/threads/:thread_id/runs/:run_id/submit_tool_outputs", "other"),
    ("GET", "/v1/threads/:thread_id/runs/:run_id/steps", "other"),
    ("GET", "/v1/threads/:thread_id/runs/:run_id/steps/:step_id", "other"),
    ("POST", "/v1/batches", "other"),
    ("GET", "/v1/batches", "other"),
    ("GET", "/v1/batches/:batch_id", "other"),
    ("POST", "/v1/batches/:batch_id/cancel", "other"),
)


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

    def __init__(self) -> None:
        self._static: dict[tuple[str, str], _Route] = {}
        self._dynamic: dict[str, list[_Route]] = {}
        for method, suffix, kind in _OPENAI_ROUTES:
            route = _compile(method, OPENAI_PREFIX, suffix, kind, "openai")
            if ":" in suffix:
                self._dynamic.setdefault(method, []).append(route)
            else:
                self._static[(method, OPENAI_PREFIX + suffix)] = route

    def match(self, method: str, path: str) -> RouteMatch | None:
        route = self._static.get((method, path))
        if route is not None:
            return RouteMatch(route.provider, route.template, Operation(route.kind, route.suffix_template))
        for route in self._dynamic.get(method, ()):
            if path.startswith(route.prefix) and route.pattern.match(path, len(route.prefix)):
                suffix = path[len(route.prefix) :]
                return RouteMatch(route.provider, route.template, Operation(route.kind, suffix))
        return None
