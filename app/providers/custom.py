"""Custom providers: the adapter for one request to one route of an admin-defined provider.

A route config says where to send the request (`target_url`) and where, as GJSON paths, the model,
the prompt, the completion and the stream flag live (`app/domain/custom_providers.py`). Custom
providers report no usage, so tokens are always counted here (source "local"): the prompt from the
request's `request_prompt_location`, the completion from the response's
`response_completion_location` or, streamed, from each event's `stream_response_completion_location`
(the relay hands this adapter every event: `reads_every_event`). A stream ends at the data payload
`stream_end_word` (e.g. `[DONE]`), which is not JSON.

GJSON paths are evaluated by `pygjson` (MIT; bindings of tidwall's own gjson.rs, about 1 us a
query on the raw bytes) in `gjson_value` only. A path that matches nothing, or is not valid GJSON,
gives no value: 0 tokens, no model.

The route stage (`resolve` in `app/proxy/routes.py`) builds one adapter per request, since the
model, the prompt and the route depend on the request; building it does no I/O, and the route
configs were parsed when the snapshot was loaded (`ServedProvider`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import pygjson

from app.domain.custom_providers import RouteConfig
from app.domain.entities import CustomProvider, ProviderSetting
from app.providers.base import AdapterDefaults, Operation, OperationKind, StreamState, Usage
from app.providers.openai import STREAM_ERROR
from app.providers.tokens import TokenCounter

PROXY_PREFIX = "/api/custom/providers/"
# Text longer than this is estimated from its length instead of tokenized on the hub (as prompts
# of built-in providers are, app/providers/costs.py).
MAX_TOKENIZED_CHARS = 64 * 1024
CHARS_PER_TOKEN_ESTIMATE = 3


def split_custom_path(path: str) -> tuple[str, str] | None:
    """`/api/custom/providers/bricks/chat/completions` -> ("bricks", "/chat/completions")."""
    if not path.startswith(PROXY_PREFIX):
        return None
    name, slash, rest = path[len(PROXY_PREFIX) :].partition("/")
    if not name or not slash:
        return None
    return name.lower(), "/" + rest


@dataclass(frozen=True)
class ServedProvider:
    """A custom provider as the proxy's snapshot holds it: its route configs parsed once, by path
    (not from the stored dicts on every request)."""

    provider: CustomProvider
    routes: Mapping[str, RouteConfig]

    @classmethod
    def of(cls, provider: CustomProvider) -> ServedProvider:
        routes: dict[str, RouteConfig] = {}
        for raw in provider.route_configs:
            route = RouteConfig.from_dict(raw)
            routes.setdefault(route.path, route)  # the first config of a path answers it
        return cls(provider, routes)


def gjson_value(document: Any, path: str) -> Any:
    """The value at GJSON `path` in a JSON document (raw bytes, or parsed), or None."""
    if not path or document is None:
        return None
    raw = document if isinstance(document, bytes) else orjson.dumps(document)
    try:
        result = pygjson.get_bytes(raw, path)
    except (ValueError, UnicodeDecodeError):  # not UTF-8, or not JSON at all
        return None
    return _plain(result) if result.exists() else None


def _plain(result: Any) -> Any:
    """A pygjson Result as plain Python values (its arrays and objects hold Results)."""
    value = result.value
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {name: _plain(item) for name, item in value.items()}
    return value


def gjson_text(document: Any, path: str) -> list[str]:
    """The strings at GJSON `path`: one string, or the strings of an array (nested arrays
    flattened; numbers, objects and nulls skipped), as BricksLLM's getContentFromJson reads them."""
    return list(_strings(gjson_value(document, path)))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        if value:
            yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


class CustomAdapter(AdapterDefaults):
    """`ProviderAdapter` for one request to one custom provider route (no built-in prices: the
    setting's costMap prices it)."""

    stream_error = STREAM_ERROR
    reads_every_event = True

    def __init__(
        self,
        provider: CustomProvider,
        route: RouteConfig,
        tokens: TokenCounter,
        request: bytes | dict[str, Any] | None,
    ) -> None:
        self.name = provider.provider
        self.prefix = PROXY_PREFIX + provider.provider
        self.route = route
        self.authentication_param = provider.authentication_param
        self._tokens = tokens
        self._request = request
        self._prompt_tokens: int | None = None
        model = gjson_value(request, route.model_location)
        self.model = model if isinstance(model, str) else ""
        self._end_word = route.stream_end_word.encode("utf-8")

    def request_model(self, operation: Operation, fields: Mapping[str, Any]) -> str:
        return self.model  # from `model_location`, not the body's "model"

    @property
    def operation(self) -> Operation:
        # "chat": priced as prompt and completion tokens, so the setting's costMap prices it.
        return Operation(kind=OperationKind.CHAT, upstream_path=self.route.path)

    @property
    def prompt_tokens(self) -> int:
        """Tokens of the text at `request_prompt_location`, counted once per request."""
        if self._prompt_tokens is None:
            parts = gjson_text(self._request, self.route.request_prompt_location)
            self._prompt_tokens = sum(self._count(part) for part in parts)
        return self._prompt_tokens

    def upstream_url(self, setting: ProviderSetting, operation: Operation, query: str) -> str:
        if not query:
            return self.route.target_url
        joiner = "&" if "?" in self.route.target_url else "?"
        return f"{self.route.target_url}{joiner}{query}"

    def auth_headers(self, setting: ProviderSetting) -> dict[str, str]:
        """The setting's apikey in the `authentication_param` header, or as a Bearer token."""
        secret = setting.api_key
        if not secret:
            return {}
        if self.authentication_param:
            return {self.authentication_param: secret}
        return {"Authorization": f"Bearer {secret}"}

    def prepare_stream_body(self, body: bytes, parsed: dict[str, Any]) -> tuple[bytes, bool]:
        return body, False  # nothing to switch on: custom providers report no usage

    def usage_from_body(self, operation: Operation, parsed: dict[str, Any]) -> Usage | None:
        parts = gjson_text(parsed, self.route.response_completion_location)
        completion = sum(self._count(part) for part in parts)
        return Usage(prompt_tokens=self.prompt_tokens, completion_tokens=completion, source="local")

    def observe_stream_event(self, state: StreamState, data: dict[str, Any]) -> bool:
        """Count the event's text into `state.usage`, kept current so a cut stream bills what came."""
        self._observe(state, data)
        return False  # never hide a custom provider's event from the client

    def is_stream_end(self, data: bytes) -> bool:
        return bool(self._end_word) and data.strip() == self._end_word

    def _observe(self, state: StreamState, document: Any) -> None:
        if self.model and not state.model:
            state.model = self.model
        if state.usage is None:
            state.usage = Usage(prompt_tokens=self.prompt_tokens, source="local")
        for part in gjson_text(document, self.route.stream_response_completion_location):
            state.completion_parts.append(part)
            state.usage.completion_tokens += self._count(part)

    def _count(self, text: str) -> int:
        if len(text) > MAX_TOKENIZED_CHARS:
            return len(text) // CHARS_PER_TOKEN_ESTIMATE
        return self._tokens.count_text(self.model, text)
