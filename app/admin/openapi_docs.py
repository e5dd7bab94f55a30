"""Finishes the admin API's OpenAPI document so the docs UI can be used to try things.

Called once after the blueprints are registered (`document(api)`):
- every admin operation declares the `X-API-KEY` scheme (Authorize then sends it); the health
  endpoints are added, open to all;
- every request body has an example that the server accepts as is, in the order settings, keys,
  custom providers, users, events, reporting (only the ids of earlier answers must be filled in:
  `SETTING_ID` in the key example, path parameters);
- each endpoint's 400 shows an error of its own (its path, a detail it can really answer);
- the provider `setting` object lists its fields per provider instead of an opaque map;
- properties without a description get the BricksLLM reference's (`field_docs.py`).
"""

from __future__ import annotations

from typing import Any

from app.admin.field_docs import DESCRIPTIONS

SECURITY: list[dict[str, list[str]]] = [{"AdminKey": []}]
SETTING_ID = "SETTING_ID"  # in the key examples: the id answered by PUT /api/provider-settings

_SETTING = {"provider": "openai", "name": "my-openai", "setting": {"apikey": "YOUR_OPENAI_KEY"}}
_LOCAL_SETTING = {
    "provider": "vllm",
    "name": "local-vllm",
    "setting": {"url": "http://localhost:8000"},
}
_KEY = {
    "name": "My Secret Key",
    "key": "my-secret-key",
    "tags": ["mykey"],
    "settingIds": [SETTING_ID],
    "costLimitInUsd": 0.25,
}
_WINDOW = {"start": 1_700_000_000, "end": 1_900_000_000}

# (method, path) -> request body example; each is accepted by the server as shown.
REQUEST_EXAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("put", "/api/provider-settings"): _SETTING,
    ("post", "/api/provider-settings"): _LOCAL_SETTING,
    ("patch", "/api/provider-settings/{setting_id}"): {
        "name": "my-openai-2",
        "setting": {"apikey": "YOUR_NEW_OPENAI_KEY"},
    },
    ("put", "/api/key-management/keys"): _KEY,
    ("patch", "/api/key-management/keys/{key_id}"): {
        "name": "My Renamed Key",
        "rateLimitOverTime": 60,
        "rateLimitUnit": "m",
    },
    ("post", "/api/v2/key-management/keys"): {"tags": ["mykey"]},
    ("post", "/api/custom/providers"): {
        "provider": "my-llm",
        "route_configs": [
            {
                "path": "/chat/completions",
                "target_url": "https://api.openai.com/v1/chat/completions",
                "model_location": "model",
                "request_prompt_location": "messages.#.content",
                "response_completion_location": "choices.0.message.content",
            }
        ],
        "authentication_param": "",
    },
    ("patch", "/api/custom/providers/{provider_id}"): {"authentication_param": "x-api-key"},
    ("post", "/api/users"): {
        "name": "Alice",
        "userId": "alice",
        "tags": ["team-a"],
        "rateLimitOverTime": 120,
        "rateLimitUnit": "m",
    },
    ("patch", "/api/users"): {"name": "Alice B."},
    ("patch", "/api/users/{user_id}"): {"costLimitInUsdOverTime": 5, "costLimitInUsdUnit": "d"},
    ("post", "/api/v2/events"): {**_WINDOW, "tags": ["mykey"], "limit": 10, "returnCount": True},
    ("post", "/api/reporting/events"): {**_WINDOW, "increment": 86_400, "tags": ["mykey"]},
    ("post", "/api/reporting/top-keys"): {**_WINDOW, "limit": 5},
}
# Query parameters whose example must name something the examples above created.
PARAMETER_EXAMPLES: dict[tuple[str, str, str], Any] = {
    ("patch", "/api/users", "userId"): "alice",
    ("patch", "/api/users", "tags"): ["team-a"],
}
# A detail each endpoint really answers with a 400 (else a generic validation message).
ERROR_DETAILS: dict[tuple[str, str], str] = {
    ("put", "/api/key-management/keys"): "rateLimitUnit: required when rateLimitOverTime is set",
    (
        "patch",
        "/api/key-management/keys/{key_id}",
    ): "costLimitInUsdUnit: required when costLimitInUsdOverTime is set",
    ("put", "/api/provider-settings"): "setting: apikey required for provider openai",
    ("post", "/api/provider-settings"): "url: Unknown field.",
    ("patch", "/api/provider-settings/{setting_id}"): "provider: Unknown field.",
    ("post", "/api/custom/providers"): "route_configs: Missing data for required field.",
    ("post", "/api/users"): "name: Missing data for required field.",
    ("post", "/api/v2/events"): "end: start must be before end",
    ("post", "/api/reporting/events"): "increment: Missing data for required field.",
    ("post", "/api/reporting/top-keys"): "end: start must be before end",
    ("get", "/api/events"): "start: Not a valid integer.",
}

