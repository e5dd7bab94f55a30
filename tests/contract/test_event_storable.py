"""Events carrying what PostgreSQL refuses (NUL, lone surrogates, huge numbers) are stored and
reported, the same way on both databases (the rule of app.storage.storable)."""

from __future__ import annotations

from app.domain.events import Event
from app.storage.events import EventFilter, EventRepository
from app.storage.reporting import ReportingRepository

NUL = "\x00"


def hostile_events() -> list[Event]:
    return [
        Event(id="e1", created_at=1_700_000_000, key_id="k1", user_id=f"al{NUL}ice",
              model=f"gpt{NUL}-4o", cost_micros=55_000, path=f"/api/{NUL}x",
              custom_id=f"c{NUL}", tags=(f"t{NUL}",), metadata={f"k{NUL}": [f"v{NUL}", 1]},
              request_body=b'{"user": "al\\u0000ice"}'),
        Event(id="e2", created_at=1_700_000_001, key_id="k1", user_id="bob\ud800",
              model="gpt-4o", cost_micros=55_000, error=f"oops{NUL}",
              metadata={"nested": {"deep": f"{NUL}\udfff"}}),
        Event(id="e3", created_at=1_700_000_002, key_id="k1", user_id="carol",
              model="gpt-4o", cost_micros=55_000, latency_in_ms=2**40),
    ]  # fmt: skip


def test_every_event_is_stored_with_the_unstorable_characters_replaced(database):
    events = EventRepository(database)
    assert events.insert_many(hostile_events()) == 3
    stored = {e.id: e for e in events.find(EventFilter(key_ids=["k1"]))}
    assert sorted(stored) == ["e1", "e2", "e3"]
    first, second = stored["e1"], stored["e2"]
    assert (first.user_id, first.model, first.path) == (
        "al\ufffdice",
        "gpt\ufffd-4o",
        "/api/\ufffdx",
    )
    assert (first.custom_id, first.tags) == ("c\ufffd", ("t\ufffd",))
    assert first.metadata == {"k\ufffd": ["v\ufffd", 1]}
    assert first.request_body == b'{"user": "al\\u0000ice"}'  # bodies are bytes, kept verbatim
    assert (second.user_id, second.error) == ("bob\ufffd", "oops\ufffd")
    assert second.metadata == {"nested": {"deep": "\ufffd\ufffd"}}
    assert stored["e3"].latency_in_ms == 2**31 - 1


def test_the_spend_of_those_events_is_reported(database):
    EventRepository(database).insert_many(hostile_events())
    reports = ReportingRepository(database)
    assert EventRepository(database).total_cost_micros("k1") == 165_000
    assert sorted(reports.distinct_ids("user_id", "k1")) == ["al\ufffdice", "bob\ufffd", "carol"]
    by_user = reports.buckets(
        EventFilter(start=1_699_999_000, end=1_700_001_000), 3600, group_by=["userId"]
    )
    assert sum(b.cost_micros for b in by_user) == 165_000
    assert len(by_user) == 3


def test_a_filter_with_a_nul_finds_the_events_stored_under_the_rule(database):
    events = EventRepository(database)
    events.insert_many(hostile_events())
    found = events.find(EventFilter(user_ids=[f"al{NUL}ice"], tags=[f"t{NUL}"]))
    assert [e.id for e in found] == ["e1"]
    assert events.count(EventFilter(custom_ids=[f"c{NUL}"])) == 1
