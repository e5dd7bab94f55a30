"""Prices and costs: name resolution, costMap overrides, exact arithmetic, rounding up once."""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.providers import pricing
from app.providers.pricing import (
    CostMap,
    PriceTable,
    audio_transcription_cost_micros,
    chat_cost_micros,
    embedding_cost_micros,
    has_price,
    image_cost_micros,
    openai_prices,
    resolve_price_model,
    speech_cost_micros,
)

# --- the built-in table --------------------------------------------------------------------

LISTED_MODELS = [
    "gpt-4o",
    "gpt-4o-2024-05-13",
    "gpt-4o-2024-08-06",
    "gpt-4o-2024-11-20",
    "gpt-4o-mini",
    "gpt-4o-mini-2024-07-18",
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-4.1-nano",
    "o1",
    "o1-mini",
    "o3",
    "o3-mini",
    "o4-mini",
    "gpt-4",
    "gpt-4-turbo",
    "gpt-3.5-turbo",
    "gpt-3.5-turbo-0125",
    "gpt-3.5-turbo-1106",
    "gpt-3.5-turbo-instruct",
    "text-embedding-3-small",
    "text-embedding-3-large",
    "text-embedding-ada-002",
    "whisper-1",
    "tts-1",
    "tts-1-hd",
    "dall-e-3",
    "dall-e-2",
    "ft:gpt-4o-mini",
    "ft:gpt-4o",
    "ft:gpt-4.1",
    "ft:gpt-3.5-turbo",
]


@pytest.mark.parametrize("model", LISTED_MODELS)
def test_every_listed_model_has_its_own_entry(model: str) -> None:
    assert resolve_price_model(model) == model


def test_table_is_dated_and_read_exactly() -> None:
    table = openai_prices()
    assert table.provider == "openai"
    assert table.prices_as_of == "2025-12-16"
    assert table.chat["gpt-4o-mini"].cached_prompt == Fraction(75, 10**9)  # $0.075 per 1M
    assert table.transcription["whisper-1"] == Fraction(6, 1000) / 60
    assert table.images["dall-e-3"]["hd"]["1792x1024"] == Fraction(12, 100)


def test_fine_tuned_inference_costs_more_than_base() -> None:
    table = openai_prices()
    for base in ("gpt-4o-mini", "gpt-4o", "gpt-4.1", "gpt-3.5-turbo"):
        tuned, plain = table.chat[f"ft:{base}"], table.chat[base]
        assert tuned.prompt > plain.prompt and tuned.completion > plain.completion, base


# --- name resolution -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o-2024-05-13", "gpt-4o-2024-05-13"),  # own entry, own (higher) price
        ("gpt-4.1-2025-04-14", "gpt-4.1"),
        ("gpt-4.1-mini-2025-04-14", "gpt-4.1-mini"),
        ("o3-mini-2025-01-31", "o3-mini"),
        ("gpt-4-0613", "gpt-4"),
        ("gpt-4-turbo-2024-04-09", "gpt-4-turbo"),
        ("gpt-3.5-turbo-1106", "gpt-3.5-turbo-1106"),
        ("ft:gpt-4o-mini-2024-07-18:my-org:custom:abc123", "ft:gpt-4o-mini"),
        ("ft:gpt-4o-2024-08-06:my-org::abc123", "ft:gpt-4o"),
        ("ft:gpt-4.1-2025-04-14:my-org:x:y", "ft:gpt-4.1"),
        ("ft:gpt-3.5-turbo-0125:my-org::abc123", "ft:gpt-3.5-turbo"),
        ("ft:o4-mini-2025-04-16:my-org::abc123", None),  # no fine-tuned price: unknown
        ("gpt-4-1234", None),  # not a date
        ("gpt-9000", None),
        ("", None),
    ],
)
def test_resolve_price_model(model: str, expected: str | None) -> None:
    assert resolve_price_model(model) == expected


