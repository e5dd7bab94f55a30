"""The configuration version and its change log.

Every admin write bumps the one-row version in its transaction and logs what it changed (entity and
identity) under the new version. The bump holds the row's lock until commit, so versions are handed
out in commit order: the log read `seq > V` by a proxy that has applied everything up to V is
complete, and gapless while it is retained. Proxies poll the version and load only what changed.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.storage.database import Cursor, Database

RETAINED_CHANGES = 100_000  # versions of log kept; a proxy further behind reloads everything
_PRUNE_EVERY = 1_000


@dataclass(frozen=True)
class Change:
    seq: int
    entity: str  # "key" (ident: the stored key column), "user", "setting", "custom_provider" (id)
    ident: str


def bump_config_version(cursor: Cursor, entity: str = "other", ident: str = "") -> int:
    """Move the version in the caller's transaction and log the change; return the new version."""
    cursor.execute("UPDATE config_version SET version = version + 1 WHERE id = 1 RETURNING version")
    seq = int(cursor.fetchall()[0]["version"])
    log_change(cursor, seq, entity, ident)
    if seq % _PRUNE_EVERY == 0:
        cursor.execute("DELETE FROM config_changes WHERE seq <= %s", (seq - RETAINED_CHANGES,))
    return seq


def log_change(cursor: Cursor, seq: int, entity: str, ident: str) -> None:
    """Log one more identity under a version this transaction already bumped to."""
    cursor.execute(
        "INSERT INTO config_changes (seq, entity, ident) VALUES (%s, %s, %s) "
        "ON CONFLICT DO NOTHING",
        (seq, entity, ident),
    )


def current_config_version(db: Database) -> int:
    rows = db.query("SELECT version FROM config_version WHERE id = 1")
    return int(rows[0]["version"]) if rows else 0


def changes_since(db: Database, version: int) -> list[Change] | None:
    """Every change after `version`, in order, for a caller that saw the version move past it;
    None when the log no longer holds `version + 1` (pruned, or written before the log existed):
    the caller must reload everything."""
    rows = db.query(
        "SELECT seq, entity, ident FROM config_changes WHERE seq > %s ORDER BY seq", (version,)
    )
    changes = [Change(int(r["seq"]), r["entity"], r["ident"]) for r in rows]
    if not changes or changes[0].seq != version + 1:
        return None
    return changes
