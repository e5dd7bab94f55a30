"""The small interface every provider adapter implements, and the usage record they produce.

An adapter knows one provider: the proxy paths it answers (`prefix` + `routes`), how to build the
upstream request (URL, key header, stream body), how to read usage from a body or a stream event,
how its streams end, and its built-in price table. The pipeline never branches on a provider name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from app.domain.entities import ProviderSetting
from app.providers.pricing import NO_PRICES, PriceTable

# (method, path after the provider's prefix, kind). Kinds drive pricing; "other" is unpriced.
RouteSpec = tuple[str, str, str]


class OperationKind(StrEnum):
    """What a proxied path does, as far as pricing and usage go. Adapters' route tables name kinds
    by these values; OTHER is never priced (files, models, assistants...)."""

    CHAT = "chat"
    COMPLETIONS = "completions"
    EMBEDDINGS = "embeddings"
    SPEECH = "speech"
    TRANSCRIPTION = "transcription"
    IMAGE = "image"
    OTHER = "other"

    @property
    def produces_text(self) -> bool:
        """Chat and completions answer with text the gateway can count when usage is missing."""
        return self in (OperationKind.CHAT, OperationKind.COMPLETIONS)


PRICED_KINDS = frozenset(kind for kind in OperationKind if kind is not OperationKind.OTHER)


@dataclass(frozen=True)
class Operation:
    """What a proxied path does, as far as pricing and usage are concerned."""

    kind: OperationKind
    upstream_path: str  # the path after the provider prefix, e.g. "/v1/chat/completions"


@dataclass
class Usage:
    """Tokens (and other billable units) of one request. `source`: "provider" or "local".

    `prompt_tokens` counts every input token; `cached_prompt_tokens` (read from a prompt cache) and
    `cache_write_tokens` (written to it, Anthropic) are parts of it, priced at their own rates.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    source: str = ""
    audio_seconds: float = 0.0
    characters: int = 0
    cache_write_tokens: int = 0


@dataclass
class StreamState:
    """What a stream relay learns as events pass: the provider's usage and the text produced."""

    usage: Usage | None = None
    model: str = ""
    completion_parts: list[str] = field(default_factory=list)
    unparsed: list[bytes] = field(default_factory=list)  # data payloads not yet read as JSON


class ProviderAdapter(Protocol):
    name: str
    prefix: str  # proxy path prefix, e.g. "/api/providers/openai"
    routes: tuple[RouteSpec, ...]
    stream_error: bytes  # the SSE event that ends a stream whose upstream died
    # True: the relay hands every stream event to `observe_stream_event` (custom providers count
    # the text of each); False: only the events that may carry usage, the rest only if needed.
    reads_every_event: bool

    @property
    def prices(self) -> PriceTable:
        """Built-in prices (`pricing.NO_PRICES`: only a setting's costMap prices the provider)."""
        ...

    def check_request(self, query: str) -> str | None:
        """Why the request cannot be forwarded (e.g. a missing query parameter), or None."""
        ...

    def request_model(self, operation: Operation, fields: Mapping[str, Any]) -> str:
        """The model a request asks for, from its JSON body or form fields (or its path)."""
        ...

    def request_user(self, fields: Mapping[str, Any]) -> str:
        """The end user a request names in its body, or ""."""
        ...

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

    def usage_from_body(self, operation: Operation, parsed: dict[str, Any]) -> Usage | None: ...

    def observe_stream_event(self, state: StreamState, data: dict[str, Any]) -> bool:
        """Update `state` from one SSE data object; True if the event only carries usage."""
        ...

    def is_stream_end(self, data: bytes) -> bool:
        """True for the data payload of the event that ends a complete stream."""
        ...


class AdapterDefaults:
    """What most adapters share: the model and user named in the body, no request checks, and the
    upstream URL as the setting's `url` (or the public origin) plus the path."""

    name = ""
    prefix = ""
    routes: tuple[RouteSpec, ...] = ()
    public_origin = ""
    reads_every_event = False

    @property
    def prices(self) -> PriceTable:
        return NO_PRICES

    def check_request(self, query: str) -> str | None:
        return None

    def request_model(self, operation: Operation, fields: Mapping[str, Any]) -> str:
        model = fields.get("model")
        return model if isinstance(model, str) else ""

    def request_user(self, fields: Mapping[str, Any]) -> str:
        user = fields.get("user")
        return user if isinstance(user, str) else ""

    def upstream_path(self, operation: Operation) -> str:
        return operation.upstream_path

    def upstream_url(self, setting: ProviderSetting, operation: Operation, query: str) -> str:
        origin = (setting.url or self.public_origin).rstrip("/")
        return f"{origin}{self.upstream_path(operation)}" + (f"?{query}" if query else "")
