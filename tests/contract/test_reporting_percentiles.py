"""Latency percentiles: the histogram interpolation equals PostgreSQL's own percentile_cont, so
SQLite and PostgreSQL answer the same numbers."""

from __future__ import annotations

import random

import pytest

from app.domain.events import Event
from app.storage.events import EventFilter, EventRepository
from app.storage.reporting import ReportingRepository

FRACTIONS = (0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0)


@pytest.mark.postgres
def test_equal_to_postgres_percentile_cont(postgres_db):
    rng = random.Random(7)
    latencies = [int(rng.expovariate(1 / 400)) for _ in range(2001)] + [5] * 50
    EventRepository(postgres_db).insert_many(
        [Event(id=f"e{i}", created_at=1000 + i, latency_in_ms=v) for i, v in enumerate(latencies)]
    )
    ours = ReportingRepository(postgres_db).latency_percentiles(EventFilter(), FRACTIONS)
    columns = ", ".join(
        f"percentile_cont({f}) WITHIN GROUP (ORDER BY latency_in_ms) AS p{i}"
        for i, f in enumerate(FRACTIONS)
    )
    row = postgres_db.query(f"SELECT {columns} FROM events")[0]
    assert ours == [row[f"p{i}"] for i in range(len(FRACTIONS))]


def test_both_backends_answer_the_same_for_the_same_events(database):
    rng = random.Random(11)
    EventRepository(database).insert_many(
        [Event(id=f"e{i}", created_at=1000 + i, latency_in_ms=rng.randrange(0, 3000))
         for i in range(777)]
    )  # fmt: skip
    values = sorted(r["latency_in_ms"] for r in database.query("SELECT latency_in_ms FROM events"))
    expected = []
    for f in FRACTIONS:  # the textbook definition over the sorted list
        position = f * (len(values) - 1)
        low = int(position)
        high = min(low + 1, len(values) - 1)
        expected.append(values[low] + (values[high] - values[low]) * (position - low))
    assert ReportingRepository(database).latency_percentiles(EventFilter(), FRACTIONS) == expected
