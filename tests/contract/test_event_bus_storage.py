"""The event bus over the real databases (SQLite and PostgreSQL), including real outages."""

from __future__ import annotations

import threading
import time
import uuid

import psycopg2
import pytest

from app.domain.events import Event
from app.events import EventBus, Journal
from app.storage.database import StorageError
from app.storage.events import EventFilter, EventRepository
from app.storage.migrate import migrate
from app.storage.postgres import PostgresDatabase
from tests.conftest import PG_DB, PG_HOST, PG_USER, pg_dsn


def make_events(count: int, prefix: str = "ev") -> list[Event]:
    return [
        Event(
            id=f"{prefix}-{i:05d}",
            created_at=1_700_000_000 + i,
            key_id="k1",
            cost_micros=i + 1,
            request_body=b"{}" if i % 10 == 0 else None,
        )  # fmt: skip
        for i in range(count)
    ]


def wait_for(condition, timeout: float = 20.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def stored_ids(repository: EventRepository) -> list[str]:
    return [e.id for e in repository.find(EventFilter(), limit=100_000)]


def assert_stored_exactly(repository: EventRepository, events: list[Event]) -> None:
    ids = stored_ids(repository)
    assert len(ids) == len(set(ids)) == len(events)
    assert set(ids) == {e.id for e in events}
    assert repository.total_cost_micros("k1") == sum(e.cost_micros for e in events)


class FlakyRepository:
    """The real repository behind a switch that makes every write fail, as an outage would."""

    def __init__(self, inner: EventRepository) -> None:
        self.inner = inner
        self.down = False

    def insert_many(self, events) -> int:
        if self.down:
            raise StorageError("server closed the connection unexpectedly")
        return self.inner.insert_many(events)


@pytest.fixture
def journal_dir(tmp_path) -> str:
    return str(tmp_path / "journal")


@pytest.fixture
def buses():
    started: list[EventBus] = []
    yield started
    for bus in started:
        bus.drain(2)


def new_bus(buses, repository, journal_dir, **options) -> EventBus:
    bus = EventBus(repository, consumers=3, queue_size=10_000, journal_dir=journal_dir,
                   retry_interval_s=0.1, **options)  # fmt: skip
    buses.append(bus)
    bus.start()
    return bus


def test_a_burst_of_2000_events_is_stored_exactly_once(database, buses, journal_dir):
    repository = EventRepository(database)
    bus = new_bus(buses, repository, journal_dir)
    events = make_events(2000)
    for event in events:
        bus.publish(event)
    assert bus.drain(10) is True
    assert_stored_exactly(repository, events)
    assert bus.stats().written == 2000 and bus.stats().journaled == 0


def test_drain_writes_everything_queued(database, buses, journal_dir):
    repository = EventRepository(database)
    bus = new_bus(buses, repository, journal_dir, flush_interval_s=1.0)
    events = make_events(333)
    for event in events:
        bus.publish(event)
    assert bus.drain(10) is True
    assert_stored_exactly(repository, events)


def test_a_failing_database_loses_nothing_and_doubles_nothing(database, buses, journal_dir):
    repository = EventRepository(database)
    flaky = FlakyRepository(repository)
    bus = new_bus(buses, flaky, journal_dir)
    events = make_events(1200)
    for event in events[:200]:
        bus.publish(event)
    assert wait_for(lambda: bus.stats().written == 200)
    flaky.down = True
    for event in events[200:900]:
        bus.publish(event)
    assert wait_for(lambda: bus.stats().journaled == 700)
    flaky.down = False
    for event in events[900:]:
        bus.publish(event)
    assert wait_for(lambda: len(stored_ids(repository)) == 1200)
    assert bus.drain(10) is True
    assert_stored_exactly(repository, events)


def test_a_journal_left_by_a_previous_process_is_replayed_on_start(database, buses, journal_dir):
    repository = EventRepository(database)
    events = make_events(500, prefix="old")
    previous = Journal(journal_dir)
    previous.append(events[:250])
    previous.append(events[250:])
    previous.close()
    repository.insert_many(events[:100])  # its replay had stored these before it died
    new_bus(buses, repository, journal_dir)
    assert wait_for(lambda: len(stored_ids(repository)) == 500)
    assert_stored_exactly(repository, events)
    assert wait_for(lambda: not list(previous.directory.glob("events-*.jsonl")))


def test_a_value_out_of_its_column_range_is_stored_clamped(database, buses, journal_dir):
    repository = EventRepository(database)
    bus = new_bus(buses, repository, journal_dir)
    events = make_events(50)
    big = Event(id="too-many-tokens", created_at=1_700_000_000, key_id="k1", cost_micros=7,
                prompt_token_count=2**70)  # fmt: skip
    for event in [*events[:20], big, *events[20:]]:
        bus.publish(event)
    assert wait_for(lambda: len(stored_ids(repository)) == 51)
    assert_stored_exactly(repository, [*events, big])
    stored = repository.find(EventFilter(key_ids=["k1"]), limit=1000)
    assert next(e for e in stored if e.id == big.id).prompt_token_count == 2**31 - 1
    assert bus.stats().rejected == 0
    assert bus.drain(10) is True


class PickyRepository:
    """The real repository, refusing (as a data error, the way psycopg2 refuses a value) any row
    whose metadata it does not like."""

    def __init__(self, inner: EventRepository) -> None:
        self.inner = inner

    def insert_many(self, events) -> int:
        if any(e.metadata == {"poison": 1} for e in events):
            raise ValueError("this value cannot be stored")
        return self.inner.insert_many(events)


def test_a_row_the_database_refuses_is_stored_as_a_cleaned_row(database, buses, journal_dir):
    repository = EventRepository(database)
    bus = new_bus(buses, PickyRepository(repository), journal_dir)
    events = make_events(30)
    bad = Event(id="poisoned", created_at=1_700_000_000, key_id="k1", model="gpt-4o",
                cost_micros=1234, user_id="u\u00e9", metadata={"poison": 1})  # fmt: skip
    for event in [*events[:10], bad, *events[10:]]:
        bus.publish(event)
    assert wait_for(lambda: len(stored_ids(repository)) == 31)
    assert_stored_exactly(repository, [*events, bad])
    stored = next(e for e in repository.find(EventFilter(), limit=1000) if e.id == bad.id)
    assert (stored.cost_micros, stored.user_id, stored.metadata) == (1234, "u\\xe9", None)
    assert "stored as a cleaned row" in stored.error
    assert bus.stats().rejected == 0
    assert bus.drain(10) is True


@pytest.fixture
def pg_admin(pg_schema):
    conn = psycopg2.connect(host=PG_HOST, user=PG_USER, dbname=PG_DB, connect_timeout=3)
    conn.autocommit = True
    yield conn
    conn.close()


def publish_during(bus: EventBus, events: list[Event], seconds: float) -> None:
    """Spread the events over `seconds`, as live traffic would arrive."""
    pause = seconds / len(events)
    for event in events:
        bus.publish(event)
        time.sleep(pause)


@pytest.mark.postgres
def test_a_real_postgres_outage_loses_and_doubles_nothing(postgres_db, pg_schema, pg_admin, buses,
                                                          journal_dir):  # fmt: skip
    repository = EventRepository(postgres_db)
    bus = new_bus(buses, repository, journal_dir)
    events = make_events(1500)
    publish_during(bus, events[:300], 0.5)
    assert wait_for(lambda: bus.stats().written == 300)
    pg_admin.cursor().execute(f"ALTER TABLE {pg_schema}.events RENAME TO events_off")
    try:
        publish_during(bus, events[300:1000], 2.0)  # every write now fails for real
        assert wait_for(lambda: bus.stats().journaled == 700)
    finally:
        pg_admin.cursor().execute(f"ALTER TABLE {pg_schema}.events_off RENAME TO events")
    publish_during(bus, events[1000:], 1.0)
    assert wait_for(lambda: len(stored_ids(repository)) == 1500)
    assert bus.drain(10) is True
    assert_stored_exactly(repository, events)
    stats = bus.stats()
    assert stats.journaled >= 700 and stats.written + stats.replayed == 1500


@pytest.mark.postgres
def test_postgres_connections_killed_mid_write_lose_and_double_nothing(pg_schema, pg_admin, buses,
                                                                      journal_dir):  # fmt: skip
    app_name = f"bus-{uuid.uuid4().hex[:8]}"
    db = PostgresDatabase({**pg_dsn(pg_schema), "application_name": app_name}, pool_size=5)
    migrate(db)
    repository = EventRepository(db)
    bus = new_bus(buses, repository, journal_dir, batch_size=20)
    events = make_events(1500)
    killing = threading.Event()

    def kill_connections() -> None:
        while not killing.is_set():
            pg_admin.cursor().execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                (app_name,),
            )
            time.sleep(0.05)

    killer = threading.Thread(target=kill_connections)
    killer.start()
    try:
        publish_during(bus, events, 2.0)
    finally:
        killing.set()
        killer.join()
    assert wait_for(lambda: len(stored_ids(repository)) == 1500)
    assert bus.drain(10) is True
    assert_stored_exactly(repository, events)
    assert bus.stats().journaled > 0  # the kills did break writes
    db.close()
