"""The cache key of a route request: which answers may be served for it.

`<route id>:<sha256 of scope and the canonical request>`. The scope is the gateway key's id, so
answers never cross keys, unless the route's `cacheConfig.shareAcrossKeys` is true (then every
key of the route shares one scope). The request is the client's whole JSON body (model, messages,
tools, sampling parameters, response_format, user and anything else), minus the fields that
only choose how the answer travels (`stream`, `stream_options`), as canonical JSON: sorted keys,
no spaces. Two requests differing in any other field (temperature included) never share an
answer. Routes cannot be edited, only deleted and created again with a new id, so a route's
steps cannot change under its cached answers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

from app.domain.routes import Route

TRANSPORT_FIELDS = frozenset({"stream", "stream_options"})
SHARED_SCOPE = "*"


def normalized_request(request: Mapping[str, Any]) -> bytes:
    """The request as canonical JSON (UTF-8, sorted keys, no spaces), without transport fields."""
    kept = {name: value for name, value in request.items() if name not in TRANSPORT_FIELDS}
    return orjson.dumps(kept, option=orjson.OPT_SORT_KEYS)


def cache_scope(route: Route, key_id: str) -> str:
    return SHARED_SCOPE if route.cache_config.share_across_keys else f"key:{key_id}"


def cache_key(route: Route, key_id: str, request: Mapping[str, Any]) -> str:
    digest = hashlib.sha256()
    digest.update(cache_scope(route, key_id).encode("utf-8"))
    digest.update(b"\n")
    digest.update(normalized_request(request))
    return f"{route.id}:{digest.hexdigest()}"
