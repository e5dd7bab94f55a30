"""A running gateway (real gunicorn) in front of the fake upstream, and helpers to use it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from app.storage.events import EventFilter, EventRepository
from app.storage.sqlite import SqliteDatabase
from tests.fakes.upstream import FakeUpstream
from tests.functional.servers import Gateway

REFRESH = 0.05  # IN_MEMORY_DB_UPDATE_INTERVAL in these tests


def wait_for_config() -> None:
    time.sleep(REFRESH * 6)


def start_of_a_fresh_minute(needed_s: float = 20.0) -> None:
    """Wait, if need be, until the current UTC minute has `needed_s` left: rate windows are fixed
    minutes, and a burst that straddles two of them is rightly admitted twice."""
    left = 60 - time.time() % 60
    if left < needed_s:
        time.sleep(left + 0.05)


class ProxyEnv:
    def __init__(self, gateway, upstream, sqlite_path: str) -> None:
        self.gateway = gateway
        self.upstream = upstream
        self.sqlite_path = sqlite_path

    @property
    def base_url(self) -> str:
        return f"{self.gateway.proxy}/api/providers/openai/v1"

    def create_key(self, setting_extra=None, **key_fields) -> str:
        """A fresh OpenAI setting pointing at the fake upstream and a key on it; returns the secret."""
        setting_id = self.create_setting(
            "openai", {"apikey": "sk-upstream"}, **(setting_extra or {})
        )
        return self.create_key_on([setting_id], **key_fields)

    def create_setting(self, provider: str, setting: dict, **extra) -> str:
        """A provider setting whose `url` is the fake upstream (unless `setting` names another)."""
        response = requests.put(
            f"{self.gateway.admin}/api/provider-settings",
            json={"provider": provider, "setting": {"url": self.upstream.url, **setting}, **extra},
            timeout=5,
        )
        assert response.status_code == 200, response.text
        return response.json()["id"]

    def create_key_on(self, setting_ids: list[str], **key_fields) -> str:
        """A key on the given settings; returns the secret. Used at once, as a script would: the
        proxy accepts a key on the request right after the admin API created it (read-through)."""
        secret = f"gw-{uuid.uuid4().hex}"
        key = requests.put(
            f"{self.gateway.admin}/api/key-management/keys",
            json={"name": "test", "key": secret, "settingIds": setting_ids, **key_fields},
            timeout=5,
        )
        assert key.status_code == 200, key.text
        self.last_key = key.json()
        return secret

    def patch_key(self, key_id: str, **fields) -> None:
        response = requests.patch(
            f"{self.gateway.admin}/api/key-management/keys/{key_id}", json=fields, timeout=5
        )
        assert response.status_code == 200, response.text
        wait_for_config()

    def events(self, key_id: str, expected: int | None = None, timeout: float = 5.0):
        """The key's events, waiting for `expected` of them to be written."""
        deadline = time.monotonic() + timeout
        while True:
            db = SqliteDatabase(self.sqlite_path)
            try:
                found = EventRepository(db).find(EventFilter(key_ids=[key_id]))
            finally:
                db.close()
            if expected is None or len(found) >= expected or time.monotonic() > deadline:
                return found
            time.sleep(0.05)


@contextmanager
def running_proxy(directory: Path, **env: str) -> Iterator[ProxyEnv]:
    """The fake upstream and both gunicorn servers on a fresh SQLite file; `env` adds settings."""
    path = str(directory / "bricks.db")
    defaults = {"SQLITE_PATH": path, "IN_MEMORY_DB_UPDATE_INTERVAL": f"{int(REFRESH * 1000)}ms",
                "GUNICORN_GRACEFUL_TIMEOUT": "5"}  # fmt: skip
    with FakeUpstream() as upstream, Gateway({**defaults, **env}) as gateway:
        yield ProxyEnv(gateway, upstream, path)