# The provider `setting` object, documented field by field.
SETTING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Credentials and endpoint of the provider; fields not listed here are refused "
    "(a 400 naming them). Secrets are never returned (shown as ********).",
    "properties": {
        "apikey": {
            "type": "string",
            "description": "The provider's API key (openai, anthropic, azure, deepinfra, custom "
            "providers; optional for vllm). `apiKey` is accepted as a spelling.",
            "example": "YOUR_OPENAI_KEY",
        },
        "url": {
            "type": "string",
            "description": "Upstream base URL. Required for vllm; for the others it replaces the "
            "public endpoint (a local or self-hosted upstream, e.g. http://localhost:8000).",
            "example": "http://localhost:8000",
        },
        "resourceName": {
            "type": "string",
            "description": "Azure OpenAI only (required): calls go to "
            "https://<resourceName>.openai.azure.com.",
            "example": "YOUR_AZURE_RESOURCE_NAME",
        },
    },
    "additionalProperties": {"type": "string"},
    "example": {"apikey": "YOUR_OPENAI_KEY"},
}
_SETTING_BODY_DOCS = {
    "provider": "openai, anthropic, azure, vllm, deepinfra, or the name of a custom provider.",
    "costMap": "USD per 1K tokens by model: promptCostPerModel, completionCostPerModel, "
    "embeddingsCostPerModel (each a map of model name to price); overrides built-in prices.",
}


def document(api: Any) -> None:
    """Apply every finishing touch to `api.spec` (an apispec APISpec)."""
    spec = api.spec
    for path, operations in spec._paths.items():  # apispec keeps paths in this dict
        for method, operation in operations.items():
            if method == "parameters" or not isinstance(operation, dict):
                continue
            operation["security"] = SECURITY
            _request_example(operation, method, path)
            _parameter_examples(operation, method, path)
            _own_errors(operation, method, path)
    _document_settings(spec.components.schemas)
    _describe(spec.components.schemas)
    _health_paths(spec)


def _request_example(operation: dict[str, Any], method: str, path: str) -> None:
    example = REQUEST_EXAMPLES.get((method, path))
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body is not None and example is not None:
        body["example"] = example


def _parameter_examples(operation: dict[str, Any], method: str, path: str) -> None:
    for parameter in operation.get("parameters", []):
        if not isinstance(parameter, dict):
            continue
        example = PARAMETER_EXAMPLES.get((method, path, parameter.get("name", "")))
        if example is not None:
            parameter["example"] = example


def _own_errors(operation: dict[str, Any], method: str, path: str) -> None:
    responses = operation.setdefault("responses", {})
    if "400" in responses:
        detail = ERROR_DETAILS.get((method, path), "a field of the request is invalid")
        responses["400"] = _error(400, "validation", "bad request", detail, path)
    responses["default"] = _error(500, "internal", "internal server error", "internal server error", path)  # fmt: skip
    if "/health" not in path:
        responses["401"] = _error(401, "unauthorized", "unauthorized",
                                  "a valid X-API-KEY header is required", path)  # fmt: skip


def _error(status: int, slug: str, title: str, detail: str, path: str) -> dict[str, Any]:
    example = {"type": f"/errors/{slug}", "title": title, "status": status, "detail": detail,
               "instance": path}  # fmt: skip
    return {
        "description": title.capitalize(),
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/AdminError"},
                "example": example,
            }
        },
    }


def _document_settings(schemas: dict[str, Any]) -> None:
    for name in ("ProviderSettingCreate", "ProviderSettingUpdate"):
        properties = schemas.get(name, {}).get("properties", {})
        if "setting" in properties:
            properties["setting"] = SETTING_SCHEMA
        for field, text in _SETTING_BODY_DOCS.items():
            if field in properties:
                properties[field]["description"] = text
        if name in schemas:
            schemas[name]["additionalProperties"] = False


def _describe(schemas: dict[str, Any]) -> None:
    for schema in schemas.values():
        for name, prop in schema.get("properties", {}).items():
            if isinstance(prop, dict) and "description" not in prop and name in DESCRIPTIONS:
                if "$ref" in prop:  # OpenAPI 3.0 ignores siblings of $ref: wrap it
                    prop["allOf"] = [{"$ref": prop.pop("$ref")}]
                prop["description"] = DESCRIPTIONS[name]


def _health_paths(spec: Any) -> None:
    status = {"type": "object", "properties": {"status": {"type": "string", "example": "ok"}}}
    ready = {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["ready", "not ready"]},
            "checks": {
                "type": "object",
                "description": "database, redis, snapshot (proxy), limits_enforced (proxy): "
                "each {ok, detail}",
                "additionalProperties": {
                    "type": "object",
                    "properties": {"ok": {"type": "boolean"}, "detail": {"type": "string"}},
                },
            },
            "snapshot_age_s": {"type": "number", "description": "proxy only"},
        },
    }

    def answer(description: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {"description": description, "content": {"application/json": {"schema": schema}}}

    # Straight into the paths: apispec's flask plugin would want a view function for spec.path().
    spec._paths["/api/health"] = {
        "get": {
            "tags": ["health"],
            "summary": "Liveness: the process answers (both ports; HEAD too; no key needed).",
            "security": [],
            "responses": {"200": answer("Alive", status)},
        }
    }
    spec._paths["/api/health/ready"] = {
        "get": {
            "tags": ["health"],
            "summary": "Readiness: database, Redis, config snapshot fresh, limits enforced "
            "(both ports; no key needed).",
            "security": [],
            "responses": {
                "200": answer("Ready", ready),
                "503": answer("Not ready: the failing checks say why", ready),
            },
        }
    }
