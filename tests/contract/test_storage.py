"""The same storage cases on SQLite and PostgreSQL: round trips, uniqueness, reopen, migrations."""

from __future__ import annotations

import dataclasses

import pytest

from app.domain.entities import Key, Limits, PathConfig, ProviderSetting, hash_key
from app.storage.database import UniqueViolation
from app.storage.keys import KeyFilter, KeyRepository
from app.storage.migrate import migrate
from app.storage.postgres import PostgresDatabase
from app.storage.provider_settings import ProviderSettingRepository
from app.storage.sqlite import SqliteDatabase
from app.storage.versioning import current_config_version
from tests.conftest import pg_dsn


def _setting(setting_id="s1", provider="openai"):
    return ProviderSetting(id=setting_id, provider=provider, created_at=1, updated_at=1,
                           setting={"apikey": "sk-x"}, allowed_models=("gpt-4o",),
                           cost_map={"promptCostPerModel": {"m": 0.5}})  # fmt: skip


def _key(key_id="k1", secret="secret", **changes):
    key = Key(
        key_id=key_id, name="name", key=hash_key(secret), created_at=10, updated_at=10,
        setting_ids=("s1",), tags=("a", "b"),
        limits=Limits(cost_limit_micros=250_000, rate_limit_over_time=2, rate_limit_unit="m"),
        ttl="2d", allowed_paths=(PathConfig("/api/providers/openai/v1/chat/completions", "POST"),),
        should_log_request=True, rotation_enabled=True,
    )  # fmt: skip
    return dataclasses.replace(key, **changes)


def test_key_round_trip_and_filters(database):
    settings = ProviderSettingRepository(database)
    settings.create(_setting())
    repo = KeyRepository(database)
    key = repo.create(_key())
    repo.create(_key("k2", "other", tags=("b",), setting_ids=("s2",)))
    assert repo.get("k1") == key
    assert [k.key_id for k in repo.find(KeyFilter(tags=["a", "b"]))] == ["k1"]
    assert [k.key_id for k in repo.find(KeyFilter(tags=["b"]))] == ["k1", "k2"]
    assert [k.key_id for k in repo.find(KeyFilter(setting_ids=["s2"]))] == ["k2"]
    assert repo.find(KeyFilter(setting_ids=[])) == []
    assert repo.count(KeyFilter(key_ids=["k2", "zz"])) == 1


def test_unique_secret(database):
    repo = KeyRepository(database)
    repo.create(_key())
    with pytest.raises(UniqueViolation):
        repo.create(_key("k2"))
    assert [k.key_id for k in repo.find(KeyFilter())] == ["k1"]


def test_changes_bump_the_config_version(database):
    start = current_config_version(database)
    repo = KeyRepository(database)
    repo.create(_key())
    repo.replace(dataclasses.replace(repo.get("k1"), revoked=True))
    repo.delete("k1")
    assert current_config_version(database) == start + 3


def test_setting_round_trip(database):
    repo = ProviderSettingRepository(database)
    created = repo.create(_setting())
    assert repo.get("s1") == created
    changed = repo.replace(dataclasses.replace(created, name="n", setting={"apikey": "new"}))
    assert repo.get("s1") == changed and repo.ids_for_provider("openai") == ["s1"]


def test_migrations_apply_once(database):
    assert migrate(database) == []


def test_sqlite_file_keeps_everything_after_reopen(tmp_path):
    path = str(tmp_path / "db.sqlite")
    db = SqliteDatabase(path)
    migrate(db)
    KeyRepository(db).create(_key())
    db.close()
    reopened = SqliteDatabase(path)
    assert KeyRepository(reopened).get("k1") == _key()
    reopened.close()


@pytest.mark.postgres
def test_postgres_keeps_everything_with_a_new_pool(pg_schema):
    db = PostgresDatabase(pg_dsn(pg_schema))
    migrate(db)
    ProviderSettingRepository(db).create(_setting())
    db.close()
    again = PostgresDatabase(pg_dsn(pg_schema))
    assert ProviderSettingRepository(again).get("s1") == _setting()
    again.close()
