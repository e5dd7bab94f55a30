"""PostgreSQL stopped for 30 s under load: the proxy keeps answering from its in-memory snapshot,
events wait in the journal, and once the database is back every answered request has exactly one
event row. Runs against a private PostgreSQL cluster, never the shared server."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import psycopg2
import pytest
import requests

from app.storage.database import StorageError
from app.storage.postgres import PostgresDatabase
from tests.functional.private_services import PrivatePostgres
from tests.functional.proxy_env import running_proxy

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(150)]
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
CLIENTS = 4
OUTAGE_S = 30.0


@dataclass
class Load:
    """Clients calling the proxy in a loop; what each request got back, by custom event id."""

    url: str
    key: str
    # custom event id -> (status, when answered)
    answered: dict[str, tuple[int, float]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    streamed: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self) -> list[threading.Thread]:
        # One client streams: a stream's event is published when its generator ends.
        threads = [threading.Thread(target=self._client, args=(index == 0,), daemon=True)
                   for index in range(CLIENTS)]  # fmt: skip
        for thread in threads:
            thread.start()
        return threads

    def _client(self, stream: bool) -> None:
        session = requests.Session()
        body = {**CHAT, "stream": True} if stream else CHAT
        while not self.stop.is_set():
            custom_id = uuid.uuid4().hex
            headers = {"Authorization": f"Bearer {self.key}", "X-CUSTOM-EVENT-ID": custom_id}
            try:
                response = session.post(self.url, json=body, headers=headers, timeout=10)
                complete = not stream or response.text.rstrip().endswith("data: [DONE]")
            except requests.RequestException as exc:
                with self.lock:
                    self.failures.append(f"{type(exc).__name__}: {exc}")
                continue
            with self.lock:
                self.answered[custom_id] = (
                    response.status_code if complete else -1,
                    time.monotonic(),
                )
                self.streamed += stream
            time.sleep(0.05)  # steady load, not a benchmark: the machine is shared


def _event_custom_ids(pg: PrivatePostgres, key_id: str) -> tuple[Counter[str], int]:
    """Custom ids of the key's event rows (with multiplicity) and the number of distinct row ids."""
    conn = psycopg2.connect(**pg.dsn)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT id, custom_id FROM events WHERE key_id = %s", (key_id,))
            rows = cursor.fetchall()
    finally:
        conn.close()
    return Counter(custom_id for _, custom_id in rows), len({row_id for row_id, _ in rows})


def _wait_for_events(
    pg: PrivatePostgres, key_id: str, expected: int, timeout: float
) -> Counter[str]:
    deadline = time.monotonic() + timeout
    while True:
        found, _ = _event_custom_ids(pg, key_id)
        if sum(found.values()) >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.25)


def test_postgres_down_30s_under_load_loses_and_doubles_no_event(tmp_path):
    with PrivatePostgres() as pg, running_proxy(tmp_path, **pg.env) as env:
        key = env.create_key()
        key_id = env.last_key["keyId"]
        load = Load(f"{env.base_url}/chat/completions", key)
        threads = load.run()
        time.sleep(3)
        pg.stop()
        down_at = time.monotonic()
        time.sleep(OUTAGE_S / 2)
        admin_during = requests.put(f"{env.gateway.admin}/api/provider-settings", timeout=10,
                                    json={"provider": "openai", "setting": {"apikey": "sk-x"}})  # fmt: skip
        time.sleep(OUTAGE_S / 2)
        pg.start()
        up_at = time.monotonic()
        late_key = env.create_key()  # an admin change after the outage reaches the proxy again
        late = requests.post(
            load.url, json=CHAT, headers={"Authorization": f"Bearer {late_key}"}, timeout=10
        )
        time.sleep(3)
        load.stop.set()
        for thread in threads:
            thread.join(15)
        found = _wait_for_events(pg, key_id, len(load.answered), timeout=20)
        _, distinct_rows = _event_custom_ids(pg, key_id)

    output = env.gateway.output  # complete once the servers stopped (a reader thread collects it)
    print(output[-5000:])  # shown when an assertion fails
    assert admin_during.status_code == 503, admin_during.text  # nothing stored, nothing hangs
    assert late.status_code == 200, late.text
    assert load.failures == []
    statuses = Counter(status for status, _ in load.answered.values())
    assert statuses == {200: len(load.answered)}, statuses
    during = [cid for cid, (_, at) in load.answered.items() if down_at < at < up_at]
    assert len(during) > 50, "the proxy must keep answering while the database is down"
    assert load.streamed > 20
    assert set(found) == set(load.answered), (
        f"missing {len(set(load.answered) - set(found))}, unexpected {len(set(found) - set(load.answered))}"
    )
    assert [cid for cid, count in found.items() if count > 1] == []
    assert distinct_rows == len(load.answered)
    # The operator hears of the outage once per process, not at every refresh of the snapshot.
    assert output.count("config refresh failed") == 1
    assert output.count("database unavailable") == 1 and "database is back" in output


def test_after_a_restart_the_first_queries_get_fresh_connections_not_dead_pooled_ones():
    with PrivatePostgres() as pg:
        db = PostgresDatabase({**pg.dsn, "connect_timeout": 2}, pool_size=3)
        with db.transaction() as a, db.transaction() as b, db.transaction() as c:
            for cursor in (a, b, c):
                cursor.execute("SELECT 1")  # three connections, back in the pool afterwards
        pg.stop()
        with pytest.raises(StorageError):
            db.query("SELECT 1")
        pg.start()
        try:
            assert [db.query("SELECT 1 AS one") for _ in range(4)] == [[{"one": 1}]] * 4
        finally:
            db.close()


def test_a_hung_postgres_costs_the_admin_a_bounded_wait_and_the_proxy_nothing(tmp_path):
    timeouts = {
        "POSTGRESQL_READ_TIME_OUT": "1s",
        "POSTGRESQL_WRITE_TIME_OUT": "1s",
    }  # a query waits 2 s
    with PrivatePostgres() as pg, running_proxy(tmp_path, **pg.env, **timeouts) as env:
        key = env.create_key()
        key_id = env.last_key["keyId"]
        settings_url = f"{env.gateway.admin}/api/provider-settings"
        assert requests.get(settings_url, timeout=10).status_code == 200
        # A key in use before the outage (a new one is looked up in the database on its first
        # request, which a hung database cannot answer).
        assert requests.post(f"{env.base_url}/chat/completions", json=CHAT, timeout=10,
                             headers={"Authorization": f"Bearer {key}",
                                      "X-CUSTOM-EVENT-ID": "before"}).status_code == 200  # fmt: skip
        pg.freeze()  # connections stay open; nothing is answered
        try:
            admin = requests.get(settings_url, timeout=30)
            proxied = requests.post(f"{env.base_url}/chat/completions", json=CHAT, timeout=10,
                                    headers={"Authorization": f"Bearer {key}", "X-CUSTOM-EVENT-ID": "hung"})  # fmt: skip
        finally:
            pg.thaw()
        after = requests.get(settings_url, timeout=10)
        found = _wait_for_events(pg, key_id, 2, timeout=20)

    assert admin.status_code == 503, admin.text
    assert admin.elapsed.total_seconds() < 2 + 2  # the deadline, and a margin for a shared machine
    assert proxied.status_code == 200 and proxied.elapsed.total_seconds() < 2
    assert after.status_code == 200
    assert found == Counter({"before": 1, "hung": 1})
