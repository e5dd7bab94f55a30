"""Prices one request from its operation, model and usage; estimates it before the call.

Built on the price tables (`pricing.py`) and the tokenizer (`tokens.py`). A per-setting costMap
is parsed once per setting version, not once per request.
"""

from __future__ import annotations

from typing import Any

import gevent

from app.domain.entities import ProviderSetting
from app.providers import pricing
from app.providers.base import PRICED_KINDS, Operation, OperationKind, Usage
from app.providers.pricing import PriceTable
from app.providers.tokens import TokenCounter

# The request fields that bound a generation's output, by API: Chat Completions (new and legacy
# name), Anthropic Messages and Completions, and the Responses API.
OUTPUT_BOUND_FIELDS = ("max_completion_tokens", "max_tokens", "max_output_tokens")
# Above this size the prompt is estimated from its length instead of tokenized on the hub.
MAX_TOKENIZED_BODY = 64 * 1024
# A streamed answer counted locally is tokenized in slices of this many characters (about 5 ms of
# the hub each), other greenlets running in between.
COUNT_SLICE_CHARS = 64 * 1024


class Pricer:
    """Prices and estimates requests. `reserve_max_output` (`COST_ESTIMATE_OUTPUT=max`, the
    default): a generation without an output bound is estimated at the model's maximum output, so
    concurrent requests can never take spend past a limit; off (`bound`), only at its bound."""

    def __init__(self, tokens: TokenCounter, reserve_max_output: bool = True) -> None:
        self.tokens = tokens
        self.reserve_max_output = reserve_max_output
        self._cost_maps: dict[tuple[str, int], pricing.CostMap] = {}

    def cost_map(self, setting: ProviderSetting | None) -> pricing.CostMap | None:
        if setting is None or not setting.cost_map:
            return None
        cache_key = (setting.id, setting.updated_at)
        found = self._cost_maps.get(cache_key)
        if found is None:
            found = self._cost_maps[cache_key] = pricing.CostMap.from_setting(setting.cost_map)
        return found

    def is_priced(
        self, operation: Operation, model: str, setting: ProviderSetting | None, table: PriceTable
    ) -> bool:
        if operation.kind not in PRICED_KINDS:
            return True  # nothing to price: the request costs 0
        return bool(model) and pricing.has_price(model, self.cost_map(setting), table=table)

    def cost(
        self, operation: Operation, model: str, usage: Usage, setting: ProviderSetting | None,
        body: dict[str, Any] | None, table: PriceTable,
    ) -> int:  # fmt: skip
        """Micro-dollars for the usage against the provider's `table` (and the setting's costMap);
        0 when the model has no known price."""
        cost_map = self.cost_map(setting)
        kind = operation.kind
        result: int | None = 0
        if kind.produces_text:
            result = pricing.chat_cost_micros(
                model, usage.prompt_tokens, usage.completion_tokens, usage.cached_prompt_tokens,
                cost_map=cost_map, table=table, cache_write_tokens=usage.cache_write_tokens,
            )  # fmt: skip
        elif kind is OperationKind.EMBEDDINGS:
            result = pricing.embedding_cost_micros(
                model, usage.prompt_tokens, cost_map=cost_map, table=table
            )
        elif kind is OperationKind.SPEECH:
            result = pricing.speech_cost_micros(model, usage.characters, table=table)
        elif kind is OperationKind.TRANSCRIPTION:
            result = pricing.audio_transcription_cost_micros(
                model, usage.audio_seconds, table=table
            )
        elif kind is OperationKind.IMAGE and body is not None:
            count = body.get("n")
            n = count if isinstance(count, int) else 1
            result = pricing.image_cost_micros(
                model, body.get("size"), body.get("quality"), n, table=table
            )
        return result or 0

    def estimate(
        self, operation: Operation, model: str, body: dict[str, Any] | None, raw_size: int,
        setting: ProviderSetting | None, table: PriceTable,
    ) -> int:  # fmt: skip
        """The reservation for a request: counted prompt tokens plus its output bound, or the
        model's maximum output when it sets none (see `reserve_max_output`)."""
        if operation.kind not in PRICED_KINDS or not model:
            return 0
        usage = Usage(prompt_tokens=self.prompt_tokens(operation, model, body, raw_size))
        if body is not None:
            usage.completion_tokens = self.reserved_output(operation, model, body, table)
            if operation.kind is OperationKind.SPEECH and isinstance(body.get("input"), str):
                usage.characters = len(body["input"])
        return self.cost(operation, model, usage, setting, body, table)

    def reserved_output(
        self, operation: Operation, model: str, body: dict[str, Any], table: PriceTable
    ) -> int:
        """Output tokens the estimate counts: the request's bound, else the model's maximum."""
        bound = output_bound(body)
        if bound is not None:
            return bound
        if operation.kind.produces_text and self.reserve_max_output:
            return pricing.max_output_tokens(model, table=table) or 0
        return 0

    def prompt_tokens(
        self, operation: Operation, model: str, body: dict[str, Any] | None, raw_size: int
    ) -> int:
        if body is None:
            return 0
        if raw_size > MAX_TOKENIZED_BODY:
            return raw_size // 3
        if operation.kind is OperationKind.CHAT:
            messages = body.get("messages")
            messages = messages if isinstance(messages, list) else []
            system = body.get("system")  # Anthropic keeps the system prompt beside the messages
            if system:
                messages = [{"role": "system", "content": system}, *messages]
            return self.tokens.count_chat_prompt(model, messages, body.get("tools"))
        if operation.kind is OperationKind.COMPLETIONS:
            return self.tokens.count_completion_prompt(model, body.get("prompt", ""))
        if operation.kind is OperationKind.EMBEDDINGS:
            return self.tokens.count_embedding_input(model, body.get("input", ""))
        return 0

    def completion_tokens(self, model: str, parts: list[str]) -> int:
        """Tokens of a streamed answer whose upstream reported no usage; a long one is counted in
        slices with the hub free in between (`COUNT_SLICE_CHARS`)."""
        if not parts:
            return 0
        text = "".join(parts)
        if len(text) <= COUNT_SLICE_CHARS:
            return self.tokens.count_text(model, text)
        return self.tokens.count_text_in_slices(model, text, COUNT_SLICE_CHARS, gevent.sleep)


def output_bound(body: dict[str, Any]) -> int | None:
    """The output bound a request sets (the first positive integer of OUTPUT_BOUND_FIELDS)."""
    for name in OUTPUT_BOUND_FIELDS:
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None
