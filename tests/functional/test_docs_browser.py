"""A headless Chromium opens the admin docs page and finds every operation listed.

Uses Debian's `chromium` (`apt-get install -y chromium`); skipped, saying so, where it is absent.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import requests

from tests.functional.servers import Gateway

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install -y chromium)"
)
def test_docs_page_renders_the_operation_list(tmp_path):
    with Gateway({"SQLITE_PATH": str(tmp_path / "bricks.db"), "ADMIN_PASS": ""}) as gateway:
        document = requests.get(f"{gateway.admin}/api/openapi.json", timeout=5,
                                headers={"Connection": "close"}).json()  # fmt: skip
        rendered = subprocess.run(
            [str(CHROMIUM), "--headless=new", "--no-sandbox", "--disable-gpu",
             "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}",
             "--virtual-time-budget=15000", "--dump-dom", f"{gateway.admin}/api/docs"],
            capture_output=True, text=True, timeout=90,
        )  # fmt: skip
    dom = rendered.stdout
    assert rendered.returncode == 0, rendered.stderr[-2000:]
    assert "swagger-ui" in dom and "opblock" in dom, dom[:2000]
    shown = set(re.findall(r'data-path="([^"]+)"', dom))
    assert set(document["paths"]) <= shown, set(document["paths"]) - shown
    assert "Authorize" in dom  # the security scheme gives the page its Authorize button
