"""Redis Sentinel settings: REDIS_SENTINEL_MASTER turns REDIS_HOSTS into the sentinels' list, bad
combinations stop start-up naming the variables, and the client built from them carries the
plain client's timeouts, pool size and TLS (no network: nothing connects before the first call)."""

from __future__ import annotations

import pytest
import redis
from redis.sentinel import SentinelManagedConnection, SentinelManagedSSLConnection

from app.config import ConfigError, Settings
from app.counters.redis import RedisOptions, make_client
from app.counters.sentinel import BlockingSentinelConnectionPool

SENTINELS = {"REDIS_HOSTS": "s1, s2:26380 ,s3", "REDIS_SENTINEL_MASTER": "main"}


def _client(**env: str) -> redis.Redis:
    client = make_client(RedisOptions.of(Settings.from_env({**SENTINELS, **env})))
    assert isinstance(client, redis.Redis)
    return client


def _sentinels(client: redis.Redis) -> list[redis.Redis]:
    return client.connection_pool.sentinel_manager.sentinels  # type: ignore[attr-defined]


def test_the_hosts_are_sentinels_on_26379_unless_a_port_is_given():
    settings = Settings.from_env({**SENTINELS, "REDIS_SENTINEL_PASSWORD": "s3cret"})
    assert settings.redis_sentinel_master == "main" and settings.uses_redis
    assert settings.redis_hosts == ("s1", "s2:26380", "s3") and settings.redis_port == 26379
    assert "s3cret" not in repr(settings)
    assert Settings.from_env({**SENTINELS, "REDIS_PORT": "5000"}).redis_port == 5000
    # Without Sentinel, REDIS_PORT's default is unchanged.
    assert Settings.from_env({"REDIS_HOSTS": "r"}).redis_port == 6379


def test_a_redis_url_names_a_sentinel_and_keeps_its_port_and_the_masters_credentials():
    settings = Settings.from_env(
        {"REDIS_URL": "redis://:pw@sentinel:26390/2", "REDIS_SENTINEL_MASTER": "main"}
    )
    assert settings.redis_hosts == ("sentinel",) and settings.redis_port == 26390
    assert settings.redis_password == "pw" and settings.redis_db == 2


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({**SENTINELS, "REDIS_CLUSTER": "true"},
         "REDIS_SENTINEL_MASTER and REDIS_CLUSTER=true exclude each other"),
        ({"REDIS_SENTINEL_MASTER": "main"},
         "REDIS_SENTINEL_MASTER needs REDIS_HOSTS listing the sentinels"),
        ({"REDIS_HOSTS": "r", "REDIS_SENTINEL_PASSWORD": "pw"},
         "REDIS_SENTINEL_PASSWORD is set without REDIS_SENTINEL_MASTER"),
    ],
)  # fmt: skip
def test_bad_combinations_stop_start_up_with_one_line(env, message):
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(env)
    assert str(raised.value) == message


def test_the_master_client_has_the_plain_clients_timeouts_pool_and_credentials():
    client = _client(REDIS_PASSWORD="data-pw", REDIS_SENTINEL_PASSWORD="sentinel-pw",
                     REDIS_READ_TIME_OUT="800ms", REDIS_WRITE_TIME_OUT="300ms",
                     REDIS_POOL_SIZE="7")  # fmt: skip
    pool = client.connection_pool
    assert isinstance(pool, BlockingSentinelConnectionPool) and pool.service_name == "main"
    # A blocking pool of REDIS_POOL_SIZE: a burst waits (1 s at most) for a free connection.
    assert pool.max_connections == 7 and pool.timeout == 1.0
    assert pool.connection_class is SentinelManagedConnection
    kwargs = pool.connection_kwargs
    assert kwargs["socket_timeout"] == 0.8 and kwargs["socket_connect_timeout"] == 0.3
    assert kwargs["password"] == "data-pw" and kwargs["retry"].get_retries() == 0
    sentinels = _sentinels(client)
    addresses = [(s.connection_pool.connection_kwargs["host"],
                  s.connection_pool.connection_kwargs["port"]) for s in sentinels]  # fmt: skip
    assert addresses == [("s1", 26379), ("s2", 26380), ("s3", 26379)]
    for sentinel in sentinels:  # every sentinel call is bounded too, with the sentinels' password
        own = sentinel.connection_pool.connection_kwargs
        assert own["socket_timeout"] == 0.8 and own["socket_connect_timeout"] == 0.3
        assert own["password"] == "sentinel-pw" and own["retry"].get_retries() == 0


def test_tls_reaches_the_master_and_the_sentinels():
    client = _client(REDIS_TLS="true", REDIS_TLS_VERIFY="false")
    assert client.connection_pool.connection_class is SentinelManagedSSLConnection
    assert client.connection_pool.connection_kwargs["ssl_cert_reqs"] == "none"
    for sentinel in _sentinels(client):
        assert sentinel.connection_pool.connection_class is redis.SSLConnection
        assert sentinel.connection_pool.connection_kwargs["ssl_cert_reqs"] == "none"


def test_without_a_sentinel_password_the_sentinels_get_none_not_the_masters():
    client = _client(REDIS_PASSWORD="data-pw")
    for sentinel in _sentinels(client):
        assert sentinel.connection_pool.connection_kwargs["password"] is None
