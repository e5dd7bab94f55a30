"""flask-smorest wiring for the admin API: 400s (not 422s), JSON whatever the content type (but
see app/admin/guard.py), bodies bounded in depth and free of NUL and NaN, and every error in the
admin shape `{"type", "title", "status", "detail", "instance"}`."""

from __future__ import annotations

import json
from typing import Any

import flask
import flask_smorest
from webargs import core
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException

from app.errors import BadRequest, admin_error_body
from schemas.errors import AdminErrorSchema

_SLUGS = {400: "validation", 401: "unauthorized", 404: "not-found", 405: "method-not-allowed",
          413: "request-too-large", 415: "unsupported-media-type", 500: "internal"}  # fmt: skip


class AdminParser(FlaskParser):  # type: ignore[misc]
    """Validation failures are 400; bodies parse as JSON whatever Content-Type the client sent
    (curl's -d sends form encoding, and BricksLLM never looked at the header)."""

    DEFAULT_VALIDATION_STATUS = 400

    def _raw_load_json(self, req: flask.Request) -> Any:
        data = req.get_data(cache=True)
        if not data:
            return core.missing
        try:
            document = json.loads(data, parse_constant=_refuse_constant)
        except RecursionError as exc:
            raise BadRequest(f"body: JSON nested deeper than {MAX_JSON_DEPTH} levels") from exc
        check_json(document)
        return document


MAX_JSON_DEPTH = 32  # the deepest admin body (a key's allowedPaths) is 3 levels


def _refuse_constant(name: str) -> Any:
    raise BadRequest(f"body: {name} is not a JSON number")


def check_json(document: Any) -> None:
    """Raise BadRequest when a parsed body nests deeper than MAX_JSON_DEPTH or holds a NUL in a
    key or a string (PostgreSQL cannot store it). Iterative: no recursion on hostile input."""
    pending: list[tuple[Any, str, int]] = [(document, "body", 1)]
    while pending:
        value, where, depth = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise BadRequest(f"{where}: must not contain NUL characters")
            continue
        if not isinstance(value, (dict, list)):
            continue
        if depth > MAX_JSON_DEPTH:
            raise BadRequest(f"body: JSON nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(value, dict):
            for key, inner in value.items():
                if "\x00" in key:
                    raise BadRequest(f"{where}: keys must not contain NUL characters")
                pending.append((inner, f"{where}.{key}" if where != "body" else key, depth + 1))
        else:
            pending.extend((inner, f"{where}[{i}]", depth + 1) for i, inner in enumerate(value))


class Blueprint(flask_smorest.Blueprint):  # type: ignore[misc]
    ARGUMENTS_PARSER = AdminParser()


def flatten_messages(messages: Any, prefix: str = "", *, located: bool = True) -> list[str]:
    """marshmallow's nested messages as `field.sub: message` lines, without webargs' location key
    (the outermost level only: a body field may itself be called `path` or `query`)."""
    if isinstance(messages, dict):
        lines: list[str] = []
        for name, inner in messages.items():
            if located and name in ("json", "query", "form", "path", "view_args"):
                lines += flatten_messages(inner, "", located=False)
                continue
            label = "body" if name == "_schema" else str(name)
            path = f"{prefix}.{label}" if prefix else label
            lines += flatten_messages(inner, path, located=False)
        return lines
    if isinstance(messages, list):
        if all(isinstance(m, str) for m in messages):
            return [f"{prefix}: {' '.join(messages)}" if prefix else " ".join(messages)]
        lines = []
        for inner in messages:
            lines += flatten_messages(inner, prefix, located=False)
        return lines
    return [f"{prefix}: {messages}" if prefix else str(messages)]


def answer(payload: Any) -> flask.Response:
    """Answer JSON our own code shaped (a domain `to_wire`, a service result) as it is.

    flask-smorest passes a Response through its `@blp.response` schema unchanged: the schema still
    documents the body, without a second pass through marshmallow, which costs more than the query
    for thousands of events or data points. Use it only where the shape is built by our code."""
    return flask.jsonify(payload)


class AdminApi(flask_smorest.Api):  # type: ignore[misc]
    ERROR_SCHEMA = AdminErrorSchema

    def handle_http_exception(self, error: HTTPException) -> Any:
        data = getattr(error, "data", None) or {}
        code = error.code or 500
        if "messages" in data:
            detail = "; ".join(flatten_messages(data["messages"])) or "invalid request"
        elif code == 500:
            detail = "internal server error"
        elif code == 413:
            limit = flask.current_app.config.get("MAX_CONTENT_LENGTH")
            detail = f"the request body is larger than {limit} bytes (ADMIN_MAX_BODY_BYTES)"
        else:
            detail = data.get("message") or error.description or error.name
        body = admin_error_body(code, _SLUGS.get(code, "error"), error.name.lower(), detail,
                                flask.request.path)  # fmt: skip
        return body, code, data.get("headers") or {}