# --- chat ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "prompt", "completion", "expected_micros"),
    [
        ("gpt-4o", 1000, 500, 2_500 + 5_000),
        ("gpt-4o-2024-08-06", 1000, 500, 2_500 + 5_000),
        ("gpt-4o-2024-05-13", 1000, 500, 5_000 + 7_500),
        ("gpt-4o-mini", 1_000_000, 1_000_000, 150_000 + 600_000),
        ("gpt-4.1-2025-04-14", 1_000_000, 0, 2_000_000),
        ("gpt-4", 1000, 1000, 30_000 + 60_000),
        ("gpt-3.5-turbo-1106", 1000, 1000, 1_000 + 2_000),
        ("o1", 100, 1000, 1_500 + 60_000),
        ("ft:gpt-4o-mini-2024-07-18:org:name:id", 1000, 1000, 300 + 1_200),
        ("ft:gpt-4o-2024-08-06:org::id", 1000, 1000, 3_750 + 15_000),
        ("ft:gpt-3.5-turbo-0125:org::id", 1000, 1000, 3_000 + 6_000),
    ],
)
def test_chat_cost(model: str, prompt: int, completion: int, expected_micros: int) -> None:
    assert chat_cost_micros(model, prompt, completion) == expected_micros


def test_cached_prompt_tokens_are_part_of_prompt_tokens() -> None:
    # gpt-4o: 600 uncached at $2.50/1M + 400 cached at $1.25/1M
    assert chat_cost_micros("gpt-4o", 1000, 0, cached_prompt_tokens=400) == 1_500 + 500


def test_cached_tokens_cost_prompt_price_without_cached_price() -> None:
    assert chat_cost_micros("gpt-4", 1000, 0, cached_prompt_tokens=400) == 30_000


def test_cached_tokens_beyond_prompt_tokens_are_clamped() -> None:
    assert chat_cost_micros("gpt-4o", 1000, 0, cached_prompt_tokens=5000) == 1_250


def test_arithmetic_is_exact() -> None:
    assert chat_cost_micros("o4-mini", 1_000_000, 0, cached_prompt_tokens=1_000_000) == 275_000
    # Binary floats give 75000.00000000001 here, i.e. 75001 after rounding up.
    assert chat_cost_micros("gpt-4.1-nano", 3_000_000, 0, cached_prompt_tokens=3_000_000) == 75_000


_PRICE = st.decimals(min_value=0, max_value=1000, places=4).map(
    lambda d: Fraction(str(d)) / 1_000_000
)
_COUNT = st.integers(min_value=0, max_value=10**7)


@given(
    st.tuples(_PRICE, _PRICE, st.none() | _PRICE, st.none() | _PRICE),
    st.tuples(_COUNT, _COUNT, _COUNT, _COUNT),
)
def test_integer_cost_is_the_exact_cost_rounded_up_once(prices: tuple, counts: tuple) -> None:
    token_prices = pricing.TokenPrices(*prices)
    exact_usd = token_prices.cost(*counts)
    assert token_prices.cost_micros(*counts) == pricing.to_micros(exact_usd)


def test_rounds_up_once_per_request() -> None:
    # gpt-4o-mini: 1 prompt token = 0.15 micro-dollars, 1 completion token = 0.6.
    assert chat_cost_micros("gpt-4o-mini", 1, 0) == 1
    assert chat_cost_micros("gpt-4o-mini", 1, 1) == 1  # 0.75 -> 1, not 1 + 1
    assert chat_cost_micros("gpt-4o", 1, 0) == 3  # 2.5 -> 3
    assert chat_cost_micros("gpt-4o", 2, 0) == 5
    assert chat_cost_micros("gpt-4o", 0, 0) == 0


def test_unknown_model_has_no_cost() -> None:
    assert chat_cost_micros("my-private-model", 1000, 1000) is None
    assert embedding_cost_micros("my-private-model", 1000) is None


def test_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError):
        chat_cost_micros("gpt-4o", -1, 0)
    with pytest.raises(ValueError):
        embedding_cost_micros("text-embedding-3-small", -5)


# --- costMap -------------------------------------------------------------------------------


def test_cost_map_overrides_per_1k_tokens() -> None:
    cost_map = CostMap.from_setting(
        {"promptCostPerModel": {"gpt-4o": 0.01}, "completionCostPerModel": {"gpt-4o": 0.03}}
    )
    assert chat_cost_micros("gpt-4o", 1000, 1000, cost_map=cost_map) == 10_000 + 30_000


