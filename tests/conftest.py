"""Shared fixtures: both databases for real (SQLite file, PostgreSQL schema of its own), apps."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg2
import pytest

from app import create_app
from app.config import Settings
from app.storage.database import Database
from app.storage.migrate import migrate
from app.storage.postgres import PostgresDatabase
from app.storage.sqlite import SqliteDatabase

PG_HOST = os.environ.get("TEST_POSTGRES_HOST", "127.0.0.1")
PG_USER = os.environ.get("TEST_POSTGRES_USER", "postgres")
PG_DB = os.environ.get("TEST_POSTGRES_DB", "test")


def pg_dsn(schema: str) -> dict[str, object]:
    return {
        "host": PG_HOST,
        "port": 5432,
        "user": PG_USER,
        "dbname": PG_DB,
        "connect_timeout": 3,
        "options": f"-c search_path={schema} -c statement_timeout=30000",
    }


def _admin_connection() -> psycopg2.extensions.connection:
    conn = psycopg2.connect(host=PG_HOST, user=PG_USER, dbname=PG_DB, connect_timeout=3)
    conn.autocommit = True
    return conn


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema, dropped afterwards, so runs never see each other's rows."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    conn = _admin_connection()
    conn.cursor().execute(f"CREATE SCHEMA {schema}")
    try:
        yield schema
    finally:
        conn.cursor().execute(f"DROP SCHEMA {schema} CASCADE")
        conn.close()


@pytest.fixture
def sqlite_db(tmp_path) -> Iterator[Database]:
    db = SqliteDatabase(str(tmp_path / "bricks.db"))
    migrate(db)
    yield db
    db.close()


@pytest.fixture
def postgres_db(pg_schema) -> Iterator[Database]:
    db = PostgresDatabase(pg_dsn(pg_schema), pool_size=20)
    migrate(db)
    yield db
    db.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request) -> Database:
    """Every contract test runs once per backend."""
    return request.getfixturevalue(f"{request.param}_db")


@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture
def admin_app(database, settings):
    return create_app("admin", settings, database)


@pytest.fixture
def admin(admin_app):
    return admin_app.test_client()


def pytest_sessionfinish(session, exitstatus) -> None:
    """The secrets canary over the whole run: no line any gateway printed (access lines, warnings,
    errors, tracebacks) may hold a secret the suite gave it. A hit fails the run."""
    from tests.functional.servers import ALL_OUTPUT
    from tests.secrets_canary import find_suite_secrets

    found = find_suite_secrets(b"".join(ALL_OUTPUT).decode(errors="replace"))
    if found:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = "\n".join(f"  {name}: {line}" for name, line in found.items())
        if reporter is not None:
            reporter.write_line(
                f"SECRETS CANARY: secrets in the gateways' output:\n{lines}", red=True
            )
        session.exitstatus = 1
