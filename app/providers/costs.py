"""Prices one request from its operation, model and usage; estimates it before the call.

Built on the price tables (`pricing.py`) and the tokenizer (`tokens.py`). A per-setting costMap
is parsed once per setting version, not once per request.
"""

from __future__ import annotations

from typing import Any

from app.domain.entities import ProviderSetting
from app.providers import pricing
from app.providers.base import PRICED_KINDS, Operation, OperationKind, Usage
from app.providers.pricing import PriceTable
from app.providers.tokens import TokenCounter

# Above this size the prompt is estimated from its length instead of tokenized on the hub.
MAX_TOKENIZED_BODY = 64 * 1024


class Pricer:
    def __init__(self, tokens: TokenCounter) -> None:
        self.tokens = tokens
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
        """The reservation for a request: counted prompt tokens plus its max output tokens."""
        if operation.kind not in PRICED_KINDS or not model:
            return 0
        usage = Usage(prompt_tokens=self.prompt_tokens(operation, model, body, raw_size))
        if body is not None:
            limit = body.get("max_completion_tokens") or body.get("max_tokens") or 0
            usage.completion_tokens = limit if isinstance(limit, int) and limit > 0 else 0
            if operation.kind is OperationKind.SPEECH and isinstance(body.get("input"), str):
                usage.characters = len(body["input"])
        return self.cost(operation, model, usage, setting, body, table)

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
        return self.tokens.count_text(model, "".join(parts)) if parts else 0
