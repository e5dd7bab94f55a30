"""Event retention on both backends: old events and their bodies go, in batches; recent ones stay;
the admin process runs it in the background only when EVENT_RETENTION_DAYS is set."""

from __future__ import annotations

import time

import pytest

from app import create_app, shutdown
from app.config import ConfigError, Settings
from app.domain.events import Event
from app.services.retention import DAY_S, EventRetention
from app.storage.events import EventFilter, EventRepository

NOW = 1_800_000_000


def stored_ids(database) -> list[str]:
    return sorted(row["id"] for row in database.query("SELECT id FROM events"))


def body_ids(database) -> list[str]:
    return sorted(row["event_id"] for row in database.query("SELECT event_id FROM event_bodies"))


def seed(database) -> None:
    EventRepository(database).insert_many([
        *(Event(id=f"old-{i}", created_at=NOW - 8 * DAY_S - i, request_body=b"{}") for i in range(5)),
        Event(id="edge", created_at=NOW - 7 * DAY_S, request_body=b"{}"),
        Event(id="new", created_at=NOW - 60, response_body=b"{}"),
    ])  # fmt: skip


def test_old_events_and_their_bodies_go_in_batches(database):
    seed(database)
    retention = EventRetention(EventRepository(database), days=7, batch_size=2, pause_s=0)
    assert retention.run_once(now=NOW) == 5
    assert stored_ids(database) == ["edge", "new"]
    assert body_ids(database) == ["edge", "new"]
    assert retention.run_once(now=NOW) == 0


def test_one_batch_deletes_the_oldest_first(database):
    seed(database)
    deleted = EventRepository(database).delete_older_than(NOW - 7 * DAY_S, batch_size=2)
    assert deleted == 2
    assert "old-4" not in stored_ids(database) and "old-3" not in stored_ids(database)
    assert EventRepository(database).count(EventFilter()) == 5


def test_the_admin_app_runs_it_in_the_background_when_configured(database):
    EventRepository(database).insert_many([
        Event(id="ancient", created_at=int(time.time()) - 30 * DAY_S),
        Event(id="fresh", created_at=int(time.time())),
    ])  # fmt: skip
    app = create_app("admin", Settings(event_retention_days=7), database)
    try:
        deadline = time.monotonic() + 10
        while stored_ids(database) != ["fresh"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert stored_ids(database) == ["fresh"]
    finally:
        shutdown(app)
    assert create_app("admin", Settings(), database).extensions["bricks"].retention is None


def test_the_setting_is_read_and_checked():
    assert Settings.from_env({}).event_retention_days == 0
    assert Settings.from_env({"EVENT_RETENTION_DAYS": "30"}).event_retention_days == 30
    with pytest.raises(ConfigError, match="EVENT_RETENTION_DAYS"):
        Settings.from_env({"EVENT_RETENTION_DAYS": "-1"})
