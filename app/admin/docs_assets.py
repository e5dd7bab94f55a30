"""The Swagger UI files of the docs page (/api/docs), served by the admin app itself.

They come from the `swagger-ui-bundle` package, so the docs work offline and behind firewalls
that block CDNs, and the UI's version is pinned with the other dependencies.
"""

from __future__ import annotations

import flask
from swagger_ui_bundle import swagger_ui_path

URL_PREFIX = "/api/docs/assets/"  # flask-smorest's OPENAPI_SWAGGER_UI_URL

blp = flask.Blueprint("docs_assets", __name__)


@blp.get(f"{URL_PREFIX}<path:filename>")
def asset(filename: str) -> flask.Response:
    # send_from_directory refuses paths that leave the directory (404).
    return flask.send_from_directory(str(swagger_ui_path), filename, max_age=3600)
