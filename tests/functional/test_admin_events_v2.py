"""`GET` and `POST /api/v2/events` on SQLite and PostgreSQL over the seeded events of
`event_seed.py`: every filter, both orders, pages and the count."""

from __future__ import annotations

import pytest

from tests.functional.event_seed import END, T0, seed

WINDOW = {"start": T0, "end": END}


@pytest.fixture
def seeded(admin, database):
    seed(database)
    return admin


def get_ids(admin, **query):
    response = admin.get("/api/v2/events", query_string={**WINDOW, **query})
    assert response.status_code == 200, response.get_json()
    return [e["id"] for e in response.get_json()["events"]]


def post_ids(admin, **body):
    response = admin.post("/api/v2/events", json={**WINDOW, **body})
    assert response.status_code == 200, response.get_json()
    return [e["id"] for e in response.get_json()["events"]]


@pytest.mark.parametrize(
    ("query", "body", "expected"),
    [
        ({}, {}, ["e1", "e2", "e3", "e4", "e5"]),
        ({"userIds": "u1,u2"}, {"userIds": ["u1", "u2"]}, ["e1", "e2", "e3", "e4"]),
        ({"customIds": ["c2", "c9"]}, {"customIds": ["c2", "c9"]}, ["e2"]),
        ({"keyIds": "k2"}, {"keyIds": ["k2"]}, ["e3", "e5"]),
        ({"tags": "t1"}, {"tags": ["t1"]}, ["e1", "e2", "e4"]),
        ({"tags": "t1,t2"}, {"tags": ["t1", "t2"]}, ["e2"]),
        ({"policyIds": "p1"}, {"policyIds": ["p1"]}, ["e2", "e3"]),
        ({"actions": "blocked,redacted"}, {"actions": ["blocked", "redacted"]}, ["e2", "e3"]),
        ({"status": 200}, {"status": 200}, ["e1", "e2", "e4"]),
        ({"keyIds": "k1", "userIds": "u2"}, {"keyIds": ["k1"], "userIds": ["u2"]}, ["e4"]),
    ],
)
def test_filters_by_get_and_by_post(seeded, query, body, expected):
    assert get_ids(seeded, **query) == expected
    assert post_ids(seeded, **body) == expected


def test_orders_pages_and_count(seeded):
    assert post_ids(seeded, dateOrder="desc") == ["e5", "e4", "e3", "e2", "e1"]
    assert post_ids(seeded, costOrder="desc") == ["e4", "e5", "e2", "e1", "e3"]
    assert get_ids(seeded, costOrder="asc") == ["e3", "e1", "e2", "e5", "e4"]
    assert post_ids(seeded, limit=2, offset=1) == ["e2", "e3"]
    page = seeded.post("/api/v2/events", json={**WINDOW, "limit": 2, "returnCount": True})
    assert page.get_json()["count"] == 5 and len(page.get_json()["events"]) == 2
    counted = seeded.get("/api/v2/events", query_string={**WINDOW, "keyIds": "k1",
                                                         "returnCount": "true"})  # fmt: skip
    assert counted.get_json()["count"] == 3
    assert "count" not in seeded.post("/api/v2/events", json=WINDOW).get_json()


def test_events_carry_the_wire_shape(seeded):
    [e2] = seeded.post("/api/v2/events", json={**WINDOW, "customIds": ["c2"]}).get_json()["events"]
    assert e2["cost_in_usd"] == 0.0025 and e2["tags"] == ["t1", "t2"]
    assert e2["policy_id"] == "p1" and e2["action"] == "redacted" and e2["key_id"] == "k1"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"end": END}, "start"),
        ({"start": T0}, "end"),
        ({"start": END, "end": T0}, "end"),
        ({"start": T0, "end": T0}, "end"),
        ({**WINDOW, "costOrder": "asc", "dateOrder": "desc"}, "costOrder"),
        ({**WINDOW, "dateOrder": "newest"}, "dateOrder"),
        ({**WINDOW, "actions": ["allowed", "shrugged"]}, "actions"),
        ({**WINDOW, "limit": 0}, "limit"),
        ({**WINDOW, "limit": 1001}, "limit"),
        ({**WINDOW, "offset": -1}, "offset"),
    ],
)
def test_bad_queries_are_400_by_get_and_by_post(admin, params, field):
    for response in (admin.get("/api/v2/events", query_string=params),
                     admin.post("/api/v2/events", json=params)):  # fmt: skip
        assert response.status_code == 400, response.get_json()
        error = response.get_json()
        assert error["type"] == "/errors/validation" and error["instance"] == "/api/v2/events"
        assert error["detail"].startswith(f"{field}"), error["detail"]


def test_a_comma_list_of_actions_is_checked_after_splitting(admin):
    response = admin.get("/api/v2/events", query_string={**WINDOW, "actions": "allowed,nope"})
    assert response.status_code == 400 and "nope" in response.get_json()["detail"]
