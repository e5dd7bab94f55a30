"""The small interface every provider adapter implements, and the usage record they produce."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from app.domain.entities import ProviderSetting


@dataclass(frozen=True)
class Operation:
    """What a proxied path does, as far as pricing and usage are concerned."""

    kind: str  # "chat", "completions", "embeddings", "speech", "transcription", "image", "other"
    upstream_path: str  # path appended to the provider origin, e.g. "/v1/chat/completions"


@dataclass
class Usage:
    """Tokens (and other billable units) of one request. `source`: "provider" or "local"."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    source: str = ""
    audio_seconds: float = 0.0
    characters: int = 0


@dataclass
class StreamState:
    """What a stream relay learns as events pass: the provider's usage and the text produced."""

    usage: Usage | None = None
    model: str = ""
    completion_parts: list[str] = field(default_factory=list)
    unparsed: list[bytes] = field(default_factory=list)  # data payloads not yet read as JSON


class ProviderAdapter(Protocol):
    name: str

    def upstream_url(self, setting: ProviderSetting, operation: Operation, query: str) -> str:
        """Absolute URL to call: the setting's `url` override or the public origin, plus the path."""
        ...

    def auth_headers(self, setting: ProviderSetting) -> dict[str, str]:
        """Headers carrying the provider secret."""
        ...

    def prepare_stream_body(self, body: bytes, parsed: dict[str, Any]) -> tuple[bytes, bool]:
        """Body to send for a streamed request; True when usage reporting had to be switched on
        (then the usage-only chunk is hidden from the client)."""
        ...

    def usage_from_body(self, operation: Operation, parsed: dict[str, Any]) -> Usage | None:
        ...

    def observe_stream_event(self, state: StreamState, data: dict[str, Any]) -> bool:
        """Update `state` from one SSE data object; True if the event only carries usage."""
        ...


# Optional, for adapters whose streams the relay cannot read as OpenAI-style SSE: custom providers
# (app/providers/custom.py) end on their own `stream_end_word`, a raw payload that is not JSON, and
# report no usage, so every event must be read (not only those that may carry usage). A relay that
# finds `isinstance(adapter, RawStreamObserver)` hands it each data payload instead of parsing JSON
# itself, and treats True as it treats `[DONE]`: relay the event, settle with `state.usage`, stop.
@runtime_checkable
class RawStreamObserver(Protocol):
    def observe_stream_data(self, state: StreamState, data: bytes) -> bool:
        """Update `state` from one raw SSE data payload; True when it ends the stream."""
        ...
