"""The gateway's own errors in the shape of the provider whose path was called.

OpenAI-shaped providers (OpenAI, Azure, vLLM, DeepInfra, custom) answer
`{"error": {"code": "<status>", "message": "[BricksLLM] ...", "type": ...}}`. Anthropic's clients
read `{"type": "error", "error": {"type": ..., "message": ...}}` (DECISIONS.md: the `code` field
may stay), with Anthropic's own error type names: anthropic-python picks its exception class by
status (401 AuthenticationError, 429 RateLimitError, 404 NotFoundError...) and shows the message.
"""

from __future__ import annotations

from typing import Any

PREFIX = "[BricksLLM] "

# Anthropic's error type per status (https://docs.anthropic.com/en/api/errors); 5xx: api_error.
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def openai_error_body(status: int, message: str, error_type: str) -> dict[str, Any]:
    return {"error": {"code": str(status), "message": PREFIX + message, "type": error_type}}


def anthropic_error_type(status: int) -> str:
    found = _ANTHROPIC_TYPES.get(status)
    if found is not None:
        return found
    return "api_error" if status >= 500 else "invalid_request_error"


def anthropic_error_body(status: int, message: str, error_type: str = "") -> dict[str, Any]:
    """Anthropic's error shape; the gateway's own `error_type` is replaced by Anthropic's name
    for the status (clients branch on those names), the status stays in `code`."""
    return {
        "type": "error",
        "error": {
            "type": anthropic_error_type(status),
            "message": PREFIX + message,
            "code": str(status),
        },
    }