def test_cost_map_float_prices_are_read_exactly() -> None:
    # Fraction(0.001) is 0.001000000000000000020816...: 1001 micro-dollars after rounding up.
    cost_map = CostMap.from_setting({"promptCostPerModel": {"gpt-4o": 0.001}})
    assert chat_cost_micros("gpt-4o", 1000, 0, cost_map=cost_map) == 1_000
    cost_map = CostMap.from_setting({"promptCostPerModel": {"gpt-4o": 0.0003}})
    assert chat_cost_micros("gpt-4o", 10_000, 0, cost_map=cost_map) == 3_000


def test_cost_map_overrides_each_part_separately() -> None:
    prompt_only = CostMap.from_setting({"promptCostPerModel": {"gpt-4o": 0.01}})
    # overridden prompt (10_000) + built-in completion ($10/1M -> 10_000)
    assert chat_cost_micros("gpt-4o", 1000, 1000, cost_map=prompt_only) == 20_000


def test_cost_map_prompt_override_applies_to_cached_tokens() -> None:
    cost_map = CostMap.from_setting({"promptCostPerModel": {"gpt-4o": 0.01}})
    assert chat_cost_micros("gpt-4o", 1000, 0, 1000, cost_map=cost_map) == 10_000


def test_zero_cost_map_entry_does_not_override() -> None:
    cost_map = CostMap.from_setting(
        {"promptCostPerModel": {"gpt-4o": 0}, "completionCostPerModel": {"gpt-4o": 0.0}}
    )
    assert chat_cost_micros("gpt-4o", 1000, 500, cost_map=cost_map) == 7_500


def test_cost_map_names_are_exact() -> None:
    cost_map = CostMap.from_setting({"promptCostPerModel": {"gpt-4o": 1}})
    assert chat_cost_micros("gpt-4o-2024-08-06", 1000, 0, cost_map=cost_map) == 2_500


def test_cost_map_prices_a_model_the_table_does_not_know() -> None:
    both = CostMap.from_setting(
        {"promptCostPerModel": {"my-llm": 0.002}, "completionCostPerModel": {"my-llm": 0.004}}
    )
    assert chat_cost_micros("my-llm", 1500, 500, cost_map=both) == 3_000 + 2_000
    assert has_price("my-llm", both)
    prompt_only = CostMap.from_setting({"promptCostPerModel": {"my-llm": 0.002}})
    assert chat_cost_micros("my-llm", 1500, 500, cost_map=prompt_only) is None


def test_cost_map_embeddings_override() -> None:
    cost_map = CostMap.from_setting({"embeddingsCostPerModel": {"text-embedding-3-small": 0.0001}})
    assert embedding_cost_micros("text-embedding-3-small", 1000, cost_map) == 100
    assert embedding_cost_micros("text-embedding-3-small", 1000) == 20
    custom = CostMap.from_setting({"embeddingsCostPerModel": {"my-embedder": 0.5}})
    assert has_price("my-embedder", custom) and not has_price("my-embedder")


@pytest.mark.parametrize(
    "raw",
    [
        {"promptCostPerModel": {"gpt-4o": -0.01}},
        {"promptCostPerModel": {"gpt-4o": "cheap"}},
        {"promptCostPerModel": {"gpt-4o": True}},
        {"promptCostPerModel": {"gpt-4o": float("nan")}},
        {"completionCostPerModel": ["gpt-4o", 0.01]},
    ],
)
def test_invalid_cost_map_is_refused(raw: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        CostMap.from_setting(raw)


def test_empty_cost_map() -> None:
    assert CostMap.from_setting(None) == CostMap.from_setting({}) == CostMap()


# --- embeddings, audio, speech, images -----------------------------------------------------


@pytest.mark.parametrize(
    ("model", "tokens", "expected"),
    [
        ("text-embedding-3-small", 1000, 20),
        ("text-embedding-3-large", 1000, 130),
        ("text-embedding-ada-002", 1000, 100),
        ("text-embedding-3-small", 1, 1),  # 0.02 micro-dollars, rounded up
    ],
)
def test_embedding_cost(model: str, tokens: int, expected: int) -> None:
    assert embedding_cost_micros(model, tokens) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(60, 6_000), (90.4, 9_000), (90.5, 9_100), (Decimal("0.2"), 0), (1, 100)],
)
def test_transcription_cost_per_second(seconds: float, expected: int) -> None:
    assert audio_transcription_cost_micros("whisper-1", seconds) == expected


