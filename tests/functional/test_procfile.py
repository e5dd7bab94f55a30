"""The Procfile as documented: `honcho start` (what `heroku local` does) runs migrations, serves
both APIs, and Ctrl-C stops everything cleanly; no process of the Procfile ends on its own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.functional.servers import ROOT, free_port, wait_until_up

pytestmark = pytest.mark.slow


def test_procfile_lines_are_long_running_processes():
    processes = dict(
        line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip()
    )
    assert set(processes) == {"web", "admin"}  # no `release:` that would stop the others


def test_honcho_start_serves_both_apis_and_stops_cleanly(tmp_path):
    honcho = Path(sys.executable).parent / "honcho"
    web_port, admin_port = free_port(), free_port()
    env = {**os.environ, "SQLITE_PATH": str(tmp_path / "bricks.db"),
           "EVENT_JOURNAL_DIR": str(tmp_path / "journal"), "ADMIN_PORT": str(admin_port),
           "PATH": f"{honcho.parent}:{os.environ['PATH']}"}  # fmt: skip
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    process = subprocess.Popen(
        [str(honcho), "start", "--port", str(web_port), "--no-prefix"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        wait_until_up(f"http://127.0.0.1:{web_port}/api/health", timeout=40)
        wait_until_up(f"http://127.0.0.1:{admin_port}/api/health", timeout=40)
        keys = requests.get(f"http://127.0.0.1:{admin_port}/api/key-management/keys", timeout=5)
        assert keys.status_code == 200 and keys.json() == []  # migrated by `web`
        ready = requests.get(f"http://127.0.0.1:{web_port}/api/health/ready", timeout=5)
        assert ready.status_code == 200, ready.text
        assert process.poll() is None  # nothing of the Procfile ended and stopped the rest
        # A response object keeps its connection open: the server would wait for that idle
        # keep-alive client up to GUNICORN_GRACEFUL_TIMEOUT before it stops.
        del keys, ready
        stopping = time.monotonic()
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=40)
        stop_s = time.monotonic() - stopping
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    text = output.decode(errors="replace")
    assert process.returncode in (0, 130), text  # 130: honcho after Ctrl-C
    assert "Traceback" not in text
    assert stop_s < 15 and text.count("Worker exiting") == 2, text  # not killed at the timeout
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{web_port}/api/health", timeout=2)
