"""The proxy's in-memory copy of keys and provider settings, so no request reads the database.

A refresher polls the one-row config version every IN_MEMORY_DB_UPDATE_INTERVAL and reloads
everything only when an admin change moved it. A failed reload keeps serving the last snapshot;
an outage is logged when it starts and when it ends, not at every poll.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from app.domain.entities import Key, ProviderSetting, User
from app.domain.policies import Policy
from app.domain.routes import Route
from app.providers.custom import ServedProvider
from app.storage.database import Database, StorageError
from app.storage.keys import KeyFilter, KeyRepository
from app.storage.policies import PolicyRepository
from app.storage.provider_settings import CustomProviderRepository, ProviderSettingRepository
from app.storage.routes import RouteRepository
from app.storage.users import UserRepository
from app.storage.versioning import current_config_version

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    version: int = -1
    keys_by_hash: dict[str, Key] = field(default_factory=dict)
    keys_by_raw: dict[str, Key] = field(default_factory=dict)
    settings: dict[str, ProviderSetting] = field(default_factory=dict)
    users_by_user_id: dict[str, list[User]] = field(default_factory=dict)  # oldest first
    custom_providers: dict[str, ServedProvider] = field(default_factory=dict)  # by name
    routes_by_path: dict[str, Route] = field(default_factory=dict)  # failover routes
    policies: dict[str, Policy] = field(default_factory=dict)  # by id

    def key_for(self, secret_hash: str, secret: str) -> Key | None:
        """Hashed keys match by hash; unhashed keys only by their raw value, so a stored hash is
        never accepted as a credential."""
        return self.keys_by_hash.get(secret_hash) or self.keys_by_raw.get(secret)


def load_snapshot(db: Database) -> Snapshot:
    version = current_config_version(db)
    keys = KeyRepository(db).find(KeyFilter())
    return Snapshot(
        version=version,
        keys_by_hash={k.key: k for k in keys if not k.is_key_not_hashed},
        keys_by_raw={k.key: k for k in keys if k.is_key_not_hashed},
        settings={s.id: s for s in ProviderSettingRepository(db).all()},
        users_by_user_id=_users_by_user_id(UserRepository(db).all()),
        custom_providers={
            p.provider: ServedProvider.of(p) for p in CustomProviderRepository(db).all()
        },
        routes_by_path={r.path: r for r in RouteRepository(db).all()},
        policies={p.id: p for p in PolicyRepository(db).all()},
    )


def _users_by_user_id(users: list[User]) -> dict[str, list[User]]:
    found: dict[str, list[User]] = {}
    for user in sorted(users, key=lambda u: (u.created_at, u.id)):
        if user.user_id:
            found.setdefault(user.user_id, []).append(user)
    return found


class SnapshotHolder:
    """Holds the current snapshot and refreshes it in the background."""

    def __init__(self, db: Database, interval_s: float) -> None:
        self._db = db
        self._interval = interval_s
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False  # the last refresh failed: the outage is already logged
        self.current = load_snapshot(db)

    def refresh_now(self) -> None:
        try:
            if current_config_version(self._db) != self.current.version:
                self.current = load_snapshot(self._db)
        except StorageError as exc:
            if not self._failing:
                log.warning("config refresh failed, serving the previous snapshot until the "
                            "database answers again: %s", exc)  # fmt: skip
            self._failing = True
            return
        if self._failing:
            self._failing = False
            log.info("config refresh works again")

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="snapshot-refresh", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            started = time.monotonic()
            self.refresh_now()
            if time.monotonic() - started > self._interval:
                log.warning("config refresh took longer than IN_MEMORY_DB_UPDATE_INTERVAL")
