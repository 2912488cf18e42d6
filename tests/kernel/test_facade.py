"""The HTTP facade serves the registry: tools, resources, OpenAPI, the API page, and clear problems."""

from __future__ import annotations

import pytest

from hub.principal import Role
from tests.conftest import LiveHub

pytestmark = pytest.mark.anyio


async def test_tools_are_listed_with_schemas_and_roles(live_hub: LiveHub) -> None:
    async with live_hub.http(live_hub.admin_token) as http:
        tools = {t["name"]: t for t in (await http.get("/api/tools")).json()["tools"]}
    registry = live_hub.context.registry
    assert set(tools) == set(registry.tools)
    user_create = tools["user_create"]
    assert user_create["role"] == "admin"
    assert user_create["input_schema"]["required"] == ["username", "password"]
    assert "properties" in user_create["output_schema"]


async def test_calling_a_tool_returns_its_output_model_as_json(live_hub: LiveHub) -> None:
    async with live_hub.http(live_hub.admin_token) as http:
        response = await http.post("/api/tools/hub_info", json={})
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == live_hub.context.db.kind
    assert body["transports"] == ["streamable_http", "sse", "http_facade"]
    assert body["counts"]["tools"] == len(live_hub.context.registry.tools)


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{not json", 400, "(body)"),
        (b"[1, 2]", 422, "(body)"),
        (b'"text"', 422, "(body)"),
        (b'{"username": 1, "password": "long-enough"}', 422, "username"),
        (b'{"password": "long-enough"}', 422, "username"),
        (b'{"username": "x", "password": "long-enough", "role": "emperor"}', 422, "role"),
    ],
)
async def test_bad_arguments_are_a_problem_naming_the_field(
    live_hub: LiveHub, body: bytes, status: int, field: str
) -> None:
    async with live_hub.http(live_hub.admin_token) as http:
        response = await http.post("/api/tools/user_create", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert {e["field"] for e in problem["errors"]} >= {field}
    assert "Traceback" not in response.text


async def test_unknown_tool_and_route_are_404_problems(live_hub: LiveHub) -> None:
    async with live_hub.http(live_hub.admin_token) as http:
        tool = await http.post("/api/tools/nope", json={})
        route = await http.get("/api/nowhere")
        method = await http.delete("/api/tools/whoami")
    assert tool.status_code == 404
    assert "Unknown tool 'nope'" in tool.json()["detail"]
    assert route.status_code == 404
    assert route.headers["content-type"] == "application/problem+json"
    assert method.status_code == 405


async def test_oversized_bodies_get_413(live_hub: LiveHub) -> None:
    limit = live_hub.context.settings.max_body_bytes
    big = b'{"username": "' + b"x" * limit + b'"}'
    async with live_hub.http(live_hub.admin_token) as http:
        facade = await http.post("/api/tools/whoami", content=big, headers={"Content-Type": "application/json"})
        mcp = await http.post(
            "/mcp",
            content=big,
            headers={"Content-Type": "application/json", "Accept": "application/json, text/event-stream"},
        )

        async def chunks():  # no Content-Length: the limit must hold on a streamed body too
            for _ in range(limit // 65536 + 2):
                yield b"x" * 65536

        streamed = await http.post("/api/tools/whoami", content=chunks(), headers={"Content-Type": "application/json"})
    assert facade.status_code == mcp.status_code == streamed.status_code == 413
    assert "GOOSUKE_MAX_BODY_BYTES" in facade.json()["detail"]


async def test_resources_are_listed_and_read(live_hub: LiveHub) -> None:
    async with live_hub.http(live_hub.admin_token) as http:
        listing = (await http.get("/api/resources")).json()["resources"]
        info = await http.get("/api/resources", params={"uri": "goosuke://hub/info"})
        missing = await http.get("/api/resources", params={"uri": "goosuke://nothing/here"})
    assert "goosuke://hub/info" in {r["uri"] for r in listing}
    assert info.status_code == 200
    assert info.json()["name"] == "goosuke"
    assert missing.status_code == 404


async def test_openapi_is_generated_from_the_same_models(live_hub: LiveHub) -> None:
    async with live_hub.http(live_hub.admin_token) as http:
        spec = (await http.get("/api/openapi.json")).json()
    assert spec["openapi"] == "3.1.0"
    registry = live_hub.context.registry
    for name, tool in registry.tools.items():
        operation = spec["paths"][f"/api/tools/{name}"]["post"]
        assert operation["operationId"] == name
        assert tool.role.value in operation["description"]
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        schema = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
        assert set(schema.get("properties", {})) == set(tool.input_model.model_fields)
    assert spec["paths"]["/api/auth/token"]["post"]["security"] == []


async def test_openapi_needs_a_token_but_the_api_page_is_static_and_offline(live_hub: LiveHub) -> None:
    async with live_hub.http() as http:
        assert (await http.get("/api/openapi.json")).status_code == 401
        page = await http.get("/api/docs")
        script = await http.get("/api/docs/docs.js")
        style = await http.get("/api/docs/docs.css")
        other = await http.get("/api/docs/settings.py")
    assert page.status_code == 200
    assert "/api/docs/docs.js" in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    assert "/api/tools" in script.text
    assert script.headers["content-type"].startswith("text/javascript")
    assert style.status_code == 200
    assert other.status_code == 404


async def test_metrics_count_tool_calls_by_name_outcome_and_entry(live_hub: LiveHub) -> None:
    viewer = await live_hub.token(Role.viewer)
    async with live_hub.http(live_hub.admin_token) as admin, live_hub.http(viewer) as http:
        await admin.post("/api/tools/whoami", json={})
        await http.post("/api/tools/user_list", json={})
        await admin.post("/api/tools/user_create", json={"username": 5})
        text = (await http.get("/metrics")).text
    assert 'goosuke_tool_calls_total{outcome="ok",tool="whoami",via="api"} 1.0' in text
    assert 'goosuke_tool_calls_total{outcome="denied",tool="user_list",via="api"} 1.0' in text
    assert 'goosuke_tool_calls_total{outcome="invalid",tool="user_create",via="api"} 1.0' in text
    assert 'goosuke_tool_call_seconds_bucket{le="0.001",tool="whoami"}' in text
    assert 'goosuke_http_requests_total{method="POST",route="/api/tools",status="200"}' in text
    assert "goosuke_sse_sessions_open 0.0" in text
    assert "goosuke_mcp_sessions_open" in text


async def test_readyz_reports_pending_migrations(live_hub: LiveHub) -> None:
    db = live_hub.context.db
    await db.downgrade("base")
    try:
        async with live_hub.http() as http:
            response = await http.get("/readyz")
        assert response.status_code == 503
        assert "goosuke migrate" in response.json()["detail"]
    finally:
        await db.migrate()
