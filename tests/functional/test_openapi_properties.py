"""Property-based run: schemathesis generates requests from the served OpenAPI document and
checks that nothing answers 5xx and every documented response matches its schema."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from app import create_app
from app.config import Settings
from app.storage.migrate import migrate
from app.storage.sqlite import SqliteDatabase


def _app():
    db = SqliteDatabase(":memory:")
    migrate(db)
    app = create_app("admin", Settings(), db)
    client = app.test_client()
    setting = client.put(
        "/api/provider-settings", json={"provider": "openai", "setting": {"apikey": "k"}}
    )
    client.put(
        "/api/key-management/keys",
        json={"name": "n", "key": "k", "settingIds": [setting.get_json()["id"]]},
    )
    return app


schema = schemathesis.openapi.from_wsgi("/api/openapi.json", _app())


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@pytest.mark.filterwarnings("ignore")
def test_no_server_errors_and_responses_match_the_schema(case):
    response = case.call()
    assert response.status_code < 500, response.text
    case.validate_response(
        response,
        checks=[
            schemathesis.checks.not_a_server_error,
            schemathesis.checks.response_schema_conformance,
        ],
    )
