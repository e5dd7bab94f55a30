"""The in-process gateway fixture: a fresh proxy app per test on a migrated SQLite file."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app import create_app
from app.container import Container
from tests.inproc.harness import Gateway, gateway_settings


@pytest.fixture
def gateway(sqlite_db, tmp_path) -> Iterator[Gateway]:
    settings = gateway_settings(str(tmp_path))
    gateway = Gateway(
        create_app("proxy", settings, sqlite_db), Container.build(settings, sqlite_db)
    )
    yield gateway
    gateway.close()
