"""The README stands alone and its table lists every environment variable the gateway reads."""

from __future__ import annotations

import re

from app.config import SERVER_VARIABLES, VARIABLES
from tests.functional.servers import ROOT

README = (ROOT / "README.md").read_text()


def test_the_table_lists_every_variable_with_its_default_and_meaning():
    rows = dict(re.findall(r"^\| `([A-Z0-9_]+)` \| (.*) \|$", README, re.M))
    for name, (default, meaning) in {**VARIABLES, **SERVER_VARIABLES}.items():
        assert name in rows, name
        assert rows[name] == (f"`{default}`" if default else "") + f" | {meaning}", name


def test_every_variable_read_in_the_code_is_in_the_table():
    names = set()
    for path in [*ROOT.glob("app/**/*.py"), ROOT / "gunicorn.conf.py"]:
        text = path.read_text()
        names |= set(re.findall(r"(?:os\.environ|env)(?:\.get\(|\[)\s*\"([A-Z][A-Z0-9_]+)\"", text))
    listed = set(VARIABLES) | set(SERVER_VARIABLES)
    assert names - listed == set()


def test_no_path_outside_the_repository_and_no_borrowed_steps():
    assert not re.search(r"(?<!\.)\.\./", README) and "/work/" not in README
    assert not re.search(r"steps? \d+ (and \d+ )?of BricksLLM", README)


def test_getting_started_shows_setting_url_and_an_sdk_key_without_a_rate_limit():
    start = README.index("## Getting started")
    section = README[start : README.index("\n## ", start + 1)]
    assert '"setting":{"apikey":"YOUR_KEY","url":"http://localhost:8000"}' in section
    sdk = section[section.index("For an SDK") :]
    key = re.search(r"-d '(\{.*?\})'", sdk, re.S)
    assert key and "rateLimit" not in key.group(1) and "my-sdk-key" in sdk
