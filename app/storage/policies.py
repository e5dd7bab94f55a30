"""Stores policies; the only place that knows the `policies` table. Every write bumps the config
version, because the proxy serves policies from its in-memory snapshot (`all()`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.domain.policies import Policy, RegexRule
from app.storage.database import Database, Row, from_json, placeholders, to_json
from app.storage.versioning import bump_config_version

_COLUMN_NAMES = ("id", "name", "created_at", "updated_at", "tags", "config", "regex_config",
                 "redact_responses", "on_detector_failure")  # fmt: skip
_COLUMNS = ", ".join(_COLUMN_NAMES)


class PolicyInUse(Exception):
    """A policy cannot be deleted while keys name it."""

    def __init__(self, key_count: int) -> None:
        super().__init__(f"{key_count} key(s) use this policy")
        self.key_count = key_count


def _row_to_policy(row: Row) -> Policy:
    config = from_json(row["config"])
    regex_config = from_json(row["regex_config"])
    return Policy(
        id=row["id"],
        name=row["name"],
        created_at=int(row["created_at"]),
        updated_at=int(row["updated_at"]),
        tags=tuple(from_json(row["tags"], [])),
        rules=None if config is None else dict(config.get("rules", {})),
        regex_rules=None
        if regex_config is None
        else tuple(RegexRule(**r) for r in regex_config.get("rules", [])),
        redact_responses=bool(row["redact_responses"]),
        on_detector_failure=row["on_detector_failure"],
    )


def _values(policy: Policy) -> tuple[Any, ...]:
    config = None if policy.rules is None else to_json({"rules": policy.rules})
    regex_config = (
        None
        if policy.regex_rules is None
        else to_json(
            {
                "rules": [
                    {"definition": r.definition, "action": r.action} for r in policy.regex_rules
                ]
            }
        )  # fmt: skip
    )
    return (
        policy.id, policy.name, policy.created_at, policy.updated_at, to_json(list(policy.tags)),
        config, regex_config, policy.redact_responses, policy.on_detector_failure,
    )  # fmt: skip


class PolicyRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, policy: Policy) -> Policy:
        with self._db.transaction() as cursor:
            cursor.execute(
                f"INSERT INTO policies ({_COLUMNS}) VALUES ({placeholders(len(_COLUMN_NAMES))})",
                _values(policy),
            )
            bump_config_version(cursor)
        return policy

    def replace(self, policy: Policy) -> Policy:
        """Write every field of an existing policy (an update is read, change, replace)."""
        assignments = ", ".join(f"{c} = %s" for c in _COLUMN_NAMES)
        with self._db.transaction() as cursor:
            cursor.execute(
                f"UPDATE policies SET {assignments} WHERE id = %s", (*_values(policy), policy.id)
            )
            bump_config_version(cursor)
        return policy

    def delete(self, policy_id: str) -> bool:
        """Delete unless a key names the policy (PolicyInUse); False when there was none."""
        with self._db.transaction() as cursor:
            cursor.execute("SELECT COUNT(*) AS n FROM keys WHERE policy_id = %s", (policy_id,))
            users = int(cursor.fetchall()[0]["n"])
            if users:
                raise PolicyInUse(users)
            cursor.execute("DELETE FROM policies WHERE id = %s", (policy_id,))
            deleted = cursor.rowcount > 0
            if deleted:
                bump_config_version(cursor)
        return deleted

    def get(self, policy_id: str) -> Policy | None:
        rows = self._db.query(f"SELECT {_COLUMNS} FROM policies WHERE id = %s", (policy_id,))
        return _row_to_policy(rows[0]) if rows else None

    def exists(self, policy_id: str) -> bool:
        return bool(self._db.query("SELECT 1 AS one FROM policies WHERE id = %s", (policy_id,)))

    def find(self, tags: Sequence[str] = ()) -> list[Policy]:
        """Policies carrying every one of `tags` (all when none), in creation order."""
        where, params = "", list[Any]()
        if tags:
            sql, params = self._db.json_contains_all("tags", tags)
            where = f" WHERE {sql}"
        rows = self._db.query(
            f"SELECT {_COLUMNS} FROM policies{where} ORDER BY created_at, id", params
        )
        return [_row_to_policy(row) for row in rows]

    def all(self) -> list[Policy]:
        """Every policy: what the proxy's snapshot loads."""
        return self.find()
