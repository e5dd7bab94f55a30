"""The proxy's in-memory copy of keys, users, provider settings, custom providers, failover routes
and policies, so no request for a known key reads the database.

- Start: everything is loaded in pages (keys in their compact form: about 315 bytes each in
  memory, measured), yielding between pages; the result is swapped in whole.
- Every IN_MEMORY_DB_UPDATE_INTERVAL the refresher polls the config version. When it moved, it reads
  the change log (`versioning.changes_since`) and loads only the rows that changed, then applies
  them in one step without yielding (deleted rows leave). A log that no longer reaches back, a
  very large change, or the rare safety-net period reloads everything as at start.
- Read-through: a key the snapshot does not know, or knows as revoked or expired, is looked up in
  the database before the answer is 401 (`lookups.BatchedLookup`: single-flight, at most one query
  per worker every LOOKUP_INTERVAL_S); a found key joins the snapshot with the settings it names.
  The same holds for a userId. Misses are remembered for MISS_TTL_S, and forgotten as soon as the
  refresher applies a change to that identity.

A failed refresh keeps serving the last snapshot; an outage is logged when it starts and when it
ends, not at every poll.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from typing import Any, Protocol

from app.domain.entities import CustomProvider, Key, ProviderSetting, User, hash_key
from app.domain.policies import Policy
from app.domain.routes import Route
from app.providers.custom import ServedProvider
from app.proxy.lookups import BatchedLookup
from app.storage.database import Database, StorageError
from app.storage.keys import CompactKey, CompactKeyReader, unpack_key
from app.storage.policies import PolicyRepository
from app.storage.provider_settings import CustomProviderRepository, ProviderSettingRepository
from app.storage.routes import RouteRepository
from app.storage.users import UserFilter, UserRepository
from app.storage.versioning import Change, changes_since, current_config_version

log = logging.getLogger(__name__)

PAGE_SIZE = 2_000  # keys per query of a full load: ~5 ms of work between two yields
FULL_RELOAD_ABOVE = 20_000  # more changes than this at once: reload everything instead
SAFETY_RELOAD_S = 6 * 3600.0  # reload everything this often, whatever the log says
LOOKUP_INTERVAL_S = 0.05  # at most one read-through query per worker and kind this often
MISS_TTL_S = 30.0
# What `_apply` knows how to apply in place; a change logged under any other entity (a table
# added to the snapshot later, logged as "other") reloads everything: slower, never stale.
APPLIED_ENTITIES = frozenset({"key", "user", "setting", "custom_provider", "route", "policy"})
MAX_MISSES = 100_000  # remembered misses per kind; the memory is cleared when full


class KeyStore:
    """Keys by their stored column: hashed ones by the 32-byte digest, raw ones by the secret,
    each as a compact blob unpacked when a request presents it."""

    def __init__(self) -> None:
        self.hashed: dict[bytes, bytes] = {}
        self.raw: dict[str, bytes] = {}

    def __len__(self) -> int:
        return len(self.hashed) + len(self.raw)

    def get(self, secret_hash: str, secret: str) -> Key | None:
        """Hashed keys match by hash; unhashed keys only by their raw value, so a stored hash is
        never accepted as a credential."""
        packed = self.hashed.get(_digest(secret_hash))
        if packed is not None:
            return unpack_key(secret_hash, packed)
        packed = self.raw.get(secret)
        return None if packed is None else unpack_key(secret, packed)

    def put(self, entry: CompactKey) -> None:
        column, raw, packed = entry
        if raw:
            self.raw[column] = packed
        elif (digest := _digest(column)) != b"":
            self.hashed[digest] = packed

    def remove(self, column: str) -> None:
        self.raw.pop(column, None)
        self.hashed.pop(_digest(column), None)


def _digest(column: str) -> bytes:
    try:
        return bytes.fromhex(column) if len(column) == 64 else b""
    except ValueError:
        return b""


class ReadThrough(Protocol):
    def key(self, secret_hash: str, stale: Key | None) -> Key | None: ...
    def users(self, user_id: str) -> list[User] | None: ...


class Snapshot:
    """What requests are served from. The refresher changes its contents in place, one whole
    batch of changes between two requests; a full reload replaces the object."""

    def __init__(
        self,
        version: int = -1,
        keys: KeyStore | None = None,
        settings: dict[str, ProviderSetting] | None = None,
        users_by_user_id: dict[str, list[User]] | None = None,
        custom_providers: dict[str, ServedProvider] | None = None,
        routes_by_path: dict[str, Route] | None = None,
        policies: dict[str, Policy] | None = None,
    ) -> None:
        self.version = version
        self.keys = keys if keys is not None else KeyStore()
        self.settings = settings if settings is not None else {}
        self.users_by_user_id = users_by_user_id if users_by_user_id is not None else {}
        self.users_by_id = {u.id: u for group in self.users_by_user_id.values() for u in group}
        self.custom_providers = custom_providers if custom_providers is not None else {}
        self.routes_by_path = (
            routes_by_path if routes_by_path is not None else {}
        )  # failover routes
        self.policies = policies if policies is not None else {}  # by id
        self.read_through: ReadThrough | None = None

    def key_for(self, secret_hash: str, secret: str) -> Key | None:
        return self.keys.get(secret_hash, secret)

    def recheck_key(self, secret_hash: str, stale: Key | None) -> Key | None:
        """The key as the database has it now (for a key missing here, revoked or expired);
        `stale` when the database cannot say."""
        return stale if self.read_through is None else self.read_through.key(secret_hash, stale)

    def recheck_users(self, user_id: str) -> list[User] | None:
        """The users with this userId as the database has them now; None when it cannot say."""
        return None if self.read_through is None else self.read_through.users(user_id)

    def put_users(self, users: Iterable[User]) -> set[str]:
        """Add or replace users by id; return the userIds whose group changed."""
        touched: set[str] = set()
        for user in users:
            self._drop_user(user.id, touched)
            self.users_by_id[user.id] = user
            if user.user_id:
                group = [*self.users_by_user_id.get(user.user_id, ()), user]
                self.users_by_user_id[user.user_id] = sorted(group, key=_creation)
            touched.add(user.user_id)
        return touched

    def remove_users(self, ids: Iterable[str]) -> None:
        for user_id in ids:
            self._drop_user(user_id, set())

    def _drop_user(self, user_object_id: str, touched: set[str]) -> None:
        old = self.users_by_id.pop(user_object_id, None)
        if old is None:
            return
        touched.add(old.user_id)
        group = [u for u in self.users_by_user_id.get(old.user_id, ()) if u.id != old.id]
        if group:
            self.users_by_user_id[old.user_id] = group
        else:
            self.users_by_user_id.pop(old.user_id, None)


def _creation(user: User) -> tuple[int, str]:
    return user.created_at, user.id


def _replace_by_id(held: dict[str, Any], ids: set[str], fresh: dict[str, Any]) -> None:
    """Drop the held items (routes by path, policies by id) whose id changed, then add what the
    database has for them now."""
    for name in [name for name, item in held.items() if item.id in ids]:
        del held[name]
    held.update(fresh)


def _users_by_user_id(users: list[User]) -> dict[str, list[User]]:
    found: dict[str, list[User]] = {}
    for user in sorted(users, key=_creation):
        if user.user_id:
            found.setdefault(user.user_id, []).append(user)
    return found


def load_snapshot(db: Database, page_size: int = PAGE_SIZE) -> Snapshot:
    """Everything, keys in pages with a yield between them (gevent's sleep in a worker), so a
    reload of a million keys never holds the worker for more than one page's work."""
    version = current_config_version(db)  # read first: a change racing the load is applied again
    snapshot = Snapshot(
        version=version,
        settings={s.id: s for s in ProviderSettingRepository(db).all()},
        users_by_user_id=_users_by_user_id(UserRepository(db).all()),
        custom_providers={
            p.provider: ServedProvider.of(p) for p in CustomProviderRepository(db).all()
        },
        routes_by_path={r.path: r for r in RouteRepository(db).all()},
        policies={p.id: p for p in PolicyRepository(db).all()},
    )
    reader, after = CompactKeyReader(db), None
    while True:
        page = reader.page(after, page_size)
        for entry in page:
            snapshot.keys.put(entry)
        if len(page) < page_size:
            return snapshot
        after = page[-1][0]
        time.sleep(0)


class _Misses:
    """Identities the database did not have, remembered for a while."""

    def __init__(self, ttl_s: float) -> None:
        self._ttl = ttl_s
        self._until: dict[str, float] = {}

    def known(self, ident: str) -> bool:
        until = self._until.get(ident)
        return until is not None and until > time.monotonic()

    def add(self, ident: str) -> None:
        if len(self._until) >= MAX_MISSES:
            self._until.clear()
        self._until[ident] = time.monotonic() + self._ttl

    def forget(self, idents: Iterable[str]) -> None:
        for ident in idents:
            self._until.pop(ident, None)

    def clear(self) -> None:
        self._until.clear()


class SnapshotHolder:
    """Holds the current snapshot, refreshes it in the background and reads through to the
    database for what it does not know yet."""

    def __init__(
        self,
        db: Database,
        interval_s: float,
        page_size: int = PAGE_SIZE,
        lookup_interval_s: float = LOOKUP_INTERVAL_S,
        miss_ttl_s: float = MISS_TTL_S,
        safety_reload_s: float = SAFETY_RELOAD_S,
    ) -> None:
        self._db = db
        self._interval = interval_s
        self._page_size = page_size
        self._safety_reload_s = safety_reload_s
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False  # the last refresh failed: the outage is already logged
        self._keys = CompactKeyReader(db)
        self._key_misses, self._user_misses = _Misses(miss_ttl_s), _Misses(miss_ttl_s)
        self.key_lookups: BatchedLookup[str, CompactKey] = BatchedLookup(
            self._fetch_keys, lookup_interval_s
        )
        self.user_lookups: BatchedLookup[str, list[User]] = BatchedLookup(
            self._fetch_users, lookup_interval_s
        )
        self.full_loads = 0
        self.max_apply_ms = 0.0  # the longest the refresher held the worker applying changes
        self.current = self._load_all()
        # When the database last confirmed the snapshot (monotonic): readiness and metrics.
        self.checked_at = time.monotonic()

    # -- refresh ------------------------------------------------------------------------------

    def refresh_now(self) -> None:
        try:
            self._refresh()
            self.checked_at = time.monotonic()
        except StorageError as exc:
            if not self._failing:
                log.warning("config refresh failed, serving the previous snapshot until the "
                            "database answers again: %s", exc)  # fmt: skip
            self._failing = True
            return
        if self._failing:
            self._failing = False
            log.info("config refresh works again")

    @property
    def age_s(self) -> float:
        """Seconds since the database last confirmed the snapshot is current."""
        return time.monotonic() - self.checked_at

    def _refresh(self) -> None:
        current = self.current
        if time.monotonic() - self._loaded_at > self._safety_reload_s:
            self.current = self._load_all()
            return
        if current_config_version(self._db) == current.version:
            return
        changes = changes_since(self._db, current.version)
        if (
            changes is None
            or len(changes) > FULL_RELOAD_ABOVE
            or any(c.entity not in APPLIED_ENTITIES for c in changes)
        ):
            self.current = self._load_all()
        else:
            self._apply(current, changes)

    def _load_all(self) -> Snapshot:
        self._loaded_at = started = time.monotonic()
        snapshot = load_snapshot(self._db, self._page_size)
        log.info("config snapshot loaded: %d keys, %d users, %d provider settings in %.2f s",
                 len(snapshot.keys), len(snapshot.users_by_id), len(snapshot.settings),
                 time.monotonic() - started)  # fmt: skip
        snapshot.read_through = self
        self.full_loads += 1
        self._key_misses.clear()
        self._user_misses.clear()
        return snapshot

    def _apply(self, snapshot: Snapshot, changes: list[Change]) -> None:
        """Read the changed rows, then change the snapshot in one step (no yield in between)."""
        wanted: dict[str, set[str]] = defaultdict(set)
        for change in changes:
            wanted[change.entity].add(change.ident)
        keys = self._keys.by_key_columns(sorted(wanted["key"]))
        users = UserRepository(self._db).get_many(sorted(wanted["user"]))
        settings = ProviderSettingRepository(self._db).get_many(sorted(wanted["setting"]))
        customs = CustomProviderRepository(self._db).get_many(sorted(wanted["custom_provider"]))
        routes = RouteRepository(self._db).get_many(sorted(wanted["route"]))
        policies = PolicyRepository(self._db).get_many(sorted(wanted["policy"]))
        if self.current is not snapshot:
            return  # a full reload replaced it meanwhile
        held = time.perf_counter()
        self._mutate(snapshot, wanted, keys, users, settings, customs)
        _replace_by_id(snapshot.routes_by_path, wanted["route"], {r.path: r for r in routes})
        _replace_by_id(snapshot.policies, wanted["policy"], {p.id: p for p in policies})
        snapshot.version = changes[-1].seq
        self.max_apply_ms = max(self.max_apply_ms, (time.perf_counter() - held) * 1000)

    def _mutate(
        self,
        snapshot: Snapshot,
        wanted: dict[str, set[str]],
        keys: list[CompactKey],
        users: list[User],
        settings: list[ProviderSetting],
        customs: list[CustomProvider],
    ) -> None:
        for column in wanted["key"]:
            snapshot.keys.remove(column)
        for entry in keys:
            snapshot.keys.put(entry)
        self._key_misses.forget(wanted["key"] | {hash_key(c) for c in wanted["key"]})
        snapshot.remove_users(wanted["user"])
        self._user_misses.forget(snapshot.put_users(users))
        for setting_id in wanted["setting"]:
            snapshot.settings.pop(setting_id, None)
        snapshot.settings.update((s.id, s) for s in settings)
        for name in [n for n, p in snapshot.custom_providers.items()
                     if p.provider.id in wanted["custom_provider"]]:  # fmt: skip
            del snapshot.custom_providers[name]
        snapshot.custom_providers.update((p.provider, ServedProvider.of(p)) for p in customs)

    # -- read-through -------------------------------------------------------------------------

    def key(self, secret_hash: str, stale: Key | None) -> Key | None:
        if stale is None and self._key_misses.known(secret_hash):
            return None
        answer = self.key_lookups.get(secret_hash)
        if answer.failed:
            return stale
        if answer.value is None:
            if stale is None:
                self._key_misses.add(secret_hash)
            return None
        return unpack_key(secret_hash, answer.value[2])

    def users(self, user_id: str) -> list[User] | None:
        if self._user_misses.known(user_id):
            return []
        answer = self.user_lookups.get(user_id)
        if answer.failed:
            return None
        if not answer.value:
            self._user_misses.add(user_id)
        return answer.value or []

    def _fetch_keys(self, hashes: list[str]) -> dict[str, CompactKey]:
        """One indexed query for the hashes (hashed keys only: an unhashed key is never sent to
        the database as a lookup value), and one each for the settings and the policies found
        keys name that the snapshot lacks (a key must never pass unfiltered because its policy,
        created just before it, is not in the snapshot yet). What was found joins (or replaces,
        for a revoked key now un-revoked) what the snapshot holds, unless the refresher changed
        the snapshot meanwhile."""
        snapshot, version = self.current, self.current.version
        found = {e[0]: e for e in self._keys.by_key_columns(hashes) if not e[1]}
        keys = [unpack_key(column, entry[2]) for column, entry in found.items()]
        missing = {sid for k in keys for sid in k.setting_ids} - snapshot.settings.keys()
        settings = ProviderSettingRepository(self._db).get_many(sorted(missing))
        for setting in settings:  # only where absent: a newer one the refresher holds wins
            snapshot.settings.setdefault(setting.id, setting)
        unknown = {k.policy_id for k in keys if k.policy_id} - snapshot.policies.keys()
        for policy in PolicyRepository(self._db).get_many(sorted(unknown)):
            snapshot.policies.setdefault(policy.id, policy)
        if self.current is snapshot and snapshot.version == version:
            # Not when the refresher applied changes meanwhile: this read may predate them.
            for entry in found.values():
                snapshot.keys.put(entry)
        return found

    def _fetch_users(self, user_ids: list[str]) -> dict[str, list[User]]:
        snapshot, version = self.current, self.current.version
        # A NUL cannot be in a stored userId (the admin API refuses it; PostgreSQL cannot hold it).
        user_ids = [user_id for user_id in user_ids if "\x00" not in user_id]
        if not user_ids:
            return {}
        users = UserRepository(self._db).find(UserFilter(user_ids=user_ids))
        if self.current is snapshot and snapshot.version == version:
            snapshot.put_users(users)
        grouped: dict[str, list[User]] = defaultdict(list)
        for user in users:  # find() gives creation order
            grouped[user.user_id].append(user)
        return dict(grouped)

    # -- background loop ----------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="snapshot-refresh", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        log.info(
            "read-through lookups: %d key queries for %d unknown keys (%d shed), "
            "%d user queries for %d unknown userIds; %d full loads; changes applied in at most "
            "%.1f ms",
            self.key_lookups.queries, self.key_lookups.asked, self.key_lookups.shed,
            self.user_lookups.queries, self.user_lookups.asked, self.full_loads,
            self.max_apply_ms,
        )  # fmt: skip

    def _run(self) -> None:
        # A change (a revocation, a deletion) must apply within IN_MEMORY_DB_UPDATE_INTERVAL of
        # the admin's answer: it waits for the next refresh to start, then for that refresh to
        # finish. Starting one every half interval, at a fixed rate, leaves the other half for the
        # refresh itself (a version check when nothing changed: one indexed query).
        period = self._interval / 2
        next_start = time.monotonic() + period
        while not self._stopped.wait(max(0.0, next_start - time.monotonic())):
            started = time.monotonic()
            self.refresh_now()
            took = time.monotonic() - started
            if took > period:
                log.warning("config refresh took %.2f s: changes may apply later than "
                            "IN_MEMORY_DB_UPDATE_INTERVAL", took)  # fmt: skip
            next_start = max(next_start + period, time.monotonic())
