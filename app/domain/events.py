"""The usage event: one per proxied request (rejections included), as stored and as reported."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Event:
    """What happened to one proxied request. Money in micro-dollars, times in unix seconds."""

    id: str
    created_at: int
    key_id: str = ""
    tags: tuple[str, ...] = ()
    provider: str = ""
    model: str = ""
    path: str = ""
    method: str = ""
    status: int = 0
    cost_micros: int = 0
    prompt_token_count: int = 0
    completion_token_count: int = 0
    latency_in_ms: int = 0
    custom_id: str = ""
    user_id: str = ""
    policy_id: str = ""
    action: str = ""
    route_id: str = ""
    token_count_source: str = ""  # "provider" (usage reported upstream), "local" (tiktoken), ""
    error: str = ""
    metadata: dict[str, Any] | None = None
    request_body: bytes | None = field(default=None, repr=False)
    response_body: bytes | None = field(default=None, repr=False)

    def to_wire(self) -> dict[str, Any]:
        """The event as the events API answers it (snake_case, USD as a float)."""
        return {
            "id": self.id,
            "created_at": self.created_at,
            "tags": list(self.tags),
            "key_id": self.key_id,
            "cost_in_usd": self.cost_micros / 1_000_000,
            "model": self.model,
            "provider": self.provider,
            "status": self.status,
            "prompt_token_count": self.prompt_token_count,
            "completion_token_count": self.completion_token_count,
            "latency_in_ms": self.latency_in_ms,
            "path": self.path,
            "method": self.method,
            "custom_id": self.custom_id,
            "user_id": self.user_id,
            "policy_id": self.policy_id,
            "action": self.action,
            "route_id": self.route_id,
            "token_count_source": self.token_count_source,
            "metadata": self.metadata,
            "request": _text(self.request_body),
            "response": _text(self.response_body),
        }


def _text(body: bytes | None) -> str | None:
    return None if body is None else body.decode("utf-8", errors="replace")
