"""Money as integer micro-dollars below the JSON boundary; USD floats only at the edges."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

MICROS_PER_USD = 1_000_000


def usd_to_micros(usd: float | int | None) -> int | None:
    """Convert a JSON dollar amount to micro-dollars, rounding half up (0.25 -> 250000)."""
    if usd is None:
        return None
    return int((Decimal(str(usd)) * MICROS_PER_USD).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def micros_to_usd(micros: int | None) -> float | None:
    """Micro-dollars back to a JSON dollar amount."""
    return None if micros is None else micros / MICROS_PER_USD
