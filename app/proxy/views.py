"""The proxy's Flask surface: the only module that reads flask.request. It turns the request into
a ProxyRequest, runs the pipeline, and turns the ProxyResponse back into a Flask response."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import flask

from app.observability.request_id import HEADER as REQUEST_ID_HEADER
from app.observability.request_id import request_id
from app.proxy.context import ProxyRequest
from app.proxy.pipeline import handle
from app.proxy.runtime import ProxyRuntime

blp = flask.Blueprint("proxy", __name__)

_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
# Any origin may call (the key is the credential, no cookies), and its scripts may read every
# header of the answer: Retry-After, x-request-id and the upstream's rate-limit headers.
_UPSTREAM_ID = "X-Upstream-Request-Id"
_CORS = [("Access-Control-Allow-Origin", "*"), ("Access-Control-Expose-Headers", "*")]


def _runtime() -> ProxyRuntime:
    runtime: ProxyRuntime = flask.current_app.extensions["bricks"].proxy
    return runtime


def _proxy_request() -> ProxyRequest:
    request = flask.request
    body = request.get_data(cache=True)
    form_fields: dict[str, str] = {}
    upload = None
    if request.mimetype == "multipart/form-data":
        form_fields = {
            name: request.form[name] for name in ("model", "user") if name in request.form
        }
        upload = request.files["file"].stream if "file" in request.files else None
    path = request.path
    wire_path = _wire_path(request.environ)
    return ProxyRequest(
        request_id=request_id(request.headers.get(REQUEST_ID_HEADER)),
        method=request.method,
        path=path,
        wire_path=wire_path if wire_path != path else "",
        query=request.query_string.decode("latin-1"),
        headers=cast(Mapping[str, str], request.headers),
        body=body,
        form_fields=form_fields,
        upload=upload,
    )


def _wire_path(environ: Mapping[str, Any]) -> str:
    """PATH_INFO as the client's bytes (a WSGI server decodes them as latin-1, PEP 3333), read as
    UTF-8 with undecodable bytes kept as surrogate escapes."""
    try:
        return (
            str(environ.get("PATH_INFO", "")).encode("latin-1").decode("utf-8", "surrogateescape")
        )
    except UnicodeEncodeError:  # a server that did not follow PEP 3333: its path as it is
        return str(environ.get("PATH_INFO", ""))


# Flask would otherwise answer OPTIONS on these rules itself, without CORS headers.
@blp.route("/", defaults={"rest": ""}, methods=_METHODS, provide_automatic_options=False)
@blp.route("/<path:rest>", methods=_METHODS, provide_automatic_options=False)
def proxy(rest: str) -> Any:
    request = _proxy_request()
    answer = handle(request, _runtime())
    # The gateway's CORS policy replaces the upstream's: a browser refuses two Allow-Origin values.
    headers = [(n, v) for n, v in answer.headers if not n.lower().startswith("access-control-")]
    # The answer's X-Request-Id is the gateway's (the client's own when it sent one: it is in the
    # logs and the event); an upstream's own request id stays readable under another name.
    headers = [(_UPSTREAM_ID if n.lower() == "x-request-id" else n, v) for n, v in headers]
    headers.append((REQUEST_ID_HEADER, request.request_id))
    response = flask.Response(answer.body, status=answer.status, headers=headers + _CORS)
    response.direct_passthrough = True
    return response


@blp.route("/", defaults={"rest": ""}, methods=["OPTIONS"])
@blp.route("/<path:rest>", methods=["OPTIONS"])
def preflight(rest: str) -> Any:
    """CORS preflight, answered without authentication as BricksLLM does."""
    requested = flask.request.headers.get("Access-Control-Request-Headers", "*")
    return flask.Response(status=204, headers=_CORS + [
        ("Access-Control-Allow-Methods", ", ".join(_METHODS + ["OPTIONS"])),
        ("Access-Control-Allow-Headers", requested),
        ("Access-Control-Max-Age", "86400"),
    ])  # fmt: skip
