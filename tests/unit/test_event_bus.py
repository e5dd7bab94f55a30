"""The event bus against an in-memory repository: exactly once, drain, outages, the journal."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from app.domain.events import Event
from app.events import EventBus, Journal
from app.events.codec import decode, encode
from app.storage.database import StorageError


class FakeRepository:
    """Idempotent by id like EventRepository; can be down, hang, or refuse one event id."""

    def __init__(self) -> None:
        self.stored: dict[str, Event] = {}
        self.stored_times: Counter[str] = Counter()  # ids a successful insert_many carried
        self.down = False
        self.refused_ids: set[str] = set()
        self.hang: threading.Event | None = None
        self._lock = threading.Lock()

    def insert_many(self, events) -> int:
        if self.hang is not None:
            self.hang.wait(10)
        if self.down:
            raise StorageError("connection refused")
        if any(e.id in self.refused_ids for e in events):
            raise ValueError("A string literal cannot contain NUL (0x00) characters.")
        with self._lock:
            new = [e for e in events if e.id not in self.stored]
            for event in events:
                self.stored_times[event.id] += 1
            self.stored.update((e.id, e) for e in new)
        return len(new)


def make_events(count: int, prefix: str = "ev") -> list[Event]:
    return [
        Event(id=f"{prefix}-{i:05d}", created_at=1_700_000_000 + i, key_id="k1", cost_micros=i)
        for i in range(count)
    ]


def wait_for(condition, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def journal_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("events-*.jsonl"))


def journaled_ids(directory: Path) -> list[str]:
    return [
        decode(line).id
        for path in journal_files(directory)
        for line in path.read_bytes().splitlines()
    ]


@pytest.fixture
def repo() -> FakeRepository:
    return FakeRepository()


@pytest.fixture
def make_bus(repo, tmp_path):
    buses: list[EventBus] = []

    def build(repository=None, **options) -> EventBus:
        options = {"consumers": 3, "queue_size": 10_000, "journal_dir": str(tmp_path / "journal"),
                   "retry_interval_s": 0.05, **options}  # fmt: skip
        bus = EventBus(repository or repo, **options)
        buses.append(bus)
        return bus

    yield build
    for bus in buses:
        bus.drain(2)


def test_a_burst_of_2000_events_is_stored_exactly_once(repo, make_bus):
    bus = make_bus(consumers=3)
    bus.start()
    events = make_events(2000)
    publishers = [
        threading.Thread(target=lambda chunk=events[i::4]: [bus.publish(e) for e in chunk])
        for i in range(4)
    ]
    for thread in publishers:
        thread.start()
    for thread in publishers:
        thread.join()
    assert bus.drain(5) is True
    assert set(repo.stored) == {e.id for e in events}
    assert set(repo.stored_times.values()) == {1}
    stats = bus.stats()
    assert (stats.queued, stats.written, stats.journaled, stats.lost) == (2000, 2000, 0, 0)


def test_drain_writes_everything_queued_before_returning(repo, make_bus):
    bus = make_bus(consumers=2, flush_interval_s=0.5)  # batches would otherwise wait to fill
    bus.start()
    for event in make_events(450):
        bus.publish(event)
    assert bus.drain(5) is True
    assert len(repo.stored) == 450
    assert bus.stats().pending == 0 and bus.stats().journaled == 0


def test_an_outage_loses_nothing_and_doubles_nothing(repo, make_bus, tmp_path):
    bus = make_bus()
    bus.start()
    events = make_events(1500)
    for event in events[:300]:
        bus.publish(event)
    assert wait_for(lambda: len(repo.stored) == 300)
    repo.down = True
    for event in events[300:1200]:  # published while the database is down
        bus.publish(event)
        if event.id.endswith("0"):
            time.sleep(0.001)
    assert wait_for(lambda: bus.stats().journaled == 900)
    assert len(repo.stored) == 300
    repo.down = False
    for event in events[1200:]:
        bus.publish(event)
    assert wait_for(lambda: len(repo.stored) == 1500)
    assert bus.drain(5) is True
    assert set(repo.stored) == {e.id for e in events}
    assert set(repo.stored_times.values()) == {1}  # no event went in twice
    assert bus.stats().replayed == bus.stats().journaled >= 900
    assert journal_files(tmp_path / "journal") == []


def test_events_published_while_the_database_is_down_flow_to_the_journal(repo, make_bus):
    repo.down = True
    bus = make_bus(queue_size=50)
    bus.start()
    for event in make_events(1000):
        bus.publish(event)
    assert bus.drain(5) is True
    stats = bus.stats()
    assert stats.journaled == 1000 and stats.written == 0 and stats.lost == 0


def test_publish_does_not_wait_on_a_hung_database(repo, make_bus):
    repo.hang = threading.Event()  # every write hangs, like a database that stopped answering
    bus = make_bus(queue_size=50, consumers=2)
    bus.start()
    started = time.monotonic()
    for event in make_events(200):
        bus.publish(event)
    assert time.monotonic() - started < 5  # the writes hang for 10 s
    assert bus.stats().queued + bus.stats().journaled == 200
    repo.hang.set()
    repo.hang = None
    assert wait_for(lambda: len(repo.stored) == 200)
    assert set(repo.stored_times.values()) == {1}


def test_a_full_queue_sends_events_to_the_journal_not_the_floor(repo, make_bus, tmp_path):
    bus = make_bus(queue_size=10)  # not started: nothing takes from the queue yet
    events = make_events(25)
    for event in events:
        bus.publish(event)
    assert bus.stats().queued == 10 and bus.stats().journaled == 15
    assert journaled_ids(tmp_path / "journal") == [e.id for e in events[10:]]
    bus.start()
    assert wait_for(lambda: len(repo.stored) == 25)
    assert set(repo.stored_times.values()) == {1}


def test_a_journal_left_by_a_previous_process_is_replayed_on_start(repo, make_bus, tmp_path):
    previous = Journal(str(tmp_path / "journal"))
    events = make_events(450, prefix="old")
    previous.append(events[:200])
    previous.append(events[200:])
    previous.close()  # the previous process ended (or died: the kernel drops its lock)
    repo.insert_many(events[:120])  # it had replayed part of it before it died
    bus = make_bus()
    bus.start()
    assert wait_for(lambda: len(repo.stored) == 450)
    assert wait_for(lambda: journal_files(tmp_path / "journal") == [])
    assert repo.stored["old-00007"] == events[7]


def test_a_torn_last_line_is_set_aside_and_the_rest_replayed(repo, make_bus, tmp_path):
    directory = tmp_path / "journal"
    directory.mkdir()
    events = make_events(3)
    torn = encode(make_events(4)[3])[:30]  # the process died in the middle of a write
    (directory / "events-999-dead.jsonl").write_bytes(b"".join(map(encode, events)) + torn)
    bus = make_bus()
    bus.start()
    assert wait_for(lambda: len(repo.stored) == 3)
    assert wait_for(lambda: journal_files(directory) == [])
    assert [p.read_bytes() for p in directory.glob("rejected-*.jsonl")] == [torn + b"\n"]


def test_a_file_still_written_by_a_live_process_is_not_taken(repo, make_bus, tmp_path):
    other = Journal(str(tmp_path / "journal"))  # another worker, alive, holding its lock
    other.append(make_events(5, prefix="live"))
    bus = make_bus()
    bus.start()
    time.sleep(0.3)
    assert repo.stored == {}
    other.seal()  # it closes the file (or dies): now it is anybody's to replay
    assert wait_for(lambda: len(repo.stored) == 5)
    other.close()


def test_an_event_the_database_refuses_is_set_aside_without_blocking_the_rest(
    repo, make_bus, tmp_path
):
    events = make_events(300)
    repo.refused_ids = {events[42].id}
    bus = make_bus()
    bus.start()
    for event in events:
        bus.publish(event)
    assert wait_for(lambda: len(repo.stored) == 299)
    assert wait_for(lambda: bus.stats().rejected == 1)
    rejected = list((tmp_path / "journal").glob("rejected-*.jsonl"))
    assert [decode(line).id for line in rejected[0].read_bytes().splitlines()] == [events[42].id]
    later = make_events(10, prefix="later")
    for event in later:  # the bus is not stuck in outage mode
        bus.publish(event)
    assert wait_for(lambda: len(repo.stored) == 309)


def test_drain_during_an_outage_journals_and_a_new_process_stores_it(repo, make_bus, tmp_path):
    repo.down = True
    bus = make_bus()
    bus.start()
    events = make_events(700)
    for event in events:
        bus.publish(event)
    assert bus.drain(3) is True
    assert sorted(journaled_ids(tmp_path / "journal")) == [e.id for e in events]
    repo.down = False
    successor = make_bus()
    successor.start()
    assert wait_for(lambda: len(repo.stored) == 700)
    assert set(repo.stored_times.values()) == {1}


def test_drain_journals_a_write_that_hangs_past_the_timeout(repo, make_bus, tmp_path):
    repo.hang = threading.Event()
    bus = make_bus(consumers=1)
    bus.start()
    for event in make_events(50):
        bus.publish(event)
    time.sleep(0.2)  # the consumer is now inside insert_many
    started = time.monotonic()
    assert bus.drain(0.5) is True
    assert time.monotonic() - started < 2
    assert len(set(journaled_ids(tmp_path / "journal"))) == 50
    repo.hang.set()  # the hung write completes after all: replay must not double it
    repo.hang = None
    successor = make_bus()
    successor.start()
    assert wait_for(lambda: journal_files(tmp_path / "journal") == [])
    assert len(repo.stored) == 50


def test_events_published_after_drain_are_journaled(repo, make_bus, tmp_path):
    bus = make_bus()
    bus.start()
    assert bus.drain(2) is True
    bus.publish(make_events(1, prefix="late")[0])
    assert journaled_ids(tmp_path / "journal") == ["late-00000"]


def test_publish_never_raises_even_when_the_journal_cannot_be_written(repo, make_bus, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    bus = make_bus(queue_size=1, journal_dir=str(blocker / "journal"))
    for event in make_events(3):
        bus.publish(event)
    assert bus.stats().lost == 2
    assert bus.drain(1) is False


def test_the_journal_line_round_trips_every_field():
    event = Event(
        id="e1", created_at=1, key_id="k", tags=("a", "b"), provider="openai", model="gpt-4o",
        path="/v1/chat/completions", method="POST", status=200, cost_micros=12, prompt_token_count=3,
        completion_token_count=4, latency_in_ms=5, custom_id="c", user_id="u", policy_id="p",
        action="redacted", route_id="r", token_count_source="local", error="boom",
        metadata={"x": [1, "\u00e9"]}, request_body=b"\x00\xffbinary", response_body=b"{}",
    )  # fmt: skip
    line = encode(event)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert decode(line) == event


REPO_ROOT = Path(__file__).resolve().parents[2]

_WRITER = """
import sys, time
from app.domain.events import Event
from app.events import Journal
journal = Journal(sys.argv[1])
journal.append([Event(id=f"dead-{i}", created_at=1) for i in range(40)])
print("ready", flush=True)
time.sleep(60)
"""


def test_the_journal_of_a_killed_process_is_taken_over(repo, make_bus, tmp_path):
    directory = tmp_path / "journal"
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(directory)], cwd=REPO_ROOT,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        bus = make_bus()
        bus.start()
        time.sleep(0.3)
        assert repo.stored == {}  # its owner is alive: the file is not ours to take
        writer.kill()  # SIGKILL: no cleanup ran, the kernel dropped its lock
        writer.wait(5)
        assert wait_for(lambda: len(repo.stored) == 40)
        assert wait_for(lambda: journal_files(directory) == [])
    finally:
        writer.kill()
        writer.wait(5)
        writer.stdout.close()


_UNDER_GEVENT = """
from gevent import monkey
monkey.patch_all()
import json, sys, time
import gevent
from app.domain.events import Event
from app.events import EventBus
from app.storage.database import StorageError

