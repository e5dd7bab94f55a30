"""Policies stored on SQLite and PostgreSQL alike: round trip, tag filter, delete guard, versions."""

from __future__ import annotations

import dataclasses

import pytest

from app.domain.entities import Key, hash_key
from app.domain.policies import Policy, RegexRule
from app.proxy.snapshot import load_snapshot
from app.storage.keys import KeyRepository
from app.storage.policies import PolicyInUse, PolicyRepository
from app.storage.versioning import current_config_version


def _policy(policy_id="p1", **changes):
    policy = Policy(
        id=policy_id, created_at=10, updated_at=10, name="privacy", tags=("org-1", "eu"),
        rules={"email": "allow_but_redact", "ssn": "block"},
        regex_rules=(RegexRule(r"\bproject-[a-z]+\b", "allow_but_warn"),),
        redact_responses=True, on_detector_failure="allow",
    )  # fmt: skip
    return dataclasses.replace(policy, **changes)


def test_round_trip_keeps_every_field_and_null_configs(database):
    repo = PolicyRepository(database)
    full = repo.create(_policy())
    bare = repo.create(_policy("p2", created_at=11, rules=None, regex_rules=None, tags=()))
    assert repo.get("p1") == full and repo.get("p2") == bare
    assert bare.rules is None and bare.regex_rules is None
    assert repo.get("nope") is None and repo.exists("p1") and not repo.exists("nope")


def test_find_by_tags_needs_every_tag(database):
    repo = PolicyRepository(database)
    repo.create(_policy("p1"))
    repo.create(_policy("p2", created_at=11, tags=("org-1",)))
    assert [p.id for p in repo.find(["org-1"])] == ["p1", "p2"]
    assert [p.id for p in repo.find(["org-1", "eu"])] == ["p1"]
    assert repo.find(["other"]) == []
    assert [p.id for p in repo.all()] == ["p1", "p2"]


def test_every_write_bumps_the_config_version_and_reaches_the_snapshot(database):
    repo = PolicyRepository(database)
    start = current_config_version(database)
    repo.create(_policy())
    changed = repo.replace(_policy(rules={"phone": "block"}, updated_at=20))
    snapshot = load_snapshot(database)
    assert snapshot.policies == {"p1": changed}
    assert repo.delete("p1") is True and repo.delete("p1") is False
    assert current_config_version(database) == start + 3
    assert load_snapshot(database).policies == {}


def test_a_policy_named_by_a_key_cannot_be_deleted(database):
    repo = PolicyRepository(database)
    repo.create(_policy())
    KeyRepository(database).create(
        Key(
            key_id="k1",
            name="k",
            key=hash_key("s"),
            created_at=1,
            updated_at=1,
            setting_ids=("s1",),
            policy_id="p1",
        )  # fmt: skip
    )
    with pytest.raises(PolicyInUse):
        repo.delete("p1")
    assert repo.exists("p1")
