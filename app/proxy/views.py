"""The proxy's Flask surface: the only module that reads flask.request. It turns the request into
a ProxyRequest, runs the pipeline, and turns the ProxyResponse back into a Flask response."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import flask

from app.proxy.context import ProxyRequest
from app.proxy.pipeline import ProxyRuntime, handle

blp = flask.Blueprint("proxy", __name__)

_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
_CORS = [("Access-Control-Allow-Origin", "*")]


def _runtime() -> ProxyRuntime:
    runtime: ProxyRuntime = flask.current_app.extensions["bricks"].runtime["proxy"]
    return runtime


def _proxy_request() -> ProxyRequest:
    request = flask.request
    body = request.get_data(cache=True)
    form_fields: dict[str, str] = {}
    if request.mimetype == "multipart/form-data":
        form_fields = {name: request.form[name] for name in ("model", "user") if name in request.form}
    return ProxyRequest(
        method=request.method,
        path=request.path,
        query=request.query_string.decode("latin-1"),
        headers=cast(Mapping[str, str], request.headers),
        body=body,
        form_fields=form_fields,
    )


@blp.route("/", defaults={"rest": ""}, methods=_METHODS)
@blp.route("/<path:rest>", methods=_METHODS)
def proxy(rest: str) -> Any:
    answer = handle(_proxy_request(), _runtime())
    response = flask.Response(answer.body, status=answer.status, headers=answer.headers + _CORS)
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
