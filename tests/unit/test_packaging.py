"""Packaging and the command line: data directories are packages (no setuptools warnings on
install), `make run` installs no test tools, `--help` describes each command, `--version`."""

from __future__ import annotations

import configparser
import re
import subprocess
import sys

from setuptools import find_packages

from app.cli import COMMANDS, banner
from app.config import Settings
from tests.functional.servers import ROOT


def test_data_directories_are_packages_with_their_files_as_package_data():
    packages = find_packages(str(ROOT), include=["app", "app.*"])
    assert {"app.providers.data", "app.providers.vocab"} <= set(packages)
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    assert config["options.package_data"]["app.providers.data"].strip() == "*.json"
    assert config["options.package_data"]["app.providers.vocab"].strip() == "*.gz"


def test_make_run_installs_the_gateway_without_the_test_tools():
    makefile = (ROOT / "Makefile").read_text()
    run_stamp = re.search(r"^\$\(RUN_STAMP\):.*\n((?:\t.*\n)+)", makefile, re.M)
    assert run_stamp and "pip install --quiet .\n" in run_stamp.group(1)
    assert "[test]" not in run_stamp.group(1)
    assert re.search(r"^run: \$\(RUN_STAMP\)$", makefile, re.M)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)  # fmt: skip


def test_help_describes_each_command_and_version_prints_it():
    helped = _cli("--help")
    assert helped.returncode == 0
    flat = " ".join(helped.stdout.split())
    for name, text in COMMANDS.items():
        assert name in flat and " ".join(text.split()) in flat
    version = _cli("--version")
    assert version.returncode == 0 and re.fullmatch(
        r"python -m app\.cli \d+\.\d+\.\d+\n", version.stdout
    )
    for name in COMMANDS:
        assert _cli(name, "--help").returncode == 0


def test_banner_is_short_with_clickable_urls():
    text = banner(Settings(admin_port=8001, proxy_port=8002))
    assert len(text.splitlines()) <= 6
    assert "http://localhost:8001/api/docs" in text
    assert "http://localhost:8002/api/providers/openai/v1" in text
