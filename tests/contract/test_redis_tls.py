"""REDIS_URL with rediss://: the counters talk TLS to a private TLS-only redis-server, and verify
its certificate unless told not to (self-signed certificates, as Heroku Redis has)."""

from __future__ import annotations

import subprocess
import time

import pytest

from app.config import Settings
from app.counters.base import RateLimit, Reservation
from app.counters.redis import build_redis_counters
from tests.functional.private_services import _wait_for_port
from tests.functional.servers import free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tls_port(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
         "--tls-cert-file", str(cert), "--tls-key-file", str(key), "--tls-ca-cert-file", str(cert),
         "--tls-auth-clients", "no", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_for_port(port)
        yield port
    finally:
        server.kill()
        server.wait(10)


def _counters(url: str):
    return build_redis_counters(Settings.from_env({"REDIS_URL": url}), key_prefix="tls-test:")


def test_rediss_url_counts_over_tls(tls_port):
    counters = _counters(f"rediss://127.0.0.1:{tls_port}/0?ssl_cert_reqs=none")
    assert counters.ping()
    rate = [RateLimit("key:tls", 1, "h")]
    assert isinstance(counters.admit(rate, [], 0, time.time()), Reservation)
    assert not isinstance(counters.admit(rate, [], 0, time.time()), Reservation)


def test_the_certificate_is_verified_by_default_and_plain_redis_is_refused(tls_port):
    assert not _counters(f"rediss://127.0.0.1:{tls_port}/0").ping()  # self-signed: not trusted
    assert not _counters(f"redis://127.0.0.1:{tls_port}/0").ping()  # no TLS: no answer
