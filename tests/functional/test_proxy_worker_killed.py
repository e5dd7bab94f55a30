"""A proxy worker killed with SIGKILL in the middle of streams and plain requests: gunicorn starts
another, which recovers the dead worker's in-flight log, so every request that reached the
upstream (was admitted) has exactly one event."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

from app.storage.events import EventFilter, EventRepository
from app.storage.sqlite import SqliteDatabase
from tests.functional.proxy_env import running_proxy

pytestmark = pytest.mark.slow
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def _descendants(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [found for child in map(int, children) for found in (child, *_descendants(child))]


def _role(pid: int) -> str:
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return next(
        (v.split(b"=", 1)[1].decode() for v in environ if v.startswith(b"BRICKS_ROLE=")), ""
    )


def proxy_worker(root: int) -> int:
    """The proxy's gunicorn worker: a proxy process whose parent is the proxy's master."""
    proxies = [pid for pid in _descendants(root) if _role(pid) == "proxy"]
    workers = [
        pid for pid in proxies if int(Path(f"/proc/{pid}/stat").read_text().split()[3]) in proxies
    ]
    assert len(workers) == 1, workers
    return workers[0]


def test_a_killed_worker_leaves_one_event_per_admitted_request(tmp_path):
    with running_proxy(tmp_path) as env:
        env.upstream.configure(chunk_count=200, chunk_delay_s=0.05)  # streams of about 10 s
        key = env.create_key()
        key_id = env.last_key["keyId"]
        answered: list[tuple[str, int]] = []
        stop = threading.Event()

        def call(stream: bool) -> None:
            custom_id = f"{'s' if stream else 'p'}-{uuid.uuid4().hex}"
            headers = {"Authorization": f"Bearer {key}", "X-CUSTOM-EVENT-ID": custom_id}
            try:
                response = requests.post(f"{env.base_url}/chat/completions", timeout=30,
                                         json={**CHAT, "stream": stream, "user": custom_id},
                                         headers=headers)  # fmt: skip
                answered.append((custom_id, response.status_code))
            except requests.RequestException:
                answered.append((custom_id, 0))

        def plain_load() -> None:
            while not stop.is_set():
                call(False)

        streams = [threading.Thread(target=call, args=(True,)) for _ in range(20)]
        load = [threading.Thread(target=plain_load) for _ in range(4)]
        for thread in streams + load:
            thread.start()
        deadline = time.monotonic() + 20
        while (
            len(env.upstream.requests_to("/chat/completions")) < 60 and time.monotonic() < deadline
        ):
            time.sleep(0.02)
        os.kill(proxy_worker(env.gateway.process.pid), signal.SIGKILL)
        time.sleep(1.0)
        stop.set()
        for thread in streams + load:
            thread.join(40)
        # The custom id travels to the upstream as the body's user (the header stays at the gateway).
        admitted = {r.json["user"] for r in env.upstream.requests_to("/chat/completions")}
        time.sleep(2.5)  # the new worker recovers the log into the journal, the replay stores it

        db = SqliteDatabase(env.sqlite_path)
        events = EventRepository(db).find(EventFilter(key_ids=[key_id]), limit=100_000)
        db.close()
    by_custom_id: dict[str, int] = {}
    for event in events:
        by_custom_id[event.custom_id] = by_custom_id.get(event.custom_id, 0) + 1
    assert len(admitted) > 60
    missing = admitted - set(by_custom_id)
    assert not missing, f"{len(missing)} admitted requests without an event"
    assert all(count == 1 for count in by_custom_id.values())
    assert all(by_custom_id.get(cid) == 1 for cid, status in answered if status == 200)
    interrupted = [e for e in events if e.status == 0]
    assert len(interrupted) >= 20 and all(e.error.startswith("interrupted") for e in interrupted)
