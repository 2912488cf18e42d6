"""A template names where its result goes: its runs deliver there unless the run or trigger names its own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from hub.app import create_app
from hub.settings import Settings
from hub.templates.definition import TemplateDefinition
from tests.conftest import LiveHub, serve
from tests.deliveries.support import Receiver, call, http_destination, ok
from tests.engine_support import add_template, python_argv, until

pytestmark = pytest.mark.anyio

PLAIN_HASH = "b8cd3592ef7b0c8998c07d1773759f9ba285f40cf149f3c7b1123578d71c2308"  # name t, title T, prompt hi
DIGEST = {
    "name": "digest",
    "title": "Digest",
    "prompt": "{{ text }}",
    "parameters": [{"key": "text", "requirement": "optional", "default": "the digest"}],
    "agent": "command",
    "runner": "echo",
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"delivery_backoff": 0.05, "scheduler_enabled": False})


@pytest.fixture
async def hub(settings: Settings) -> AsyncIterator[LiveHub]:
    app = create_app(settings)
    async with serve(app, settings.port) as url:
        live = LiveHub(url, app, (settings.data_dir / "admin.token").read_text().strip())
        await add_template(live.context, "echo", argv=python_argv("import sys; print(sys.stdin.read())"))
        yield live


async def sent_to(receiver: Receiver, execution_id: str) -> list[str]:
    async def arrived() -> list[str] | None:
        found = [s["body"]["output"].strip() for s in receiver.received if s["body"]["execution_id"] == execution_id]
        return found or None

    return await until(arrived, 20, "the template's delivery")  # type: ignore[no-any-return]


async def test_a_template_with_deliver_to_delivers_its_runs_and_a_trigger_route_replaces_it(hub: LiveHub) -> None:
    async with Receiver() as team, Receiver() as other:
        await http_destination(hub, "team", team)
        await ok(hub, "destination_create", name="other", http={"url": other.url, "secret": "CALLBACK_KEY"})
        created = await ok(hub, "template_create", **DIGEST, deliver_to=["team"], announce_failures_to=["other"])
        assert created["deliver_to"] == ["team"] and created["announce_failures_to"] == ["other"]
        assert (await ok(hub, "template_get", name="digest"))["deliver_to"] == ["team"]

        run = await ok(hub, "template_run", name="digest", params={"text": "by hand"}, wait=20)
        assert await sent_to(team, run["id"]) == ["by hand"]

        await ok(hub, "schedule_create", name="nightly", template="digest", cron="0 3 * * *")
        fired = (await ok(hub, "schedule_run_now", name="nightly"))["execution"]
        assert await sent_to(team, fired["id"]) == ["the digest"]

        await ok(hub, "schedule_create", name="elsewhere", template="digest", cron="0 4 * * *", deliver_to=["other"])
        rerouted = (await ok(hub, "schedule_run_now", name="elsewhere"))["execution"]
        assert await sent_to(other, rerouted["id"]) == ["the digest"]

        own = await ok(hub, "template_run", name="digest", params={"text": "mine"}, deliver_to=["other"], wait=20)
        assert await sent_to(other, own["id"]) == ["mine"]
        deliveries = (await ok(hub, "delivery_list", destination="team"))["deliveries"]
    assert {d["execution_id"] for d in deliveries} == {run["id"], fired["id"]}  # the overridden runs went elsewhere
    assert not [s for s in team.received if s["body"]["execution_id"] in (rerouted["id"], own["id"])]


async def test_a_template_naming_an_unknown_destination_is_refused_when_saved(hub: LiveHub) -> None:
    status, body = await call(hub, "template_create", None, **DIGEST, announce_failures_to=["nowhere"])
    assert status == 422, body
    assert "nowhere" in str(body) and "destination_create" in str(body) and "announce_failures_to" in str(body)
    status, body = await call(hub, "template_get", None, name="digest")
    assert status == 404, body
    await ok(hub, "template_create", **DIGEST)
    status, body = await call(hub, "template_update", None, name="digest", deliver_to=["nowhere"])
    assert status == 422 and "nowhere" in str(body) and "deliver_to" in str(body), body
    assert (await ok(hub, "template_get", name="digest"))["deliver_to"] is None  # nothing half-changed


async def test_routes_change_a_templates_content_hash_and_their_absence_does_not() -> None:
    plain = TemplateDefinition(name="t", title="T", prompt="hi")
    assert plain.content_hash() == PLAIN_HASH  # as before templates had routes: stored hashes still match
    assert TemplateDefinition(name="t", title="T", prompt="hi", deliver_to=["team"]).content_hash() != PLAIN_HASH
