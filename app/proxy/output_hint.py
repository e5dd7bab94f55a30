"""What a request refused by a cost limit only because its unbounded output does not fit is told:
the `max_tokens` that would fit the budget left.

A request without an output bound is reserved at the model's maximum output (`Pricer.estimate`).
When that is what makes a cost limit refuse it (its prompt alone would fit), the refusal names the
largest bound that fits what is left of the limit, counted against the settled spend (open
reservations of concurrent requests may still take some of it).
"""

from __future__ import annotations

from typing import Any

from app.domain.entities import ProviderSetting
from app.providers.base import Operation, Usage
from app.providers.costs import Pricer, output_bound
from app.providers.pricing import PriceTable, max_output_tokens


def largest_fitting_output(
    pricer: Pricer, operation: Operation, model: str, prompt_tokens: int,
    setting: ProviderSetting | None, table: PriceTable, budget_micros: int, ceiling: int,
) -> int:  # fmt: skip
    """The largest output bound in [0, ceiling] whose cost with the prompt fits the budget; -1
    when not even the prompt alone fits. Cost grows with the output: a binary search."""

    def fits(output: int) -> bool:
        usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=output)
        return pricer.cost(operation, model, usage, setting, None, table) <= budget_micros

    if not fits(0):
        return -1
    low, high = 0, ceiling
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


def unbounded_output_hint(
    pricer: Pricer, operation: Operation, model: str, body: dict[str, Any] | None,
    raw_size: int, setting: ProviderSetting | None, table: PriceTable, budget_micros: int,
) -> str:  # fmt: skip
    """The sentence to add to a cost-limit refusal, or "" when the output bound is not the reason
    (the request sets one, the model's maximum is unknown, or its prompt alone does not fit)."""
    if body is None or output_bound(body) is not None or not pricer.reserve_max_output:
        return ""
    ceiling = max_output_tokens(model, table=table)
    if not ceiling:
        return ""
    prompt = pricer.prompt_tokens(operation, model, body, raw_size)
    fitting = largest_fitting_output(
        pricer, operation, model, prompt, setting, table, budget_micros, ceiling
    )
    if fitting < 1:
        return ""
    return (
        f"; the request sets no max_tokens, so its output is reserved at the model's maximum "
        f"({ceiling} tokens): set max_tokens (or max_completion_tokens; max_output_tokens on the "
        f"Responses API) to at most {fitting} to fit the ${budget_micros / 1e6:.6f} left"
    )
