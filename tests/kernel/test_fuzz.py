"""Hypothesis sends random arguments to every registered tool through the facade: never a 5xx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.app import create_app
from hub.settings import Settings
from tests.conftest import BACKENDS, postgres_database

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


class Hub:
    def __init__(self, portal: BlockingPortal, app: Any, token: str) -> None:
        self.portal = portal
        self.app = app
        self.token = token

    def post(self, path: str, body: bytes) -> httpx2.Response:
        async def go() -> httpx2.Response:
            transport = httpx2.ASGITransport(app=self.app)
            async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1:8765") as client:
                return await client.post(
                    path,
                    content=body,
                    headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
                )

        return self.portal.call(go)


@pytest.fixture(scope="module", params=BACKENDS)
def hub(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    data: Path = tmp_path_factory.mktemp("fuzz")
    with start_blocking_portal() as portal:
        if request.param == "sqlite":
            db_cm = None
            url = f"sqlite+aiosqlite:///{data / 'goosuke.db'}"
        else:
            db_cm = portal.wrap_async_context_manager(postgres_database())
            url = db_cm.__enter__()
        try:
            app = create_app(Settings(data_dir=data, database_url=url, jwt_secret="x" * 40))
            with portal.wrap_async_context_manager(app.router.lifespan_context(app)):
                yield Hub(portal, app, (data / "admin.token").read_text().strip())
        finally:
            if db_cm is not None:
                db_cm.__exit__(None, None, None)


def arguments_for(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    fields = list(schema.get("properties", {}))
    if not fields:
        return json_values
    shaped = st.dictionaries(st.sampled_from(fields), json_values, max_size=len(fields))
    return st.one_of(shaped, json_values)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_arguments_never_cause_a_server_error(hub: Hub, data: st.DataObject) -> None:
    registry = hub.app.state.goosuke.registry
    name = data.draw(st.sampled_from(sorted(registry.tools)), label="tool")
    schema = registry.tools[name].input_model.model_json_schema()
    arguments = data.draw(arguments_for(schema), label="arguments")
    response = hub.post(f"/api/tools/{name}", json.dumps(arguments).encode())
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=200))
def test_random_bytes_as_a_body_never_cause_a_server_error(hub: Hub, body: bytes) -> None:
    response = hub.post("/api/tools/user_create", body)
    assert response.status_code in (200, 400, 409, 422), response.text


@pytest.mark.parametrize(
    ("tool", "arguments", "field"),
    [
        ("action_disable", {"name": "a\x00b"}, "name"),
        ("template_list", {"search": "x\x00"}, "search"),
        ("template_run", {"name": "echo", "params": {"text": ["ok", "bad\x00"]}}, "params.text[1]"),
        ("secret_set", {"name": "KEY", "value": "abcd", "description": "\x00"}, "description"),
    ],
)
def test_a_nul_character_in_any_argument_is_a_422_naming_its_field(
    hub: Hub, tool: str, arguments: dict[str, Any], field: str
) -> None:
    # PostgreSQL refuses NUL in text and JSON: it used to surface as a 500 from asyncpg
    response = hub.post(f"/api/tools/{tool}", json.dumps(arguments).encode())
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    assert "NUL character" in response.json()["detail"]
