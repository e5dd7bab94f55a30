"""Window arithmetic: UTC-aligned fixed units, calendar months, retry-after rounding, window ids."""

from __future__ import annotations

import calendar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.windows import (
    TOTAL_WINDOW,
    seconds_until_window_end,
    window_end,
    window_id,
    window_start,
)


def utc(*parts: int) -> int:
    """Unix time of a UTC date and time: utc(2024, 2, 29, 12, 0, 0)."""
    padded = (*parts, *(0,) * (6 - len(parts)))
    return calendar.timegm((*padded, 0, 0, 0))


NOON = utc(2024, 2, 29, 12, 34, 56)


@pytest.mark.parametrize(
    ("unit", "start", "end"),
    [
        ("s", NOON, NOON + 1),
        ("m", utc(2024, 2, 29, 12, 34), utc(2024, 2, 29, 12, 35)),
        ("h", utc(2024, 2, 29, 12), utc(2024, 2, 29, 13)),
        ("d", utc(2024, 2, 29), utc(2024, 3, 1)),
        ("mo", utc(2024, 2, 1), utc(2024, 3, 1)),
    ],
)
def test_window_bounds_contain_now(unit: str, start: int, end: int) -> None:
    assert window_start(unit, NOON + 0.25) == start
    assert window_end(unit, NOON + 0.25) == end


@pytest.mark.parametrize("unit", ["s", "m", "h", "d", "mo"])
def test_a_window_starts_at_its_first_second_and_ends_exclusively(unit: str) -> None:
    start = window_start(unit, NOON)
    end = window_end(unit, NOON)
    assert window_start(unit, start) == start
    assert window_start(unit, end - 0.001) == start
    assert window_start(unit, end) == end


@pytest.mark.parametrize(
    ("now", "start", "end"),
    [
        (utc(2023, 2, 28, 23, 59, 59), utc(2023, 2, 1), utc(2023, 3, 1)),  # 28-day February
        (utc(2024, 2, 10), utc(2024, 2, 1), utc(2024, 3, 1)),  # leap year
        (utc(2024, 1, 31, 23, 59, 59), utc(2024, 1, 1), utc(2024, 2, 1)),
        (utc(2024, 12, 31, 23, 59, 59), utc(2024, 12, 1), utc(2025, 1, 1)),  # year rollover
        (utc(2025, 1, 1), utc(2025, 1, 1), utc(2025, 2, 1)),
        (utc(2024, 4, 30, 12), utc(2024, 4, 1), utc(2024, 5, 1)),  # 30-day month
    ],
)
def test_calendar_months(now: int, start: int, end: int) -> None:
    assert window_start("mo", now) == start
    assert window_end("mo", now) == end


def test_days_are_utc_midnight_to_midnight() -> None:
    assert window_start("d", utc(2024, 3, 10, 23, 59, 59)) == utc(2024, 3, 10)
    assert window_end("d", utc(2024, 3, 10, 23, 59, 59)) == utc(2024, 3, 11)


@pytest.mark.parametrize(
    ("unit", "now", "expected"),
    [
        ("m", utc(2024, 1, 1, 0, 0, 0), 60),  # a full window at its first second
        ("m", utc(2024, 1, 1, 0, 0, 59), 1),
        ("m", utc(2024, 1, 1, 0, 0, 59) + 0.9, 1),  # rounded up, never 0
        ("m", utc(2024, 1, 1, 0, 0, 30) + 0.5, 30),
        ("s", NOON + 0.999, 1),
        ("h", utc(2024, 1, 1, 0, 59, 0), 60),
        ("mo", utc(2024, 2, 29, 23, 59, 0), 60),
    ],
)
def test_seconds_until_window_end(unit: str, now: float, expected: int) -> None:
    assert seconds_until_window_end(unit, now) == expected


def test_window_ids_name_the_window_and_total_is_permanent() -> None:
    assert window_id("m", NOON) == f"m:{utc(2024, 2, 29, 12, 34)}"
    assert window_id("m", NOON) == window_id("m", utc(2024, 2, 29, 12, 34, 0))
    assert window_id("m", NOON) != window_id("m", NOON + 60)
    assert window_id("h", NOON) != window_id("m", NOON)
    assert window_id(None, 0) == window_id(None, NOON) == TOTAL_WINDOW


def test_unknown_units_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown window unit"):
        window_start("w", NOON)
    with pytest.raises(ValueError, match="unknown window unit"):
        window_end("y", NOON)


@given(
    unit=st.sampled_from(["s", "m", "h", "d", "mo"]),
    now=st.floats(min_value=0, max_value=utc(2200, 1, 1), allow_nan=False),
)
def test_every_instant_lies_in_its_window(unit: str, now: float) -> None:
    start, end = window_start(unit, now), window_end(unit, now)
    assert start <= now < end
    assert window_start(unit, end) == end  # windows tile time without gaps
    assert 1 <= seconds_until_window_end(unit, now) <= end - start