class Repository:
    def __init__(self):
        self.stored, self.runners, self.down_until = {}, set(), time.monotonic() + 0.3
    def insert_many(self, events):
        self.runners.add(type(gevent.getcurrent()).__name__)
        time.sleep(0.002)  # patched: yields to other greenlets like a database round trip
        if time.monotonic() < self.down_until:
            raise StorageError("down")
        for e in events:
            self.stored[e.id] = self.stored.get(e.id, 0) + 1
        return len(events)

repository = Repository()
bus = EventBus(repository, consumers=3, queue_size=100, journal_dir=sys.argv[1],
               retry_interval_s=0.05)
bus.start()
ticks = []
ticker = gevent.spawn(lambda: [ticks.append(gevent.sleep(0.01)) for _ in range(30)])
for i in range(2000):
    bus.publish(Event(id=f"g-{i}", created_at=1))
    if i % 50 == 0:
        gevent.sleep(0.001)
deadline = time.monotonic() + 10
while len(repository.stored) < 2000 and time.monotonic() < deadline:
    gevent.sleep(0.01)
drained = bus.drain(5)
ticker.join(5)
print(json.dumps({"drained": drained, "stored": len(repository.stored),
                  "max_times": max(repository.stored.values()), "runners": sorted(repository.runners),
                  "ticks": len(ticks), "journaled": bus.stats().journaled}))
"""


def test_under_gevent_monkey_patching_the_consumers_are_greenlets(tmp_path):
    result = subprocess.run([sys.executable, "-c", _UNDER_GEVENT, str(tmp_path / "journal")],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["drained"] is True
    assert report["stored"] == 2000 and report["max_times"] == 1
    assert report["runners"] == ["Greenlet"]  # patched threads: no OS thread ever wrote
    assert report["journaled"] > 0  # the 0.3 s outage went through the journal
    assert report["ticks"] == 30  # the hub kept serving other greenlets throughout
