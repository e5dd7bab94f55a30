"""Which stored user a request is bound to: same userId, tags including all of the key's tags."""

from __future__ import annotations

from app.domain.entities import User
from app.proxy.snapshot import Snapshot, _users_by_user_id
from app.proxy.users import user_for


def user(id_: str, created_at: int, user_id: str, *tags: str) -> User:
    return User(
        id=id_, created_at=created_at, updated_at=created_at, user_id=user_id, tags=tuple(tags)
    )


def test_the_earliest_user_whose_tags_cover_the_keys_tags_applies():
    snapshot = Snapshot(users_by_user_id=_users_by_user_id([
        user("late", 20, "alice", "a", "b"), user("narrow", 5, "alice", "a"), user("early", 10, "alice", "a", "b", "c"),
        user("other", 1, "bob", "a", "b"),
    ]))  # fmt: skip
    assert user_for(snapshot, "alice", ("a", "b")).id == "early"
    assert user_for(snapshot, "alice", ("a",)).id == "narrow"
    assert user_for(snapshot, "alice", ()).id == "narrow"
    assert user_for(snapshot, "alice", ("z",)) is None
    assert user_for(snapshot, "carol", ()) is None
