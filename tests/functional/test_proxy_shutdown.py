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
from tests.fakes.upstream import FakeUpstream
from tests.functional.proxy_env import ProxyEnv
from tests.functional.servers import Gateway

pytestmark = pytest.mark.slow
STREAMS = 200


def test_sigterm_with_200_streams_in_flight_leaves_one_event_per_request(tmp_path):
    path = str(tmp_path / "bricks.db")
    with FakeUpstream() as upstream:
        upstream.configure(chunk_count=40, chunk_delay_s=0.05)  # each stream lasts about 2 s
        gateway = Gateway({"SQLITE_PATH": path, "IN_MEMORY_DB_UPDATE_INTERVAL": "50ms",
                           "GUNICORN_GRACEFUL_TIMEOUT": "20"}).start()  # fmt: skip
        env = ProxyEnv(gateway, upstream, path)
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
    db = SqliteDatabase(path)
    events = EventRepository(db).find(EventFilter(key_ids=[key_id]), limit=10_000)
    db.close()
    assert len(events) == STREAMS and len({e.id for e in events}) == STREAMS
    assert {e.status for e in events} == {200}
