"""The proxy's WSGI entry: ordinary proxied requests skip Flask; the others go through it.

Flask's request context, routing and response objects cost about a seventh of a proxy worker's CPU
at 64 concurrent requests (py-spy). A request to a proxy path whose body is not multipart is read
from the WSGI environ here, run through the same pipeline (`pipeline.handle`) and answered with the
same headers as `views.py`. Multipart bodies (form fields, uploads), OPTIONS preflights, HEAD,
`/api/health` and bodies over the size limit go to the Flask app, which answers them as before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

from werkzeug.datastructures import EnvironHeaders
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wsgi import get_input_stream

from app.errors import ProxyError
from app.proxy.context import ProxyRequest, error_response
from app.proxy.pipeline import ProxyRuntime, handle
from app.proxy.views import PROXY_METHODS, answer_headers

log = logging.getLogger(__name__)
WsgiApp = Callable[[dict[str, Any], Any], Iterable[bytes]]
_FLASK_ONLY_PATHS = frozenset({"/api/health"})


class ProxyEntry:
    """WSGI callable in front of the proxy's Flask app."""

    def __init__(self, flask_app: WsgiApp, runtime: ProxyRuntime, max_body: int) -> None:
        self._flask = flask_app
        self._runtime = runtime
        self._max_body = max_body

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if not self._is_plain(environ):
            return self._flask(environ, start_response)
        try:
            answer = handle(self._request(environ), self._runtime)
        except ProxyError as error:  # only the body read raises here: the pipeline answers its own
            answer = error_response(error)
        headers = answer_headers(answer)
        if isinstance(answer.body, bytes):
            headers.append(("Content-Length", str(len(answer.body))))
        start_response(f"{answer.status} {HTTP_STATUS_CODES.get(answer.status, 'UNKNOWN')}", headers)
        return [answer.body] if isinstance(answer.body, bytes) else answer.body

    def _is_plain(self, environ: dict[str, Any]) -> bool:
        length = environ.get("CONTENT_LENGTH") or "0"
        return (
            environ["REQUEST_METHOD"] in PROXY_METHODS
            and environ.get("PATH_INFO", "") not in _FLASK_ONLY_PATHS
            and not environ.get("CONTENT_TYPE", "").startswith("multipart/")
            and length.isdigit() and int(length) <= self._max_body
        )  # fmt: skip

    def _request(self, environ: dict[str, Any]) -> ProxyRequest:
        try:
            body = get_input_stream(environ, max_content_length=self._max_body).read()
        except RequestEntityTooLarge as exc:  # a chunked body that grew past the limit
            raise ProxyError(413, "request body is too large") from exc
        return ProxyRequest(
            method=environ["REQUEST_METHOD"],
            # WSGI hands the path over as latin-1; Flask (request.path) reads it as UTF-8.
            path=environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace") or "/",
            query=environ.get("QUERY_STRING", ""),
            headers=cast(Mapping[str, str], EnvironHeaders(environ)),
            body=body,
        )


def entry_for(app: Any) -> ProxyEntry:
    """The fast entry for a Flask app built by `create_app("proxy")`."""
    runtime: ProxyRuntime = app.extensions["bricks"].runtime["proxy"]
    return ProxyEntry(app.wsgi_app, runtime, int(app.config["MAX_CONTENT_LENGTH"]))



