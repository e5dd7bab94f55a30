"""The change log the proxy refreshes from, on SQLite and PostgreSQL: every admin write is logged
under the version it bumped to, deletions included; a proxy behind the retained log is told to
reload; compact key reads give back the same Key."""

from __future__ import annotations

import dataclasses
import threading

from app.domain.entities import CustomProvider, Key, Limits, PathConfig, User, hash_key
from app.storage.keys import CompactKeyReader, KeyRepository, unpack_key
from app.storage.provider_settings import CustomProviderRepository, ProviderSettingRepository
from app.storage.users import UserRepository
from app.storage.versioning import changes_since, current_config_version
from tests.contract.test_storage import _setting


def _key(key_id: str, secret: str, **changes) -> Key:
    key = Key(
        key_id=key_id, name="n", key=hash_key(secret), created_at=10, updated_at=10,
        setting_ids=("s1",), tags=("a",), limits=Limits(cost_limit_micros=5, rate_limit_unit="m"),
        ttl="1h", allowed_paths=(PathConfig("/p", "POST"),), should_log_response=True,
    )  # fmt: skip
    return dataclasses.replace(key, **changes)


def _seen(database, since):
    changes = changes_since(database, since)
    assert changes is not None
    return [(c.entity, c.ident) for c in changes]


def test_every_write_is_logged_under_its_version(database):
    start = current_config_version(database)
    keys, users = KeyRepository(database), UserRepository(database)
    ProviderSettingRepository(database).create(_setting())
    keys.create(_key("k1", "one"))
    keys.replace(_key("k1", "one", revoked=True))
    users.create(User(id="u1", created_at=1, updated_at=1, user_id="alice"))
    CustomProviderRepository(database).create(
        CustomProvider(id="c1", provider="mine", created_at=1, updated_at=1, route_configs=())
    )
    keys.delete("k1")
    assert current_config_version(database) == start + 6
    assert _seen(database, start) == [
        ("setting", "s1"), ("key", hash_key("one")), ("key", hash_key("one")),
        ("user", "u1"), ("custom_provider", "c1"), ("key", hash_key("one")),
    ]  # fmt: skip
    assert _seen(database, start + 4) == [("custom_provider", "c1"), ("key", hash_key("one"))]
    changes = changes_since(database, start)
    assert changes is not None and [c.seq for c in changes] == list(range(start + 1, start + 7))


def test_a_changed_secret_logs_the_old_one_too(database):
    keys = KeyRepository(database)
    keys.create(_key("k1", "old"))
    start = current_config_version(database)
    keys.replace(_key("k1", "new"))
    assert sorted(_seen(database, start)) == [("key", hash_key("new")), ("key", hash_key("old"))]


def test_a_proxy_behind_the_log_must_reload(database):
    KeyRepository(database).create(_key("k1", "one"))
    KeyRepository(database).create(_key("k2", "two"))
    version = current_config_version(database)
    assert changes_since(database, version - 2) is not None
    database.execute("DELETE FROM config_changes WHERE seq <= %s", (version - 1,))
    assert changes_since(database, version - 2) is None  # version - 1 is gone: reload everything
    assert _seen(database, version - 1) == [("key", hash_key("two"))]


def test_concurrent_writers_get_distinct_gapless_versions(database):
    start = current_config_version(database)
    keys = KeyRepository(database)
    errors: list[Exception] = []

    def create(index: int) -> None:
        try:
            keys.create(_key(f"k{index}", f"secret-{index}"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    changes = changes_since(database, start)
    assert changes is not None
    assert [c.seq for c in changes] == list(range(start + 1, start + 9))
    assert sorted(c.ident for c in changes) == sorted(hash_key(f"secret-{i}") for i in range(8))


def test_compact_reads_give_back_the_stored_key(database):
    keys = KeyRepository(database)
    stored = [keys.create(_key(f"k{i}", f"secret-{i}", revoked=i == 2)) for i in range(5)]
    raw = keys.create(_key("raw", "x", key="plain-secret", is_key_not_hashed=True))
    reader = CompactKeyReader(database)
    first, rest = reader.page(None, 4), []
    rest = reader.page(first[-1][0], 100)
    pages = first + rest
    assert [entry[0] for entry in pages] == sorted(k.key for k in [*stored, raw])
    assert {unpack_key(column, packed) for column, _, packed in pages} == {*stored, raw}
    found = reader.by_key_columns([hash_key("secret-3"), "plain-secret", "nobody"])
    assert {(column, raw_flag) for column, raw_flag, _ in found} == {
        (hash_key("secret-3"), False),
        ("plain-secret", True),
    }
