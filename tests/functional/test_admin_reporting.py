"""Reporting through the admin app on SQLite and PostgreSQL: the same seeded events give the same,
hand-computed numbers on both (buckets, group-by, percentiles, top keys, id lists)."""

from __future__ import annotations

import pytest

from tests.functional.admin_helpers import create_key, create_setting
from tests.functional.event_seed import END, T0, seed


def metrics(admin, **body):
    response = admin.post("/api/reporting/events", json={"start": T0, "end": END, "increment": 60,
                                                         **body})  # fmt: skip
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def point(at, n, usd, latency, prompt, completion, ok, **group):
    return {"timeStamp": at, "numberOfRequests": n, "costInUsd": usd, "latencyInMs": latency,
            "promptTokenCount": prompt, "completionTokenCount": completion, "successCount": ok,
            "keyId": "", "model": "", "customId": "", "userId": "", **group}  # fmt: skip


def test_buckets_of_increment_seconds_from_start(admin, database):
    seed(database)
    assert metrics(admin) == {
        "dataPoints": [
            point(T0, 3, 0.0035, 405, 15, 25, 2),
            point(T0 + 60, 1, 0.5, 1000, 100, 200, 1),
            point(T0 + 120, 1, 0.25, 50, 7, 0, 0),
        ],
        "latencyInMsMedian": 100.0,
        "latencyInMs99th": 972.0,  # 300 + (1000 - 300) * (0.99 * 4 - 3)
    }
    whole = metrics(admin, increment=3600)["dataPoints"]
    assert whole == [point(T0, 5, 0.7535, 1455, 122, 225, 3)]


def test_group_by_model_and_key(admin, database):
    seed(database)
    by_model = metrics(admin, filters=["model"])["dataPoints"]
    assert by_model == [
        point(T0, 2, 0.0035, 400, 15, 25, 2, model="gpt-4o"),
        point(T0, 1, 0.0, 5, 0, 0, 0, model="gpt-4o-mini"),
        point(T0 + 60, 1, 0.5, 1000, 100, 200, 1, model="gpt-4o-mini"),
        point(T0 + 120, 1, 0.25, 50, 7, 0, 0, model="gpt-4o"),
    ]
    by_key_and_user = metrics(admin, filters=["keyId", "userId"], increment=180)["dataPoints"]
    assert by_key_and_user == [
        point(T0, 2, 0.0035, 400, 15, 25, 2, keyId="k1", userId="u1"),
        point(T0, 1, 0.5, 1000, 100, 200, 1, keyId="k1", userId="u2"),
        point(T0, 1, 0.25, 50, 7, 0, 0, keyId="k2", userId=""),
        point(T0, 1, 0.0, 5, 0, 0, 0, keyId="k2", userId="u2"),
    ]
    by_custom = metrics(admin, filters=["customId"], increment=180)["dataPoints"]
    assert [(p["customId"], p["numberOfRequests"]) for p in by_custom] == [
        ("", 1), ("c1", 3), ("c2", 1)]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "count", "median", "p99"),
    [
        ({"keyIds": ["k1"]}, 3, 300.0, 986.0),  # 300 + 700 * (0.99 * 2 - 1)
        ({"tags": ["t1"]}, 3, 300.0, 986.0),
        ({"tags": ["t1", "t2"]}, 1, 300.0, 300.0),
        ({"customIds": ["c1"]}, 3, 100.0, 982.0),  # 100 + 900 * (0.99 * 2 - 1)
        ({"userIds": ["u2"]}, 2, 502.5, 990.05),  # 5 + 995 * 0.5, 5 + 995 * 0.99
        ({"keyIds": ["nobody"]}, 0, 0.0, 0.0),
    ],
)
def test_filters_and_percentiles_over_exactly_the_selected_events(admin, database, body, count,
                                                                  median, p99):  # fmt: skip
    seed(database)
    report = metrics(admin, increment=180, **body)
    assert sum(p["numberOfRequests"] for p in report["dataPoints"]) == count
    assert report["latencyInMsMedian"] == pytest.approx(median, abs=1e-9)
    assert report["latencyInMs99th"] == pytest.approx(p99, abs=1e-9)


