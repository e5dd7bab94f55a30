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


def test_database_url_fills_the_postgresql_settings():
    settings = Settings.from_env({"DATABASE_URL": "postgres://u%40x:p%2Fw@db.example:6543/gw"})
    assert settings.uses_postgres and settings.postgresql_hosts == ("db.example",)
    assert settings.postgresql_port == 6543 and settings.postgresql_db_name == "gw"
    assert (settings.postgresql_username, settings.postgresql_password) == ("u@x", "p/w")
    assert settings.postgresql_ssl_mode == "prefer"
    assert "p/w" not in repr(settings)
    required = Settings.from_env({"DATABASE_URL": "postgresql://u:p@h/db?sslmode=require"})
    assert required.postgresql_ssl_mode == "require"


def test_bricksllm_variables_win_over_the_urls():
    settings = Settings.from_env({
        "DATABASE_URL": "postgres://u:p@url-host/db", "POSTGRESQL_HOSTS": "mine",
        "REDIS_URL": "redis://url-host:1234", "REDIS_HOSTS": "r1",
    })  # fmt: skip
    assert settings.postgresql_hosts == ("mine",) and settings.redis_hosts == ("r1",)
    assert settings.redis_port == 6379


def test_redis_url_and_rediss_for_tls():
    plain = Settings.from_env({"REDIS_URL": "redis://:secret@cache:6380/2"})
    assert plain.uses_redis and plain.redis_hosts == ("cache",) and plain.redis_port == 6380
    assert plain.redis_password == "secret" and plain.redis_db == 2 and not plain.redis_tls
    tls = Settings.from_env({"REDIS_URL": "rediss://default:pw@cache:25061?ssl_cert_reqs=none"})
    assert tls.redis_tls and not tls.redis_tls_verify and tls.redis_username == "default"


@pytest.mark.parametrize(
    ("name", "value"),
    [("DATABASE_URL", "mysql://u@h/db"), ("REDIS_URL", "http://h"), ("REDIS_URL", "redis://h/x")],
)
def test_bad_urls_name_the_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


def test_a_tls_redis_url_makes_a_tls_client():
    import redis

    from app.counters.redis import RedisOptions, make_client

    settings = Settings.from_env({"REDIS_URL": "rediss://:pw@cache:6380/1"})
    client = make_client(RedisOptions.of(settings))
    kwargs = client.connection_pool.connection_kwargs
    assert client.connection_pool.connection_class is redis.SSLConnection
    assert kwargs["db"] == 1 and kwargs["ssl_cert_reqs"] == "required"
