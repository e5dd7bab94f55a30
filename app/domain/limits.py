"""Rules for rate and spend limits shared by keys and users: units, pairs, non-negative values."""

from __future__ import annotations

RATE_UNITS = ("s", "m", "h", "d")
COST_UNITS = ("m", "h", "d", "mo")


def limit_pair_errors(values: dict[str, object]) -> dict[str, str]:
    """Field -> message for limit amounts given without their unit, or units without amounts.

    `values` uses the wire names; a zero or missing amount means "no limit" (BricksLLM's meaning).
    """
    errors: dict[str, str] = {}
    pairs = (
        ("costLimitInUsdOverTime", "costLimitInUsdUnit"),
        ("rateLimitOverTime", "rateLimitUnit"),
    )
    for amount_name, unit_name in pairs:
        amount, unit = values.get(amount_name), values.get(unit_name)
        if amount and not unit:
            errors[unit_name] = f"required when {amount_name} is set"
        elif unit and not amount:
            errors[amount_name] = f"required when {unit_name} is set"
    return errors
