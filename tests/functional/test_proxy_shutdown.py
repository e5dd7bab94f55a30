"""SIGTERM with streams in flight: every stream completes and every request leaves exactly one
event, written before the worker exits."""

from __future__ import annotations

import signal
import threading
import time

import pytest
import requests

from app.storage.events import EventFilter, EventRepository
from app.storage.sqlite import SqliteDatabase
from tests.functional.proxy_env import running_proxy

pytestmark = pytest.mark.slow
STREAMS = 200


def test_sigterm_with_200_streams_in_flight_leaves_one_event_per_request(tmp_path):
    with running_proxy(tmp_path, GUNICORN_GRACEFUL_TIMEOUT="20") as env:
        upstream, gateway = env.upstream, env.gateway
        upstream.configure(chunk_count=40, chunk_delay_s=0.05)  # each stream lasts about 2 s
        key = env.create_key()
        key_id = env.last_key["keyId"]
        bodies: list[str] = []
        lock = threading.Lock()

        def stream() -> None:
            response = requests.post(
                f"{env.base_url}/chat/completions",
                json={"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "hi"}]},
                headers={"Authorization": f"Bearer {key}"}, timeout=60,
            )  # fmt: skip
            with lock:
                bodies.append(response.text)

        threads = [threading.Thread(target=stream) for _ in range(STREAMS)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 20
        while len(upstream.requests) < STREAMS and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(upstream.requests) == STREAMS
        code, output = gateway.stop(signal.SIGTERM, timeout=60)
        for thread in threads:
            thread.join(30)

    assert code == 0, output[-2000:]
    assert len(bodies) == STREAMS and all(body.rstrip().endswith("data: [DONE]") for body in bodies)
    db = SqliteDatabase(env.sqlite_path)
    events = EventRepository(db).find(EventFilter(key_ids=[key_id]), limit=10_000)
    db.close()
    assert len(events) == STREAMS and len({e.id for e in events}) == STREAMS
    assert {e.status for e in events} == {200}


def test_streams_longer_than_the_grace_period_are_cut_with_an_error_event_and_recorded(tmp_path):
    """GUNICORN_GRACEFUL_TIMEOUT=3 with 50 streams that would last 20 s: the worker cuts them in
    time, so each client gets the error event and each stream leaves its event with the tokens
    relayed so far (before this, all 50 were killed by the arbiter and none was recorded)."""
    count = 50
    with running_proxy(tmp_path, GUNICORN_GRACEFUL_TIMEOUT="3") as env:
        env.upstream.configure(chunk_count=400, chunk_delay_s=0.05)
        key = env.create_key()
        key_id = env.last_key["keyId"]
        bodies: list[str] = []
        lock = threading.Lock()

        def stream() -> None:
            with requests.post(
                f"{env.base_url}/chat/completions",
                json={"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "hi"}]},
                headers={"Authorization": f"Bearer {key}"}, timeout=60, stream=True,
            ) as response:  # fmt: skip
                text = b"".join(response.iter_content(None)).decode(errors="replace")
            with lock:
                bodies.append(text)

        threads = [threading.Thread(target=stream) for _ in range(count)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 20
        while len(env.upstream.requests) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.5)  # some content relayed
        stopped = time.monotonic()
        code, output = env.gateway.stop(signal.SIGTERM, timeout=30)
        for thread in threads:
            thread.join(30)
        took = time.monotonic() - stopped

    assert took < 6, output[-2000:]
    assert len(bodies) == count
    assert all("[DONE]" not in body and '"error"' in body for body in bodies)
    db = SqliteDatabase(env.sqlite_path)
    events = EventRepository(db).find(EventFilter(key_ids=[key_id]), limit=10_000)
    db.close()
    assert len(events) == count and len({e.id for e in events}) == count
    assert {e.status for e in events} == {503}
    assert all(e.completion_token_count > 0 and e.cost_micros > 0 for e in events)
