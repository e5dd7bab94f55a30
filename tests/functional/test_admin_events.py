"""The events API through the admin app, on SQLite and PostgreSQL: events seeded in storage,
read back over HTTP as a user of the API would."""

from __future__ import annotations

import pytest

from app import create_app
from app.admin import events as events_api
from app.domain.events import Event
from app.storage.events import EventRepository
from tests.functional.admin_helpers import create_key, create_setting

T0 = 1_700_000_000


@pytest.fixture
def admin(database, settings):
    app = create_app("admin", settings, database)
    if "events" not in app.blueprints:  # until app/__init__.py registers it with the others
        app.extensions["flask-smorest"]["apis"][""]["ext_obj"].register_blueprint(events_api.blp)
    return app.test_client()


@pytest.fixture
def repository(database) -> EventRepository:
    return EventRepository(database)


def event(event_id: str, at: int, key_id: str = "key-a", **extra) -> Event:
    return Event(id=event_id, created_at=at, key_id=key_id, **extra)


def ids(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [e["id"] for e in response.get_json()]


def test_events_by_key_ids_within_a_window(admin, repository):
    repository.insert_many([
        event("a1", T0 + 10), event("a2", T0 + 20), event("a3", T0 + 30),
        event("b1", T0 + 15, key_id="key-b"), event("c1", T0 + 15, key_id="key-c"),
    ])  # fmt: skip
    window = {"start": T0 + 10, "end": T0 + 20}
    assert ids(admin.get("/api/events", query_string={"keyIds": "key-a", **window})) == ["a1", "a2"]
    repeated = {"keyIds": ["key-a", "key-b"], **window}
    assert ids(admin.get("/api/events", query_string=repeated)) == ["a1", "b1", "a2"]
    comma = {"keyIds": "key-a,key-b", "start": T0, "end": T0 + 100}
    assert ids(admin.get("/api/events", query_string=comma)) == ["a1", "b1", "a2", "a3"]


def test_events_by_custom_id_and_user_id(admin, repository):
    repository.insert_many([
        event("e1", T0 + 1, custom_id="job-7", user_id="u1"),
        event("e2", T0 + 2, custom_id="job-7", user_id="u2"),
        event("e3", T0 + 3, custom_id="job-8", user_id="u1"),
    ])  # fmt: skip
    assert ids(admin.get("/api/events?customId=job-7")) == ["e1", "e2"]
    assert ids(admin.get("/api/events?userId=u1")) == ["e1", "e3"]
    assert ids(admin.get("/api/events?customId=job-7&userId=u1")) == ["e1"]
    assert ids(admin.get("/api/events?customId=nobody")) == []


def test_an_event_reads_back_in_the_documented_shape(admin, repository):
    repository.insert_many([
        event("full", T0, tags=("prod", "team-a"), provider="openai", model="gpt-4o-mini",
              path="/api/providers/openai/v1/chat/completions", method="POST", status=200,
              cost_micros=400, prompt_token_count=8, completion_token_count=16, latency_in_ms=160,
              custom_id="c1", user_id="u1", metadata={"team": "a"}, token_count_source="provider",
              request_body=b'{"model":"gpt-4o-mini"}', response_body=b'{"id":"chatcmpl-1"}'),
    ])  # fmt: skip
    [body] = admin.get("/api/events?customId=c1").get_json()
    assert body == {
        "id": "full", "created_at": T0, "tags": ["prod", "team-a"], "key_id": "key-a",
        "cost_in_usd": 0.0004, "model": "gpt-4o-mini", "provider": "openai", "status": 200,
        "prompt_token_count": 8, "completion_token_count": 16, "latency_in_ms": 160,
        "path": "/api/providers/openai/v1/chat/completions", "method": "POST", "custom_id": "c1",
        "user_id": "u1", "policy_id": "", "action": "", "route_id": "",
        "token_count_source": "provider", "metadata": {"team": "a"},
        "request": '{"model":"gpt-4o-mini"}', "response": '{"id":"chatcmpl-1"}',
    }  # fmt: skip


def test_at_most_1000_events_newest_last(admin, repository):
    repository.insert_many([event(f"e{i:04d}", T0 + 1005 - i) for i in range(1005)])
    body = admin.get("/api/events", query_string={"keyIds": "key-a", "start": T0, "end": T0 + 2000})
    times = [e["created_at"] for e in body.get_json()]
    assert len(times) == 1000
    assert times == sorted(times) and times[0] == T0 + 1
    page = admin.get("/api/events", query_string={"start": T0, "end": T0 + 2000, "offset": 1000})
    assert [e["created_at"] for e in page.get_json()] == [T0 + 1001 + i for i in range(5)]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"start": "yesterday", "end": T0}, "start"),
        ({"start": T0, "end": "1.5"}, "end"),
        ({"start": T0, "end": T0}, "end"),
        ({"start": T0 + 5, "end": T0}, "end"),
        ({"keyIds": "key-a"}, "start"),
        ({"keyIds": "key-a", "start": T0}, "start"),
        ({"keyIds": "key-a", "end": T0}, "start"),
        ({"start": -1, "end": T0}, "start"),
        ({"limit": 0}, "limit"),
    ],
)
def test_bad_queries_are_400_in_the_admin_error_shape(admin, query, field):
    response = admin.get("/api/events", query_string=query)
    assert response.status_code == 400
    body = response.get_json()
    assert body["type"] == "/errors/validation" and body["status"] == 400
    assert body["instance"] == "/api/events"
    assert body["detail"].startswith(f"{field}: ")


def test_text_with_a_nul_is_refused_not_a_server_error(admin):
    response = admin.get("/api/events", query_string={"customId": "a\x00b"})
    assert response.status_code == 400


def test_a_keys_spend_is_the_sum_of_its_events(admin, repository):
    key = create_key(admin, create_setting(admin)["id"])
    other = create_key(admin, create_setting(admin)["id"], key="other-secret")
    repository.insert_many([
        event("s1", T0, key_id=key["keyId"], cost_micros=250_000),
        event("s2", T0 + 1, key_id=key["keyId"], cost_micros=1_500),
        event("s3", T0 + 2, key_id="someone-else", cost_micros=9_000_000),
    ])  # fmt: skip
    response = admin.get(f"/api/reporting/keys/{key['keyId']}")
    assert response.status_code == 200
    assert response.get_json() == {"id": key["keyId"], "costInUsd": 0.2515}
    idle = admin.get(f"/api/reporting/keys/{other['keyId']}").get_json()
    assert idle == {"id": other["keyId"], "costInUsd": 0.0}


def test_the_spend_of_an_unknown_key_is_404(admin):
    response = admin.get("/api/reporting/keys/no-such-key")
    assert response.status_code == 404
    body = response.get_json()
    assert (
        body["type"] == "/errors/not-found"
        and body["instance"] == "/api/reporting/keys/no-such-key"
    )


def test_the_endpoints_are_in_the_openapi_document(admin):
    paths = admin.get("/api/openapi.json").get_json()["paths"]
    assert "/api/events" in paths and "/api/reporting/keys/{key_id}" in paths
