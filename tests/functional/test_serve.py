"""`make run`'s command for real: migrations, two gunicorn servers, the README's curl steps,
Ctrl-C, and a restart that keeps every key and setting."""

from __future__ import annotations

import hashlib

import pytest
import requests

from tests.functional.servers import Gateway

pytestmark = pytest.mark.slow


def _getting_started(admin: str) -> tuple[dict, dict]:
    step4 = requests.put(
        f"{admin}/api/provider-settings",
        data='{"provider":"openai","setting":{"apikey":"YOUR_OPENAI_KEY"}}',
        headers={"Content-Type": "application/json"}, timeout=5,
    )  # fmt: skip
    assert step4.status_code == 200 and "YOUR_OPENAI_KEY" not in step4.text
    step5 = requests.put(
        f"{admin}/api/key-management/keys",
        json={"name": "My Secret Key", "key": "my-secret-key", "tags": ["mykey"],
              "settingIds": [step4.json()["id"]], "rateLimitOverTime": 2, "rateLimitUnit": "m",
              "costLimitInUsd": 0.25},
        timeout=5,
    )  # fmt: skip
    assert step5.status_code == 200
    assert step5.json()["key"] == hashlib.sha256(b"my-secret-key").hexdigest()
    return step4.json(), step5.json()


def test_serve_runs_the_getting_started_flow_and_survives_a_restart(tmp_path):
    env = {"SQLITE_PATH": str(tmp_path / "bricks.db"), "ADMIN_PASS": ""}
    gateway = Gateway(env).start()
    setting, key = _getting_started(gateway.admin)
    assert requests.get(f"{gateway.proxy}/api/health", timeout=5).status_code == 200
    code, output = gateway.stop()
    assert code == 0, output
    assert "listens on 127.0.0.1 only" in output

    with Gateway(env) as again:
        keys = requests.get(f"{again.admin}/api/key-management/keys?tag=mykey", timeout=5).json()
        settings = requests.get(f"{again.admin}/api/provider-settings", timeout=5).json()
    assert keys == [key]
    assert [s["id"] for s in settings] == [setting["id"]]


def test_bad_configuration_stops_start_up_naming_the_variable(tmp_path):
    import subprocess
    import sys

    from tests.functional.servers import ROOT

    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "migrate"], cwd=ROOT, capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", "SQLITE_PATH": str(tmp_path / "x.db"), "PROXY_TIMEOUT": "later"},
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 2 and "PROXY_TIMEOUT" in result.stderr
