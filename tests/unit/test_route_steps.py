"""Where a route step's call goes: its provider's own endpoint (Azure's deployment and
api-version, DeepInfra's OpenAI path), with the key's setting for that provider."""

from __future__ import annotations

import pytest

from app.domain.entities import Key, ProviderSetting
from app.domain.routes import Route, RouteStep
from app.errors import ProxyError
from app.providers.base import OperationKind
from app.proxy.context import ProxyRequest, RequestContext
from app.proxy.route_steps import route_for, step_calls, step_endpoint
from app.proxy.snapshot import Snapshot

AZURE = RouteStep("azure", "gpt-4o", params={"deploymentId": "dep", "apiVersion": "2024-06-01"})


def route(*steps: RouteStep) -> Route:
    return Route("r1", "name", "/p/chat", 0, 0, steps, ("k",))


def setting(sid: str, provider: str, **fields: str) -> ProviderSetting:
    return ProviderSetting(sid, provider, 0, 0, {"apikey": "sk", **fields})


def test_route_paths_resolve_at_both_prefixes_and_nothing_else():
    routes = {"/p/chat": route(AZURE)}
    assert route_for(routes, "/api/route/p/chat") is route_for(routes, "/api/routes/p/chat")
    assert route_for(routes, "/api/route/p/chat") is not None
    assert route_for(routes, "/api/route/other") is None
    assert route_for(routes, "/api/providers/openai/v1/chat/completions") is None


def test_each_step_calls_its_providers_url_with_the_keys_setting_and_its_own_body():
    settings = {"s1": setting("s1", "openai"), "s2": setting("s2", "azure", resourceName="res"),
                "s3": setting("s3", "deepinfra")}  # fmt: skip
    key = Key("k", "n", "h", 0, 0, setting_ids=("s2", "s1", "s3"))
    steps = (AZURE, RouteStep("deepinfra", "m", request_params={"temperature": 0.1}))
    request = ProxyRequest("POST", "/api/route/p/chat", "", {}, b'{"messages":[],"x":1}')
    ctx = RequestContext(request, 0.0, parsed={"messages": [], "x": 1})
    calls = step_calls(ctx, route(*steps), key, OperationKind.CHAT, Snapshot(settings=settings), 30)
    assert [c.url for c in calls] == [
        "https://res.openai.azure.com/openai/deployments/dep/chat/completions?api-version=2024-06-01",
        "https://api.deepinfra.com/v1/openai/chat/completions",
    ]
    assert calls[0].parsed == {"messages": [], "x": 1, "model": "gpt-4o"}
    assert calls[1].parsed == {"messages": [], "x": 1, "model": "m", "temperature": 0.1}
    assert [c.setting.id for c in calls] == ["s2", "s3"] and calls[0].timeout_s == 30


def test_a_provider_without_the_operation_is_a_clear_400():
    with pytest.raises(ProxyError) as refused:
        step_endpoint(
            route(RouteStep("vllm", "m")), RouteStep("vllm", "m"), OperationKind.EMBEDDINGS
        )
    assert (
        refused.value.status == 400 and "vllm has no embeddings endpoint" in refused.value.message
    )
    embeddings = step_endpoint(route(AZURE), AZURE, OperationKind.EMBEDDINGS)
    assert embeddings.operation.upstream_path == "/openai/deployments/dep/embeddings"
