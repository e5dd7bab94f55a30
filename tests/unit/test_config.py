"""Settings come from the environment once; a bad value names its variable."""

from __future__ import annotations

import pytest

from app.config import ConfigError, Settings


def test_defaults_are_the_embedded_backends():
    settings = Settings.from_env({})
    assert not settings.uses_postgres and not settings.uses_redis
    assert settings.admin_port == 8001 and settings.proxy_port == 8002
    assert settings.in_memory_db_update_interval == 1.0
    assert settings.proxy_timeout == 600.0 and settings.redis_write_timeout == 0.5
    assert settings.number_of_event_message_consumers == 3


def test_values_are_parsed():
    settings = Settings.from_env({
        "POSTGRESQL_HOSTS": "db1, db2", "REDIS_HOSTS": "r", "PROXY_TIMEOUT": "1m30s",
        "POSTGRESQL_READ_TIME_OUT": "2m", "ADMIN_PASS": "pw", "RATE_LIMIT_FAIL_OPEN": "false",
    })  # fmt: skip
    assert settings.postgresql_hosts == ("db1", "db2") and settings.uses_redis
    assert settings.proxy_timeout == 90.0 and settings.postgresql_read_timeout == 120.0
    assert settings.rate_limit_fail_open is False
    assert "pw" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value"),
    [("PROXY_TIMEOUT", "soon"), ("ADMIN_PORT", "70000"), ("REDIS_PORT", "abc"),
     ("NUMBER_OF_EVENT_MESSAGE_CONSUMERS", "0"), ("POSTGRESQL_SSL_MODE", "maybe"),
     ("COST_LIMIT_FAIL_OPEN", "sometimes"), ("IN_MEMORY_DB_UPDATE_INTERVAL", "0s")],
)  # fmt: skip
def test_bad_values_name_the_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})
