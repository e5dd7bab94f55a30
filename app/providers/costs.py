"""Prices one request from its operation, model and usage; estimates it before the call; says why
a request cannot be priced (the limits stage refuses such a request under a cost limit).

Built on the price tables (`pricing.py`) and the tokenizer (`tokens.py`). A per-setting costMap
is parsed once per setting version, not once per request. How each operation kind is priced:

    chat, completions, responses   prompt (cached part at its rate) and output tokens
    embeddings                     input tokens
    image                          by tokens when the answer reports them (gpt-image models),
                                   else per image by model, quality and size (dall-e)
    transcription                  by tokens when the answer reports them (gpt-4o-transcribe),
                                   else by the audio's duration (whisper, text answers)
    speech                         by tokens when reported (SSE speech streams), else characters
    other                          free by nature: models, files, retrievals, lists, deletes
    unpriced                       billed by the provider in a way the gateway cannot see (runs,
                                   batches, fine-tuning jobs, containers, vector storage): $0,
                                   and refused under a cost limit
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gevent

from app.domain.entities import ProviderSetting
from app.providers import pricing
from app.providers.base import PRICED_KINDS, Operation, OperationKind, Usage
from app.providers.pricing import ModalCounts, PriceTable
from app.providers.tokens import TokenCounter

# The request fields that bound a generation's output, by API: Chat Completions (new and legacy
# name), Anthropic Messages and Completions, and the Responses API.
OUTPUT_BOUND_FIELDS = ("max_completion_tokens", "max_tokens", "max_output_tokens")
# Above this size the prompt is estimated from its length instead of tokenized on the hub.
MAX_TOKENIZED_BODY = 64 * 1024
_COST_MAP_HINT = (
    "add its prices to the provider setting's costMap (promptCostPerModel and "
    "completionCostPerModel, USD per 1K tokens)"
)
_NOUNS = {
    OperationKind.IMAGE: "images",
    OperationKind.SPEECH: "speech",
    OperationKind.TRANSCRIPTION: "transcription",
}
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
        """True when a request can be priced (or is free); see `unpriced_reason`."""
        return self.unpriced_reason(operation, model, None, setting, table) is None

    def unpriced_reason(
        self, operation: Operation, model: str, body: Mapping[str, Any] | None,
        setting: ProviderSetting | None, table: PriceTable,
    ) -> str | None:  # fmt: skip
        """Why a request cannot be priced, naming the fix; None when it can be (or costs nothing).

        Under a cost limit the gateway refuses such a request (400) instead of letting its
        spend escape the limit."""
        kind = operation.kind
        if kind is OperationKind.OTHER:
            return None
        if kind is OperationKind.UNPRICED:
            return (f"{operation.upstream_path} is billed by the provider in a way the gateway "
                    "cannot price; use a key without a cost limit for it")  # fmt: skip
        if kind is OperationKind.RESPONSES and _is_unseen_background(body):
            return ("a background response (background: true, not streamed) is billed after the "
                    "gateway has answered and its usage cannot be seen; stream it "
                    "(stream: true) or use a key without a cost limit")  # fmt: skip
        if kind not in PRICED_KINDS:
            return f"operation {kind} has no price; use a key without a cost limit for it"
        if not model:
            return "the request names no model, so it cannot be priced; name the model"
        if self._has_price(kind, model, setting, table):
            return None
        if kind in _NOUNS:
            return (f"model {model} has no built-in price for {_NOUNS[kind]} (a costMap prices "
                    "only tokens of chat, completions, responses and embeddings); use a key "
                    "without a cost limit for it")  # fmt: skip
        hint = _COST_MAP_HINT if kind is not OperationKind.EMBEDDINGS else (
            "add its price to the provider setting's costMap (embeddingsCostPerModel, USD per "
            "1K tokens)")  # fmt: skip
        return f"model {model} has no price; {hint}"

    def _has_price(
        self, kind: OperationKind, model: str, setting: ProviderSetting | None, table: PriceTable
    ) -> bool:
        cost_map = self.cost_map(setting)
        if kind.priced_by_tokens:
            return pricing.chat_prices(model, cost_map, table=table) is not None
        if kind is OperationKind.EMBEDDINGS:
            return pricing.embedding_price(model, cost_map, table=table) is not None
        sections: dict[OperationKind, tuple[Mapping[str, object], ...]] = {
            OperationKind.IMAGE: (table.images, table.image_tokens),
            OperationKind.TRANSCRIPTION: (table.transcription, table.transcription_tokens),
            OperationKind.SPEECH: (table.speech, table.speech_tokens),
        }
        return any(table.resolve(model, section) for section in sections[kind])

    def cost(
        self, operation: Operation, model: str, usage: Usage, setting: ProviderSetting | None,
        body: dict[str, Any] | None, table: PriceTable,
    ) -> int:  # fmt: skip
        """Micro-dollars for the usage against the provider's `table` (and the setting's costMap);
        0 when the model has no known price."""
        kind = operation.kind
        result: int | None = 0
        if kind.priced_by_tokens:
            result = pricing.chat_cost_micros(
                model, usage.prompt_tokens, usage.completion_tokens, usage.cached_prompt_tokens,
                cost_map=self.cost_map(setting), table=table,
                cache_write_tokens=usage.cache_write_tokens,
            )  # fmt: skip
        elif kind is OperationKind.EMBEDDINGS:
            result = pricing.embedding_cost_micros(
                model, usage.prompt_tokens, cost_map=self.cost_map(setting), table=table
            )
        elif kind is OperationKind.SPEECH:
            result = _modal_cost(model, table.speech_tokens, usage, table)
            if result is None:
                result = pricing.speech_cost_micros(model, usage.characters, table=table)
        elif kind is OperationKind.TRANSCRIPTION:
            result = _modal_cost(model, table.transcription_tokens, usage, table)
            if result is None:
                result = pricing.audio_transcription_cost_micros(
                    model, usage.audio_seconds, table=table
                )
        elif kind is OperationKind.IMAGE:
            result = _modal_cost(model, table.image_tokens, usage, table)
            if result is None:
                result = _per_image_cost(model, usage, body or {}, table)
        return result or 0

    def estimate(
        self, operation: Operation, model: str, body: dict[str, Any] | None, raw_size: int,
        setting: ProviderSetting | None, table: PriceTable,
    ) -> int:  # fmt: skip
        """The reservation for a request: counted prompt tokens plus its output bound, or the
        model's maximum output when it sets none (see `reserve_max_output`); images: their
        per-image price; speech: its characters; transcription: see the limits stage."""
        if operation.kind not in PRICED_KINDS or not model:
            return 0
        usage = Usage(prompt_tokens=self.prompt_tokens(operation, model, body, raw_size))
        if body is not None:
            usage.completion_tokens = self.reserved_output(operation, model, body, table)
            if operation.kind is OperationKind.SPEECH and isinstance(body.get("input"), str):
                usage.characters = len(body["input"])
        if operation.kind is OperationKind.IMAGE:
            usage.prompt_tokens = 0  # priced per image: the dearest the request can cost
        return self.cost(operation, model, usage, setting, body, table)

    def reserved_output(
        self, operation: Operation, model: str, body: dict[str, Any], table: PriceTable
    ) -> int:
        """Output tokens the estimate counts: the request's bound, else the model's maximum."""
        bound = output_bound(body)
        if bound is not None:
            return bound
        generates = operation.kind.produces_text or operation.kind is OperationKind.RESPONSES
        if generates and self.reserve_max_output:
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
        if operation.kind is OperationKind.RESPONSES:
            return self.tokens.count_chat_prompt(model, responses_messages(body), body.get("tools"))
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


def responses_messages(body: Mapping[str, Any]) -> list[Any]:
    """A Responses request's `instructions` and `input` (a string, or a list of items: messages,
    function calls and outputs...) as chat messages, for counting their tokens."""
    messages: list[Any] = []
    instructions = body.get("instructions")
    if isinstance(instructions, str) and instructions:
        messages.append({"role": "system", "content": instructions})
    given = body.get("input")
    if isinstance(given, str):
        messages.append({"role": "user", "content": given})
    elif isinstance(given, list):
        messages.extend(item for item in given if isinstance(item, dict))
    return messages


def _is_unseen_background(body: Mapping[str, Any] | None) -> bool:
    if body is None:
        return False
    return body.get("background") is True and body.get("stream") is not True


def _modal_cost(
    model: str, section: Mapping[str, pricing.ModalTokenPrices], usage: Usage, table: PriceTable
) -> int | None:
    """The token price of an image, transcription or speech usage; None without token usage or a
    token price for every part it reports."""
    if not (usage.prompt_tokens or usage.completion_tokens):
        return None
    counts = ModalCounts(
        prompt_tokens=usage.prompt_tokens,
        cached_text_tokens=usage.cached_prompt_tokens,
        audio_input_tokens=usage.prompt_audio_tokens,
        image_input_tokens=usage.prompt_image_tokens,
        completion_tokens=usage.completion_tokens,
        audio_output_tokens=usage.completion_audio_tokens,
        image_output_tokens=usage.completion_image_tokens,
    )
    return pricing.modal_cost_micros(model, section, counts, table=table)


def _per_image_cost(
    model: str, usage: Usage, body: Mapping[str, Any], table: PriceTable
) -> int | None:
    """Images the answer holds (or the request's `n`) at the per-image price of its quality and
    size."""
    requested = body.get("n")
    n = usage.images or (requested if isinstance(requested, int) and requested > 0 else 1)
    size, quality = body.get("size"), body.get("quality")
    return pricing.image_cost_micros(
        model, size if isinstance(size, str) else None,
        quality if isinstance(quality, str) else None, n, table=table,
    )  # fmt: skip


def output_bound(body: dict[str, Any]) -> int | None:
    """The output bound a request sets (the first positive integer of OUTPUT_BOUND_FIELDS)."""
    for name in OUTPUT_BOUND_FIELDS:
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None
