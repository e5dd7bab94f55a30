"""The built-in price data against what the adapters read from answers: every model of a routed
operation's price table has a price for each field its usage reports, and a unit price for the
answers (and reservations) that report none."""

from __future__ import annotations

import pytest

from app.providers.base import Operation, OperationKind, Usage
from app.providers.costs import Pricer, _modal_cost
from app.providers.openai import OpenAIAdapter, modal_usage_of
from app.providers.pricing import image_cost_micros, openai_prices
from app.providers.tokens import TokenCounter

TABLE = openai_prices()
# Usage objects as OpenAI's answers report them, every part non-zero.
REPORTED = {
    OperationKind.IMAGE: {  # gpt-image-*: text and image input, image output
        "input_tokens": 60, "output_tokens": 4160,
        "input_tokens_details": {"text_tokens": 50, "image_tokens": 10, "cached_tokens": 5},
    },
    OperationKind.TRANSCRIPTION: {  # gpt-4o-transcribe: text and audio input, text output
        "type": "tokens", "input_tokens": 120, "output_tokens": 30,
        "input_token_details": {"text_tokens": 20, "audio_tokens": 100},
    },
    OperationKind.SPEECH: {"input_tokens": 12, "output_tokens": 900},  # gpt-4o-mini-tts SSE
}  # fmt: skip
SECTIONS = {
    OperationKind.IMAGE: TABLE.image_tokens,
    OperationKind.TRANSCRIPTION: TABLE.transcription_tokens,
    OperationKind.SPEECH: TABLE.speech_tokens,
}
TOKEN_PRICED = [(kind, model) for kind, section in SECTIONS.items() for model in section]


@pytest.mark.parametrize(("kind", "model"), TOKEN_PRICED)
def test_a_token_priced_model_prices_every_part_its_usage_reports(kind, model):
    usage = modal_usage_of(kind, REPORTED[kind])
    assert usage is not None and usage.prompt_tokens and usage.completion_tokens
    cost = _modal_cost(model, SECTIONS[kind], usage, TABLE)
    assert cost is not None and cost > 0, f"{model} lacks a price for a part of its {kind} usage"


@pytest.mark.parametrize(("kind", "model"), TOKEN_PRICED)
def test_a_token_priced_model_has_a_unit_price_for_answers_without_usage(kind, model):
    unit_sections = {
        OperationKind.IMAGE: TABLE.images,
        OperationKind.TRANSCRIPTION: TABLE.transcription,
        OperationKind.SPEECH: TABLE.speech,
    }
    assert TABLE.resolve(model, unit_sections[kind]) is not None


@pytest.mark.parametrize("model", sorted(TABLE.chat))
def test_every_chat_model_prices_the_responses_api_usage(model, tmp_path_factory):
    adapter, pricer = OpenAIAdapter(), Pricer(TokenCounter(tmp_path_factory.mktemp("v")))
    operation = Operation(OperationKind.RESPONSES, "/v1/responses")
    usage = adapter.usage_from_body(operation, {"usage": {
        "input_tokens": 1000, "input_tokens_details": {"cached_tokens": 200},
        "output_tokens": 100, "output_tokens_details": {"reasoning_tokens": 60}}})  # fmt: skip
    assert usage is not None and usage.reasoning_tokens == 60
    assert pricer.unpriced_reason(operation, model, {}, None, TABLE) is None
    assert pricer.cost(operation, model, usage, None, {}, TABLE) > 0


def test_prices_are_dated():
    assert TABLE.prices_as_of == "2025-12-16"


@pytest.mark.parametrize(
    ("model", "size", "quality", "usd"),
    [
        ("dall-e-3", "1024x1024", "standard", "0.04"),
        ("dall-e-3", None, None, "0.04"),
        ("dall-e-3", "1792x1024", "standard", "0.08"),
        ("dall-e-3", "1024x1024", "hd", "0.08"),
        ("dall-e-3", "1024x1792", "hd", "0.12"),
        ("dall-e-2", "256x256", None, "0.016"),
        ("dall-e-2", "1024x1024", "hd", "0.02"),  # one quality tier: the quality is ignored
        ("gpt-image-1", "1024x1024", "low", "0.011"),
        ("gpt-image-1", "1536x1024", "medium", "0.063"),
        ("gpt-image-1", "auto", "auto", "0.25"),  # the model chooses: the dearest is held
        ("gpt-image-1-mini", "1024x1024", None, "0.036"),
    ],
)
def test_per_image_prices(model, size, quality, usd):
    from decimal import Decimal

    assert image_cost_micros(model, size, quality) == int(Decimal(usd) * 1_000_000)


def test_image_tokens_are_priced_by_modality():
    usage = modal_usage_of(OperationKind.IMAGE, REPORTED[OperationKind.IMAGE])
    assert usage is not None
    # gpt-image-1: 45 text x $5 + 5 cached x $1.25 + 10 image x $10 + 4160 out x $40 = 166731.25
    assert _modal_cost("gpt-image-1", TABLE.image_tokens, usage, TABLE) == 166_732
    # a token usage without a price for one of its parts is not guessed: None (unit prices next)
    assert _modal_cost("gpt-image-1", TABLE.speech_tokens, usage, TABLE) is None
    assert _modal_cost("gpt-image-1", TABLE.image_tokens, Usage(), TABLE) is None
