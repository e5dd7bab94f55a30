"""percentile_cont over a histogram: PostgreSQL's definition, edge cases included."""

from __future__ import annotations

from app.domain.stats import percentile_cont


def test_no_values_is_zero():
    assert percentile_cont([], 0.5) == 0.0


def test_one_value_is_every_percentile():
    assert percentile_cont([(42.0, 1)], 0.0) == percentile_cont([(42.0, 1)], 0.99) == 42.0


def test_interpolates_between_neighbouring_ranks():
    assert percentile_cont([(10.0, 1), (20.0, 1)], 0.5) == 15.0
    assert (
        percentile_cont([(5.0, 1), (50.0, 1), (100.0, 1), (300.0, 1), (1000.0, 1)], 0.99) == 972.0
    )


def test_counts_stand_for_repeated_values():
    assert percentile_cont([(10.0, 3), (20.0, 1)], 0.5) == 10.0
    assert percentile_cont([(10.0, 3), (20.0, 1)], 1.0) == 20.0
