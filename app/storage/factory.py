"""Builds the configured Database: PostgreSQL when POSTGRESQL_HOSTS is set, else embedded SQLite."""

from __future__ import annotations

from app.config import Settings
from app.storage.database import Database


def open_database(settings: Settings) -> Database:
    if settings.uses_postgres:
        from app.storage.postgres import PostgresDatabase, dsn_from_settings

        return PostgresDatabase(
            dsn_from_settings(settings), pool_size=settings.postgresql_pool_size
        )
    from app.storage.sqlite import SqliteDatabase

    return SqliteDatabase(settings.sqlite_path)