def test_top_keys_by_spend_in_the_window(admin, database):
    seed(database)
    top = admin.post("/api/reporting/top-keys", json={"start": T0, "end": END})
    assert top.status_code == 200
    assert top.get_json() == {"dataPoints": [{"keyId": "k1", "costInUsd": 0.5035},
                                             {"keyId": "k2", "costInUsd": 0.25}]}  # fmt: skip
    wider = {"start": T0, "end": T0 + 300}
    order = admin.post("/api/reporting/top-keys", json={**wider, "order": "asc"}).get_json()
    assert [p["keyId"] for p in order["dataPoints"]] == ["k2", "k1", "k3"]
    page = admin.post("/api/reporting/top-keys", json={**wider, "limit": 1, "offset": 1})
    assert page.get_json() == {"dataPoints": [{"keyId": "k1", "costInUsd": 0.5035}]}
    only = admin.post("/api/reporting/top-keys", json={**wider, "keyIds": ["k2", "k3"]})
    assert [p["keyId"] for p in only.get_json()["dataPoints"]] == ["k3", "k2"]


def test_top_keys_filtered_by_the_keys_tags_name_and_revoked(admin, database):
    setting = create_setting(admin)["id"]
    team_a = create_key(admin, setting, key="a", name="alpha one", tags=["team-a"])["keyId"]
    team_b = create_key(admin, setting, key="b", name="beta", tags=["team-b"])["keyId"]
    admin.patch(f"/api/key-management/keys/{team_b}", json={"revoked": True})
    seed(database, k1=team_a, k2=team_b)
    window = {"start": T0, "end": END}

    def keys(**body):
        response = admin.post("/api/reporting/top-keys", json={**window, **body})
        assert response.status_code == 200, response.get_json()
        return [p["keyId"] for p in response.get_json()["dataPoints"]]

    assert keys() == [team_a, team_b]
    assert keys(tags=["team-b"]) == [team_b]
    assert keys(name="ALPHA") == [team_a]
    assert keys(revoked=True) == [team_b]
    assert keys(revoked=False) == [team_a]


def test_user_ids_and_custom_ids_of_a_key(admin, database):
    seed(database)
    for path in ("/api/reporting/user-ids", "/api/reporting/users-ids"):
        assert admin.get(f"{path}?keyId=k1").get_json() == ["u1", "u2"]
        assert admin.get(f"{path}?keyId=k2").get_json() == ["u2"]
    assert admin.get("/api/reporting/custom-ids?keyId=k1").get_json() == ["c1", "c2"]
    assert admin.get("/api/reporting/custom-ids?keyId=nobody").get_json() == []
    assert admin.get("/api/reporting/custom-ids").status_code == 400


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/reporting/events", {"end": END, "increment": 60}, "start"),
        ("/api/reporting/events", {"start": T0, "increment": 60}, "end"),
        ("/api/reporting/events", {"start": T0, "end": END}, "increment"),
        ("/api/reporting/events", {"start": END, "end": T0, "increment": 60}, "end"),
        ("/api/reporting/events", {"start": T0, "end": T0, "increment": 60}, "end"),
        ("/api/reporting/events", {"start": T0, "end": END, "increment": 0}, "increment"),
        (
            "/api/reporting/events",
            {"start": T0, "end": END, "increment": 60, "filters": ["cost"]},
            "filters",
        ),  # fmt: skip
        ("/api/reporting/events", {"start": "now", "end": END, "increment": 60}, "start"),
        (
            "/api/reporting/events",
            {"start": T0, "end": END, "increment": 60, "keyIds": "k1"},
            "keyIds",
        ),  # fmt: skip
        ("/api/reporting/top-keys", {"end": END}, "start"),
        ("/api/reporting/top-keys", {"start": END, "end": T0}, "end"),
        ("/api/reporting/top-keys", {"start": T0, "end": END, "order": "up"}, "order"),
        ("/api/reporting/top-keys", {"start": T0, "end": END, "limit": 0}, "limit"),
    ],
)
def test_bad_reports_are_400_in_the_admin_error_shape(admin, path, body, field):
    response = admin.post(path, json=body)
    assert response.status_code == 400, response.get_json()
    error = response.get_json()
    assert error["type"] == "/errors/validation" and error["instance"] == path
    assert error["detail"].startswith(f"{field}")
