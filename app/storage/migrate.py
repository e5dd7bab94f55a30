"""Applies the numbered SQL files of `migrations/<dialect>/` once each, in order.

Run by the release step (`python -m app.cli migrate`) and by `make run`; never at import time.
Each file runs in one transaction with its version row, so a failed migration leaves nothing half
applied. On PostgreSQL an advisory lock keeps two release steps from racing.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from app.storage.database import Database, StorageError

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent.parent / "migrations"
_ADVISORY_LOCK_ID = 7_204_117
log = logging.getLogger(__name__)


def migration_files(dialect: str, root: Path = MIGRATIONS_DIR) -> list[Path]:
    """The dialect's migration files, ordered by their numeric prefix."""
    return sorted((root / dialect).glob("[0-9][0-9][0-9][0-9]_*.sql"))


def _statements(script: str) -> list[str]:
    """Split a file on semicolons at line ends; our migrations hold no procedural bodies."""
    lines = [ln for ln in script.splitlines() if not ln.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";\n") if s.strip().rstrip(";")]


def applied_versions(db: Database) -> set[str]:
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_at BIGINT)"
    )
    return {row["version"] for row in db.query("SELECT version FROM schema_migrations")}


def pending_migrations(db: Database, root: Path = MIGRATIONS_DIR) -> list[str]:
    """The versions not applied yet, without changing the database (a read-only check)."""
    wanted = [path.stem for path in migration_files(db.dialect, root)]
    try:
        rows = db.query("SELECT version FROM schema_migrations")
    except StorageError as exc:
        # SQLite: "no such table", PostgreSQL: "relation ... does not exist". Anything else (the
        # server is down) is not an answer about migrations.
        if "no such table" in str(exc) or "does not exist" in str(exc):
            return wanted
        raise
    applied = {row["version"] for row in rows}
    return [version for version in wanted if version not in applied]


def migrate(db: Database, root: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply what is missing; return the versions applied now."""
    applied_now: list[str] = []
    for path in migration_files(db.dialect, root):
        if path.stem in applied_versions(db):
            continue
        if _apply(db, path):
            log.info("applied migration %s", path.stem)
            applied_now.append(path.stem)
    return applied_now


def _apply(db: Database, path: Path) -> bool:
    """Run one file and record it, unless a concurrent release step got there first."""
    with db.transaction() as cursor:
        if db.dialect == "postgres":
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_ADVISORY_LOCK_ID,))
        cursor.execute("SELECT 1 AS done FROM schema_migrations WHERE version = %s", (path.stem,))
        if cursor.fetchall():
            return False
        for statement in _statements(path.read_text()):
            cursor.execute(statement.rstrip(";"))
        cursor.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (%s, %s)",
            (path.stem, int(time.time())),
        )
    return True
