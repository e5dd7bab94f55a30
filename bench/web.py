"""Small HTTP helpers for the harness (stdlib only, proxies ignored: every address is 127.0.0.1)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def request(
    method: str,
    url: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, bytes]:
    """Send one request; return (status, body) for any HTTP answer, raise OSError if none came."""
    data = (
        None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    )
    all_headers = {"Content-Type": "application/json"} if data is not None else {}
    all_headers.update(headers or {})
    req = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    try:
        with _OPENER.open(req, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def request_json(method: str, url: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
    """Like request(), with the answer parsed as JSON (None when it is not JSON)."""
    status, raw = request(method, url, body, **kwargs)
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, None


def answers(url: str) -> bool:
    """True when something answers HTTP at url (any status)."""
    try:
        request("GET", url, timeout=1.0)
    except (OSError, ValueError):
        return False
    return True


def wait_until(check: Any, timeout: float, what: str, interval: float = 0.2) -> None:
    """Call check() until it returns true; raise TimeoutError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise TimeoutError(f"{what}: not ready after {timeout:.0f} s")
