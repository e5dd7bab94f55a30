"""Which requests the proxy's fast WSGI entry serves itself, and which it leaves to Flask."""

from __future__ import annotations

import io

import pytest

from app.proxy.fast_path import ProxyEntry


def environ(method: str = "POST", path: str = "/api/providers/openai/v1/chat/completions", **extra: str) -> dict:
    return {"REQUEST_METHOD": method, "PATH_INFO": path, "wsgi.input": io.BytesIO(b""), **extra}


@pytest.mark.parametrize(("case", "env", "plain"), [
    ("json post", environ(CONTENT_TYPE="application/json", CONTENT_LENGTH="20"), True),
    ("get", environ("GET", "/api/providers/openai/v1/models"), True),
    ("multipart upload", environ(CONTENT_TYPE="multipart/form-data; boundary=x", CONTENT_LENGTH="20"), False),
    ("preflight", environ("OPTIONS"), False),
    ("head", environ("HEAD"), False),
    ("health", environ("GET", "/api/health"), False),
    ("over the size limit", environ(CONTENT_LENGTH="101"), False),
    ("bad length", environ(CONTENT_LENGTH="-1"), False),
])  # fmt: skip
def test_only_plain_proxy_requests_skip_flask(case, env, plain):
    entry = ProxyEntry(lambda e, s: [b""], runtime=None, max_body=100)  # type: ignore[arg-type]
    assert entry._is_plain(env) is plain, case
