"""Hostile strings in what a client sends (NUL in the user, the model, the metadata, the custom
id) never hide usage: through a real proxy on PostgreSQL, every request has its event, and the
reported spend counts them all."""

from __future__ import annotations

import time

import orjson
import psycopg2
import pytest
import requests

from tests.functional.private_services import PrivatePostgres
from tests.functional.proxy_env import running_proxy

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(120)]


def _rows(pg: PrivatePostgres, key_id: str) -> list[tuple]:
    conn = psycopg2.connect(**pg.dsn)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT user_id, model, custom_id, metadata, cost_micros FROM events "
                           "WHERE key_id = %s ORDER BY created_at, id", (key_id,))  # fmt: skip
            return cursor.fetchall()
    finally:
        conn.close()


def test_nul_in_user_model_metadata_and_custom_id_is_stored_and_reported(tmp_path):
    with PrivatePostgres() as pg, running_proxy(tmp_path, **pg.env) as env:
        key = env.create_key()
        key_id = env.last_key["keyId"]
        url = f"{env.base_url}/chat/completions"
        auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        bodies = [
            {"model": "gpt-4o-mini", "user": "al\u0000ice"},
            {"model": "gpt-4o-mini\u0000"},
            {"model": "gpt-4o-mini"},
            {"model": "gpt-4o-mini"},
        ]
        headers = [{}, {}, {"X-METADATA": '{"team": "a\\u0000b"}'}, {"X-CUSTOM-EVENT-ID": "c\\x00"}]
        statuses = []
        for body, extra in zip(bodies, headers, strict=True):
            payload = orjson.dumps({**body, "messages": [{"role": "user", "content": "hi"}]})
            response = requests.post(url, data=payload, headers={**auth, **extra}, timeout=10)
            statuses.append(response.status_code)
        deadline = time.monotonic() + 10
        while len(rows := _rows(pg, key_id)) < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        reported = requests.get(f"{env.gateway.admin}/api/events", params={"keyIds": key_id, "start": int(time.time()) - 600, "end": int(time.time()) + 60},
                                timeout=5).json()  # fmt: skip
    output = env.gateway.output  # complete once the servers stopped
    assert statuses == [200, 200, 200, 200], output[-3000:]
    assert len(rows) == 4, output[-3000:]
    assert "refused" not in output
    by_field = {(r[0], r[1]) for r in rows}
    assert ("al\ufffdice", "gpt-4o-mini") in by_field
    assert any(model == "gpt-4o-mini\ufffd" for _, model in by_field)
    assert "a\ufffdb" in [(r[3] or {}).get("team") for r in rows]  # beside the request id
    assert len(reported) == 4
    assert sum(e["cost_in_usd"] for e in reported) == pytest.approx(sum(r[4] for r in rows) / 1e6)
    assert sum(r[4] for r in rows) > 0
