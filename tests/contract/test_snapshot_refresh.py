"""The proxy's snapshot on SQLite and PostgreSQL: loaded in pages, refreshed by the change log
(only the changed rows, deletions included), and read through to the database for keys and users
it does not know yet, with bounded queries."""

from __future__ import annotations

import dataclasses
import threading
import uuid

from app.domain.entities import Key, Limits, User, hash_key
from app.proxy.snapshot import SnapshotHolder
from app.storage.keys import KeyRepository
from app.storage.provider_settings import ProviderSettingRepository
from app.storage.users import UserRepository
from tests.contract.test_storage import _setting


def _key(key_id: str, secret: str, **changes) -> Key:
    key = Key(key_id=key_id, name="n", key=hash_key(secret), created_at=10, updated_at=10,
              setting_ids=("s1",), limits=Limits(rate_limit_over_time=3, rate_limit_unit="m"))  # fmt: skip
    return dataclasses.replace(key, **changes)


def _holder(database, **options) -> SnapshotHolder:
    return SnapshotHolder(database, interval_s=60, page_size=2, **options)


def test_full_load_in_pages_then_only_changes(database):
    ProviderSettingRepository(database).create(_setting())
    keys = KeyRepository(database)
    stored = [keys.create(_key(f"k{i}", f"s{i}")) for i in range(5)]
    holder = _holder(database)
    assert [holder.current.key_for(hash_key(f"s{i}"), f"s{i}") for i in range(5)] == stored
    snapshot = holder.current

    keys.create(_key("new", "fresh"))
    keys.replace(_key("k1", "s1", revoked=True))
    keys.delete("k2")
    holder.refresh_now()
    assert holder.current is snapshot and holder.full_loads == 1  # applied in place
    assert snapshot.key_for(hash_key("fresh"), "fresh").key_id == "new"
    assert snapshot.key_for(hash_key("s1"), "s1").revoked
    assert snapshot.key_for(hash_key("s2"), "s2") is None
    assert len(snapshot.keys) == 5


def test_a_log_that_no_longer_reaches_back_reloads_everything(database):
    holder = _holder(database)
    KeyRepository(database).create(_key("k1", "one"))
    database.execute("DELETE FROM config_changes")
    holder.refresh_now()
    assert holder.full_loads == 2
    assert holder.current.key_for(hash_key("one"), "one").key_id == "k1"


def test_an_unknown_key_is_read_through_with_its_setting(database):
    holder = _holder(database)
    ProviderSettingRepository(database).create(_setting())
    KeyRepository(database).create(_key("k1", "one"))
    snapshot = holder.current
    assert snapshot.key_for(hash_key("one"), "one") is None
    found = snapshot.recheck_key(hash_key("one"), None)
    assert found is not None and found.key_id == "k1"
    assert snapshot.key_for(hash_key("one"), "one") == found  # joined the snapshot
    assert "s1" in snapshot.settings
    assert holder.key_lookups.queries == 1


def test_a_revoked_key_is_rechecked_and_an_unrevoked_one_works_at_once(database):
    keys = KeyRepository(database)
    keys.create(_key("k1", "one", revoked=True))
    holder = _holder(database)
    assert holder.current.recheck_key(hash_key("one"), None).revoked
    keys.replace(_key("k1", "one", revoked=False))
    stale = holder.current.key_for(hash_key("one"), "one")
    assert stale.revoked
    assert not holder.current.recheck_key(hash_key("one"), stale).revoked
    assert not holder.current.key_for(hash_key("one"), "one").revoked  # no recheck next time


def test_misses_are_remembered_until_a_change_names_them(database):
    holder = _holder(database, lookup_interval_s=0.0)
    snapshot = holder.current
    assert snapshot.recheck_key(hash_key("later"), None) is None
    assert snapshot.recheck_key(hash_key("later"), None) is None
    assert holder.key_lookups.queries == 1  # the second miss was remembered
    KeyRepository(database).create(_key("k1", "later"))
    holder.refresh_now()  # the change names the key: the miss is forgotten
    assert snapshot.key_for(hash_key("later"), "later").key_id == "k1"


def test_a_flood_of_unknown_keys_costs_a_bounded_number_of_queries(database):
    holder = _holder(database, lookup_interval_s=0.05)
    answers: list[Key | None] = []

    def ask() -> None:
        for _ in range(20):
            answers.append(holder.current.recheck_key(hash_key(uuid.uuid4().hex), None))

    threads = [threading.Thread(target=ask) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [None] * 400
    # 400 lookups by 20 concurrent askers: each query answers a whole batch.
    assert holder.key_lookups.queries <= 40


def test_an_unknown_user_is_read_through(database):
    holder = _holder(database)
    users = UserRepository(database)
    users.create(User(id="u1", created_at=1, updated_at=1, user_id="alice",
                      limits=Limits(rate_limit_over_time=1, rate_limit_unit="m")))  # fmt: skip
    snapshot = holder.current
    assert snapshot.users_by_user_id == {}
    fresh = snapshot.recheck_users("alice")
    assert [u.id for u in fresh] == ["u1"]
    assert [u.id for u in snapshot.users_by_user_id["alice"]] == ["u1"]
    assert snapshot.recheck_users("bob") == []


def test_user_changes_apply_in_place(database):
    users = UserRepository(database)
    users.create(User(id="u1", created_at=1, updated_at=1, user_id="alice"))
    holder = _holder(database)
    users.replace(User(id="u1", created_at=1, updated_at=2, user_id="alice", revoked=True))
    users.create(User(id="u2", created_at=2, updated_at=2, user_id="alice", tags=("t",)))
    holder.refresh_now()
    group = holder.current.users_by_user_id["alice"]
    assert [(u.id, u.revoked) for u in group] == [("u1", True), ("u2", False)]
    assert holder.full_loads == 1


def test_a_change_of_a_kind_it_cannot_apply_reloads_everything(database):
    from app.storage.versioning import bump_config_version

    holder = _holder(database)
    with database.transaction() as cursor:
        bump_config_version(cursor)  # a write that logs no entity the snapshot knows
    holder.refresh_now()
    assert holder.full_loads == 2


def test_routes_and_policies_apply_in_place(database):
    import dataclasses as dc

    from app.storage.policies import PolicyRepository
    from app.storage.routes import RouteRepository
    from tests.contract.test_policy_storage import _policy
    from tests.contract.test_route_storage import _route

    holder = _holder(database)
    routes, policies = RouteRepository(database), PolicyRepository(database)
    routes.create(_route("r1", "/prod/chat"))
    policies.create(_policy("p1"))
    holder.refresh_now()
    snapshot = holder.current
    assert list(snapshot.routes_by_path) == ["/prod/chat"] and list(snapshot.policies) == ["p1"]
    routes.delete("r1")
    policies.replace(dc.replace(_policy("p1"), name="renamed"))
    holder.refresh_now()
    assert snapshot.routes_by_path == {} and snapshot.policies["p1"].name == "renamed"
    assert holder.full_loads == 1
