"""Command line: `python -m app.cli migrate` (the release step) and `python -m app.cli serve`.

`serve` applies migrations, then runs the admin API and the proxy as two gunicorn servers in the
foreground; Ctrl-C or SIGTERM stops both cleanly.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from app.config import ConfigError, Settings
from app.storage.factory import open_database
from app.storage.migrate import migrate

ROOT = Path(__file__).resolve().parent.parent


def run_migrations(settings: Settings) -> None:
    db = open_database(settings)
    try:
        applied = migrate(db)
    finally:
        db.close()
    where = "PostgreSQL" if settings.uses_postgres else f"SQLite at {settings.sqlite_path}"
    print(
        f"migrations: {len(applied)} applied on {where}"
        + (f" ({', '.join(applied)})" if applied else "")
    )


def _gunicorn(role: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "BRICKS_ROLE": role}
    command = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")]
    return subprocess.Popen(command, env=env, cwd=ROOT)


def serve(settings: Settings) -> int:
    run_migrations(settings)
    servers = [_gunicorn("admin"), _gunicorn("proxy")]
    print(
        f"admin API on :{settings.admin_port} (docs at /api/docs), proxy on :{settings.proxy_port}"
    )

    def stop(signum: int, _frame: object) -> None:
        for server in servers:
            if server.poll() is None:
                server.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while all(server.poll() is None for server in servers):
        time.sleep(0.2)
    stop(signal.SIGTERM, None)
    return max(server.wait() for server in servers)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.cli")
    parser.add_argument("command", choices=("migrate", "serve"))
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "migrate":
        run_migrations(settings)
        return 0
    return serve(settings)


if __name__ == "__main__":
    sys.exit(main())
