"""Budgets hold without max_tokens: a generation that sets no output bound is estimated at its
model's maximum output (price data), and a refusal caused by that names the bound that fits."""

from __future__ import annotations

import json

import pytest

from app.providers.base import Operation, OperationKind, Usage
from app.providers.costs import Pricer
from app.providers.pricing import DATA_DIR, builtin_prices, max_output_tokens
from app.providers.tokens import TokenCounter
from app.proxy.output_hint import largest_fitting_output, unbounded_output_hint

CHAT = Operation(OperationKind.CHAT, "/v1/chat/completions")
EMBED = Operation(OperationKind.EMBEDDINGS, "/v1/embeddings")
TABLE = builtin_prices("openai")
MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def pricer() -> Pricer:
    return Pricer(TokenCounter())


@pytest.mark.parametrize("provider", ["openai", "anthropic", "deepinfra"])
def test_every_chat_model_of_the_price_data_carries_its_maximum_output(provider):
    data = json.loads((DATA_DIR / f"{provider}_prices.json").read_text())
    table = builtin_prices(provider)
    for model in data["chat"]:
        assert max_output_tokens(model, table=table) >= 1024, model  # computer-use-preview: 1024


def test_without_a_bound_the_output_is_estimated_at_the_model_maximum(pricer):
    unbounded = pricer.estimate(CHAT, "gpt-4o-mini", {"messages": MESSAGES}, 40, None, TABLE)
    prompt = pricer.prompt_tokens(CHAT, "gpt-4o-mini", {"messages": MESSAGES}, 40)
    full = pricer.cost(CHAT, "gpt-4o-mini", Usage(prompt, 16384), None, None, TABLE)
    assert unbounded == full
    # dated snapshots and fine-tunes resolve to their entry, as their prices do
    assert max_output_tokens("gpt-4o-mini-2024-07-18", table=TABLE) == 16384


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens", "max_output_tokens"])
def test_a_bound_given_by_any_api_name_is_what_is_estimated(pricer, field):
    body = {"messages": MESSAGES, field: 100}
    prompt = pricer.prompt_tokens(CHAT, "gpt-4o-mini", body, 40)
    expected = pricer.cost(CHAT, "gpt-4o-mini", Usage(prompt, 100), None, None, TABLE)
    assert pricer.estimate(CHAT, "gpt-4o-mini", body, 40, None, TABLE) == expected


def test_the_lighter_setting_estimates_the_prompt_only(pricer):
    light = Pricer(TokenCounter(), reserve_max_output=False)
    body = {"messages": MESSAGES}
    prompt = light.prompt_tokens(CHAT, "gpt-4o-mini", body, 40)
    only_prompt = light.cost(CHAT, "gpt-4o-mini", Usage(prompt, 0), None, None, TABLE)
    assert light.estimate(CHAT, "gpt-4o-mini", body, 40, None, TABLE) == only_prompt
    assert pricer.estimate(CHAT, "gpt-4o-mini", body, 40, None, TABLE) > only_prompt


def test_embeddings_and_unknown_models_reserve_no_output(pricer):
    body = {"input": "hi"}
    prompt = pricer.prompt_tokens(EMBED, "text-embedding-3-small", body, 20)
    expected = pricer.cost(EMBED, "text-embedding-3-small", Usage(prompt), None, None, TABLE)
    assert pricer.estimate(EMBED, "text-embedding-3-small", body, 20, None, TABLE) == expected
    assert max_output_tokens("my-vllm-model", table=TABLE) is None


def test_the_largest_fitting_output_is_exact(pricer):
    budget = 2_000  # micro-dollars; gpt-4o-mini output costs 0.6 micro-dollars a token
    fitting = largest_fitting_output(pricer, CHAT, "gpt-4o-mini", 10, None, TABLE, budget, 16384)

    def cost(n: int) -> int:
        return pricer.cost(CHAT, "gpt-4o-mini", Usage(10, n), None, None, TABLE)

    assert cost(fitting) <= budget < cost(fitting + 1)
    assert (
        largest_fitting_output(pricer, CHAT, "gpt-4o-mini", 10**9, None, TABLE, budget, 16384) == -1
    )


def test_the_hint_names_the_bound_only_when_the_output_is_the_reason(pricer):
    body = {"messages": MESSAGES}
    hint = unbounded_output_hint(pricer, CHAT, "gpt-4o-mini", body, 40, None, TABLE, 2_000)
    assert "set max_tokens" in hint and "16384 tokens" in hint and "$0.002000 left" in hint
    bounded = {"messages": MESSAGES, "max_tokens": 100_000}
    assert unbounded_output_hint(pricer, CHAT, "gpt-4o-mini", bounded, 40, None, TABLE, 2_000) == ""
    assert unbounded_output_hint(pricer, CHAT, "gpt-4o-mini", body, 40, None, TABLE, 0) == ""
    assert unbounded_output_hint(pricer, CHAT, "my-vllm", body, 40, None, TABLE, 2_000) == ""


def test_a_long_streamed_answer_is_counted_in_slices_close_to_the_exact_count(pricer):
    parts = ["hello world, " * 40, "Ünïcödé text and émojis 🙂 " * 30] * 300  # 400,000 characters
    exact = pricer.tokens.count_text("gpt-4o-mini", "".join(parts))
    pauses = []
    sliced = pricer.tokens.count_text_in_slices("gpt-4o-mini", "".join(parts), 64 * 1024,
                                                lambda: pauses.append(1))  # fmt: skip
    assert len(pauses) >= 6  # the hub was let go between slices
    assert abs(sliced - exact) <= len(pauses)
    assert pricer.completion_tokens("gpt-4o-mini", parts) == sliced