def test_transcription_of_unknown_model() -> None:
    assert audio_transcription_cost_micros("my-whisper", 60) is None


def test_speech_cost() -> None:
    assert speech_cost_micros("tts-1", 1000) == 15_000
    assert speech_cost_micros("tts-1-hd", 1000) == 30_000
    assert speech_cost_micros("tts-1", 1) == 15
    assert speech_cost_micros("gpt-4o", 1000) is None


@pytest.mark.parametrize(
    ("model", "size", "quality", "n", "expected"),
    [
        ("dall-e-3", "1024x1024", "standard", 1, 40_000),
        ("dall-e-3", None, None, 1, 40_000),
        ("dall-e-3", "1024x1024", "auto", 1, 40_000),
        ("dall-e-3", "1792x1024", "hd", 2, 240_000),
        ("dall-e-3", "1024x1792", "standard", 3, 240_000),
        ("dall-e-2", "512x512", None, 4, 72_000),
        ("dall-e-2", "256x256", "hd", 1, 16_000),  # dall-e-2 has one quality
        ("dall-e-3", "256x256", "standard", 1, None),
        ("dall-e-3", "1024x1024", "ultra", 1, None),
        ("my-painter", "1024x1024", None, 1, None),
    ],
)
def test_image_cost(
    model: str, size: str | None, quality: str | None, n: int, expected: int | None
) -> None:
    assert image_cost_micros(model, size, quality, n) == expected


# --- has_price -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o", True),
        ("gpt-4o-2024-11-20", True),
        ("ft:gpt-4o-mini-2024-07-18:org::id", True),
        ("text-embedding-3-large", True),
        ("whisper-1", True),
        ("tts-1-hd", True),
        ("dall-e-2", True),
        ("ft:o4-mini-2025-04-16:org::id", False),
        ("my-private-model", False),
    ],
)
def test_has_price(model: str, expected: bool) -> None:
    assert has_price(model) is expected


# --- other providers' tables ---------------------------------------------------------------


def write_table(path: Path, data: dict[str, object]) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_another_provider_table_through_the_same_loader(tmp_path: Path) -> None:
    table = PriceTable.from_file(
        write_table(
            tmp_path / "anthropic_prices.json",
            {
                "provider": "anthropic",
                "prices_as_of": "2025-08-15",
                "chat": {
                    "claude-3-5-haiku": {"prompt": 0.80, "cached_prompt": 0.08, "completion": 4}
                },
            },
        )
    )
    assert table.provider == "anthropic"
    cost = chat_cost_micros("claude-3-5-haiku-20241022", 1000, 1000, 500, table=table)
    assert cost == 400 + 40 + 4_000
    assert chat_cost_micros("gpt-4o", 1000, 1000, table=table) is None
    assert has_price("claude-3-5-haiku", table=table) and not has_price("gpt-4o", table=table)


def test_invalid_price_file_is_refused(tmp_path: Path) -> None:
    bad = write_table(tmp_path / "bad.json", {"chat": {"m": {"prompt": 1}}})  # no completion
    with pytest.raises(ValueError, match="invalid price file"):
        PriceTable.from_file(bad)
    negative = write_table(tmp_path / "neg.json", {"embeddings": {"e": {"prompt": -1}}})
    with pytest.raises(ValueError):
        PriceTable.from_file(negative)


def test_exact_accepts_decimal_text_and_refuses_junk() -> None:
    assert pricing.exact(0.1) == Fraction(1, 10)
    assert pricing.exact("2.50") == Fraction(5, 2)
    assert pricing.exact(Decimal("0.075")) == Fraction(3, 40)
    for junk in (None, "inf", float("inf"), -1, False, [1]):
        with pytest.raises(ValueError):
            pricing.exact(junk)
