"""CORS on the proxy, as a browser sees it: preflights are answered by the gateway itself (no key,
no upstream call, no event), and every proxied answer, errors included, is readable cross-origin."""

from __future__ import annotations

import pytest
import requests

from app.storage.events import EventFilter, EventRepository
from app.storage.sqlite import SqliteDatabase
from tests.functional.proxy_env import running_proxy

pytestmark = pytest.mark.slow
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
ORIGIN = "https://app.example.com"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with running_proxy(tmp_path_factory.mktemp("cors")) as proxy:
        yield proxy


def _all_events(env) -> int:
    db = SqliteDatabase(env.sqlite_path)
    try:
        return len(EventRepository(db).find(EventFilter(), limit=10_000))
    finally:
        db.close()


@pytest.mark.parametrize("path", ["chat/completions", "audio/transcriptions", "files/file-abc"])
def test_preflight_is_answered_by_the_gateway_without_a_key(env, path):
    env.upstream.reset()
    events_before = _all_events(env)
    response = requests.options(
        f"{env.base_url}/{path}",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization, content-type, x-custom-event-id"},
        timeout=5,
    )  # fmt: skip
    assert response.status_code == 204 and response.content == b""
    headers = response.headers
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert set(headers["Access-Control-Allow-Methods"].split(", ")) == {
        "GET",
        "POST",
        "PUT",
        "PATCH",
        "DELETE",
        "OPTIONS",
    }
    assert (
        headers["Access-Control-Allow-Headers"] == "authorization, content-type, x-custom-event-id"
    )
    assert headers["Access-Control-Max-Age"] == "86400"
    assert env.upstream.requests == []
    assert _all_events(env) == events_before


def test_preflight_without_requested_headers_allows_any(env):
    response = requests.options(f"{env.base_url}/chat/completions",
                                headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}, timeout=5)  # fmt: skip
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Headers"] == "*"


def test_answers_and_errors_are_readable_cross_origin(env):
    key = env.create_key(rateLimitOverTime=1, rateLimitUnit="m")
    url = f"{env.base_url}/chat/completions"
    ok = requests.post(
        url, json=CHAT, headers={"Origin": ORIGIN, "Authorization": f"Bearer {key}"}, timeout=10
    )
    limited = requests.post(
        url, json=CHAT, headers={"Origin": ORIGIN, "Authorization": f"Bearer {key}"}, timeout=10
    )
    refused = requests.post(
        url, json=CHAT, headers={"Origin": ORIGIN, "Authorization": "Bearer nope"}, timeout=10
    )
    assert [ok.status_code, limited.status_code, refused.status_code] == [200, 429, 401]
    for response in (ok, limited, refused):
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        # Without this a browser script cannot read Retry-After, x-request-id or rate headers.
        assert response.headers["Access-Control-Expose-Headers"] == "*"
    assert "Retry-After" in limited.headers


def test_the_upstreams_own_cors_headers_give_way_to_the_gateways(env):
    key = env.create_key()
    env.upstream.configure(extra_response_headers={"Access-Control-Allow-Origin": "https://platform.openai.com",
                                                   "Access-Control-Allow-Credentials": "true"})  # fmt: skip
    try:
        response = requests.post(f"{env.base_url}/chat/completions", json=CHAT,
                                 headers={"Origin": ORIGIN, "Authorization": f"Bearer {key}"}, timeout=10)  # fmt: skip
    finally:
        env.upstream.reset()
    assert response.status_code == 200
    assert (
        response.headers["Access-Control-Allow-Origin"] == "*"
    )  # one value, not "<upstream's>, *"
    assert "Access-Control-Allow-Credentials" not in response.headers
