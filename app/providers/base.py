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
from app.providers.errors import openai_error_body
from app.providers.pricing import NO_PRICES, PriceTable

# (method, path after the provider's prefix, kind). Kinds drive pricing (OperationKind).
RouteSpec = tuple[str, str, str]


class OperationKind(StrEnum):
    """What a proxied path does, as far as pricing and usage go. Adapters' route tables name kinds
    by these values. OTHER is free by nature (models, files, retrievals, lists, deletes); UNPRICED
    is billed by the provider in a way the gateway cannot see (runs, batches, fine-tuning jobs,
    containers, vector storage): recorded at $0, refused under a cost limit (costs.py)."""

    CHAT = "chat"
    COMPLETIONS = "completions"
    RESPONSES = "responses"  # OpenAI's Responses API
    EMBEDDINGS = "embeddings"
    SPEECH = "speech"
    TRANSCRIPTION = "transcription"
    IMAGE = "image"
    OTHER = "other"
    UNPRICED = "unpriced"

    @property
    def produces_text(self) -> bool:
        """Chat and completions answer with text the gateway can count when usage is missing (and
        their streams get `stream_options.include_usage`; a Responses stream reports usage itself
        and would refuse that field)."""
        return self in (OperationKind.CHAT, OperationKind.COMPLETIONS)

    @property
    def priced_by_tokens(self) -> bool:
        """Priced by prompt and output tokens against the `chat` prices (or a costMap)."""
        return self in (OperationKind.CHAT, OperationKind.COMPLETIONS, OperationKind.RESPONSES)


PRICED_KINDS = frozenset(
    kind for kind in OperationKind if kind not in (OperationKind.OTHER, OperationKind.UNPRICED)
)


@dataclass(frozen=True)
class Operation:
    """What a proxied path does, as far as pricing and usage are concerned."""

    kind: OperationKind
    upstream_path: str  # the path after the provider prefix, e.g. "/v1/chat/completions"


@dataclass
class Usage:
    """Tokens (and other billable units) of one request. `source`: "provider" or "local".

    `prompt_tokens` counts every input token; `cached_prompt_tokens` (read from a prompt cache) and
    `cache_write_tokens` (written to it, Anthropic) are parts of it, priced at their own rates, as
    are `prompt_audio_tokens` and `prompt_image_tokens` (the rest of the prompt is text).
    `completion_tokens` counts every output token; `reasoning_tokens` (informative: billed as
    output), `completion_audio_tokens` and `completion_image_tokens` are parts of it.
    `images`: images an image answer holds (per-image prices).
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    source: str = ""
    audio_seconds: float = 0.0
    characters: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    prompt_audio_tokens: int = 0
    prompt_image_tokens: int = 0
    completion_audio_tokens: int = 0
    completion_image_tokens: int = 0
    images: int = 0


@dataclass
class StreamState:
    """What a stream relay learns as events pass: the provider's usage and the text produced."""

    usage: Usage | None = None
    model: str = ""
    completion_parts: list[str] = field(default_factory=list)
    unparsed: list[bytes] = field(default_factory=list)  # data payloads not yet read as JSON
    # Usage announced at a stream's start but not final (Anthropic's `message_start`): kept apart
    # so that a stream cut before its final usage is counted locally (see anthropic.py).
    started_usage: Usage | None = None


def cut_stream_usage(started: Usage | None, local: Usage) -> Usage:
    """The usage of a stream cut before its final usage: the input the provider announced at its
    start (Anthropic's `message_start`: exact, cache reads and writes included) and the output
    counted locally from the text relayed (never less than announced). Without an announcement,
    the local count as it is."""
    if started is None:
        return local
    return Usage(
        prompt_tokens=started.prompt_tokens,
        completion_tokens=max(started.completion_tokens, local.completion_tokens),
        cached_prompt_tokens=started.cached_prompt_tokens,
        cache_write_tokens=started.cache_write_tokens,
        source="local",
    )


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

    def error_body(self, status: int, message: str, error_type: str) -> dict[str, Any]:
        """A gateway-made error (`message` without its "[BricksLLM] " prefix) in this provider's
        error shape, so its clients raise their own error classes."""
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

    def error_body(self, status: int, message: str, error_type: str) -> dict[str, Any]:
        return openai_error_body(status, message, error_type)

    def upstream_path(self, operation: Operation) -> str:
        return operation.upstream_path

    def upstream_url(self, setting: ProviderSetting, operation: Operation, query: str) -> str:
        origin = (setting.url or self.public_origin).rstrip("/")
        return f"{origin}{self.upstream_path(operation)}" + (f"?{query}" if query else "")
