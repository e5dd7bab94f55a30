"""What the metrics and the access line cost a proxied request, in CPU, without the network's noise.

The in-process gateway of tests/inproc (the production views, pipeline and accounting; a scripted
upstream; Prometheus in multiprocess mode on a temporary directory, as in a worker) serves blocks
of chat requests with both switched on and both off (`METRICS_ENABLED`, `ACCESS_LOG_ENABLED`),
alternating, and reports the process CPU per request of each and their difference. The paired
benchmark (`python -m bench.paired --base HEAD --base-env METRICS_ENABLED=false ...`) measures
the same through gunicorn, where the machine's drift is several times the difference.

Run: `.venv/bin/python -m bench.observability_cpu [--blocks 20 --requests 500]`.
"""

# ruff: noqa: E402 - gevent patches the standard library before the other imports
from __future__ import annotations

import os
import tempfile

os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="bench-metrics-"))

import gevent.monkey

gevent.monkey.patch_all()

import argparse
import statistics
import sys
import time

from app import create_app
from app.container import Container
from app.observability import access_log, metrics
from app.storage.migrate import migrate
from app.storage.sqlite import SqliteDatabase
from tests.inproc.harness import Gateway, gateway_settings

CHAT_PATH = "/api/providers/openai/v1/chat/completions"
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def switch(on: bool) -> None:
    """Both switches, as the settings set them at start (wiring.py)."""
    metrics._enabled = on
    access_log._enabled = on


def block(gateway: Gateway, key: str, requests: int) -> float:
    """CPU seconds per request of `requests` chat requests (the fake answers with usage)."""
    started = time.process_time()
    for _ in range(requests):
        response = gateway.post(CHAT_PATH, json=CHAT, key=key)
        assert response.status_code == 200, response.data
    spent = (time.process_time() - started) / requests
    gateway.events.rows.clear()
    gateway.upstream.requests.clear()
    gateway.upstream.responses.clear()
    return spent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.observability_cpu")
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--requests", type=int, default=500)
    opts = parser.parse_args(argv)
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - the access lines, for the whole run
    with tempfile.TemporaryDirectory() as directory:
        db = SqliteDatabase(f"{directory}/bricks.db")
        migrate(db)
        settings = gateway_settings(directory)
        gateway = Gateway(create_app("proxy", settings, db), Container.build(settings, db))
        access_log.configure("plain")
        metrics.current().start_refresh()  # the worker's flush loop, as in production
        key = gateway.key()
        block(gateway, key, opts.requests)  # warm-up
        spent: dict[bool, list[float]] = {True: [], False: []}
        for index in range(opts.blocks):
            for on in (index % 2 == 0, index % 2 == 1):  # alternate which goes first
                switch(on)
                spent[on].append(block(gateway, key, opts.requests))
        gateway.close()
    on, off = (statistics.median(spent[s]) * 1e6 for s in (True, False))
    diffs = [(a - b) * 1e6 for a, b in zip(spent[True], spent[False], strict=True)]
    print(f"CPU per request, median of {opts.blocks} blocks of {opts.requests}: "
          f"on {on:.1f} us, off {off:.1f} us; paired difference median "
          f"{statistics.median(diffs):.1f} us (blocks: {min(diffs):.1f} to {max(diffs):.1f})")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
