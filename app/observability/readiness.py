"""Readiness: may this process take traffic with its guarantees? (`GET /api/health/ready`)

Liveness (`/api/health`) only says the process answers. Readiness checks what requests rely on:
- database: the proxy's config snapshot was confirmed by the database recently and events are
  being stored (not journaled); the admin API runs `SELECT 1`.
- redis: the limit counters answer a PING (when REDIS_HOSTS/REDIS_URL is set).
- snapshot: the proxy's copy of keys and settings is at most `stale_after_s` old.
- limits_enforced: limits are counted (Redis answers, or in-process counters are in use); false
  while requests would be admitted fail-open or refused fail-closed.
Any failing check makes the answer 503, with every check in the body.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str = ""


def answer(
    checks: dict[str, Check], extra: dict[str, Any] | None = None
) -> tuple[dict[str, Any], int]:
    """The readiness body and status for the given checks."""
    ready = all(check.ok for check in checks.values())
    body: dict[str, Any] = {
        "status": "ready" if ready else "not ready",
        "checks": {
            name: {"ok": check.ok, **({"detail": check.detail} if check.detail else {})}
            for name, check in checks.items()
        },
        **(extra or {}),
    }
    return body, 200 if ready else 503


def stale_after(interval_s: float) -> float:
    """How old a snapshot may be: three missed refreshes, and never less than 5 s."""
    return max(5.0, 3 * interval_s)


def proxy_checks(runtime: Any, bus: Any) -> tuple[dict[str, Check], dict[str, Any]]:
    """Checks of a proxy process (its runtime and event bus)."""
    age = runtime.snapshot.age_s
    limit = stale_after(runtime.settings.in_memory_db_update_interval)
    fresh = age <= limit
    events_stored = not bus.database_down
    database = Check(
        fresh and events_stored,
        "" if fresh and events_stored else
        ("events are being journaled" if fresh else "the config refresh is failing"),
    )  # fmt: skip
    checks = {"database": database, "snapshot": Check(fresh, "" if fresh else f"{age:.0f}s old")}
    ping = getattr(runtime.counters, "ping", None)
    if ping is None:
        checks["redis"] = Check(True, "not configured: in-process counters")
        checks["limits_enforced"] = Check(True)
    else:
        answers = bool(ping())
        checks["redis"] = Check(answers, "" if answers else "no answer to PING")
        checks["limits_enforced"] = Check(answers, "" if answers else "Redis cannot count")
    return checks, {"snapshot_age_s": round(age, 1)}


def admin_checks(db: Any) -> tuple[dict[str, Check], dict[str, Any]]:
    try:
        db.query("SELECT 1 AS ok")
    except Exception as exc:  # StorageError, or a driver error the wrapper did not expect
        return {"database": Check(False, str(exc).splitlines()[0] if str(exc) else "down")}, {}
    return {"database": Check(True)}, {}
