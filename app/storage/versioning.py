"""The configuration version: one counter row bumped by every admin change, polled by proxies."""

from __future__ import annotations

from app.storage.database import Cursor, Database


def bump_config_version(cursor: Cursor) -> None:
    cursor.execute("UPDATE config_version SET version = version + 1 WHERE id = 1")


def current_config_version(db: Database) -> int:
    rows = db.query("SELECT version FROM config_version WHERE id = 1")
    return int(rows[0]["version"]) if rows else 0
