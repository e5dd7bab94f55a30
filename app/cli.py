"""Command line: `python -m app.cli {migrate,check,serve}`; `--help` describes each, `--version`.

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
from importlib import metadata
from pathlib import Path

from app.config import ConfigError, Settings
from app.storage.database import StorageError
from app.storage.factory import open_database
from app.storage.migrate import migrate, pending_migrations

ROOT = Path(__file__).resolve().parent.parent
MIGRATE_COMMAND = "python -m app.cli migrate"
COMMANDS = {
    "migrate": "Apply the database migrations that are missing (the release step), then exit.",
    "check": "Exit 0 when the database is migrated; else print, in one line, what to run (exit 1).",
    "serve": "Migrate, then run the admin API and the proxy in the foreground (Ctrl-C stops both).",
}


def _where(settings: Settings) -> str:
    return "PostgreSQL" if settings.uses_postgres else f"SQLite at {settings.sqlite_path}"


def run_migrations(settings: Settings) -> None:
    db = open_database(settings)
    try:
        applied = migrate(db)
    finally:
        db.close()
    print(
        f"migrations: {len(applied)} applied on {_where(settings)}"
        + (f" ({', '.join(applied)})" if applied else "")
    )


def check_migrations(settings: Settings) -> int:
    """0 when migrated; else one line on stderr naming the command to run."""
    db = open_database(settings)
    try:
        pending = pending_migrations(db)
    except StorageError as exc:
        print(f"the database ({_where(settings)}) cannot be reached: {exc}", file=sys.stderr)
        return 1
    finally:
        db.close()
    if pending:
        print(
            f"the database ({_where(settings)}) is not migrated ({len(pending)} pending, "
            f"{pending[0]} first): run `{MIGRATE_COMMAND}` with the same environment",
            file=sys.stderr,
        )
        return 1
    return 0


def _gunicorn(role: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "BRICKS_ROLE": role}
    command = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")]
    return subprocess.Popen(command, env=env, cwd=ROOT)


def banner(settings: Settings) -> str:
    admin, proxy = (
        f"http://localhost:{settings.admin_port}",
        f"http://localhost:{settings.proxy_port}",
    )
    return "\n".join(
        (
            f"BricksLLM-py {version()} is starting:",
            f"  admin API   {admin}   (docs: {admin}/api/docs)",
            f"  proxy       {proxy}   (OpenAI: {proxy}/api/providers/openai/v1)",
            f"  metrics     {proxy}/metrics   health: {proxy}/api/health/ready",
            "  Ctrl-C stops both.",
        )
    )


def serve(settings: Settings) -> int:
    run_migrations(settings)
    servers = [_gunicorn("admin"), _gunicorn("proxy")]
    print(banner(settings), flush=True)

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


def version() -> str:
    try:
        return metadata.version("bricksllm-py")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m app.cli",
        description="BricksLLM-py: an AI gateway. Configuration comes from the environment "
        "(see the README's table of variables).",
    )
    top.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    commands = top.add_subparsers(dest="command", required=True, metavar="command")
    for name, text in COMMANDS.items():
        commands.add_parser(name, help=text, description=text)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "migrate":
        run_migrations(settings)
        return 0
    if args.command == "check":
        return check_migrations(settings)
    return serve(settings)


if __name__ == "__main__":
    sys.exit(main())
