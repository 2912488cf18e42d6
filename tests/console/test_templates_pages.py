"""The console's template and extension pages over HTTP in process: forms that keep input and show errors by
their fields, the live draft check, the prefilled extension form, bulk tool switches, 403 and 404."""

from __future__ import annotations

import re
from typing import Any

import httpx2
import pytest

from harness.processes import free_port
from hub.app import create_app
from hub.principal import Role
from hub.settings import Settings
from tests.conftest import LiveHub, serve
from tests.console.proxy import PrefixProxy
from tests.console.support import add_user, csrf_of, set_password, sign_in
from tests.extension_support import stdio_test_server
from tests.teams_support import make_team, make_user

pytestmark = pytest.mark.anyio

FILESYSTEM = "io.github.modelcontextprotocol/server-filesystem"


async def admin_tool(live_hub: LiveHub, tool: str, /, **arguments: Any) -> dict[str, Any]:
    async with live_hub.http(live_hub.admin_token) as http:
        response = await http.post(f"/api/tools/{tool}", json=arguments)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def editor_form(csrf: str, **fields: Any) -> dict[str, Any]:
    """The editor's fields as the browser posts them (parameter columns repeated, one value per row)."""
    form: dict[str, Any] = {"csrf": csrf, **{k: str(v) for k, v in fields.items() if k != "params"}}
    for column in ("key", "type", "requirement", "default", "description", "sample"):
        form[f"param_{column}"] = [row.get(column, "") for row in fields.get("params", [])]
    return form


TWO = [
    {"key": "who", "type": "string", "requirement": "required", "description": "Who to greet", "sample": "Ada"},
    {"key": "times", "type": "number", "requirement": "optional", "default": "2", "sample": "3"},
]


async def test_the_editor_creates_a_template_with_two_parameters_and_lists_it(live_hub: LiveHub) -> None:
    await set_password(live_hub.context.db, "admin")
    async with live_hub.http() as http:
        await sign_in(http, "admin")
        page = await http.get("/ui/templates/-new")
        assert page.status_code == 200 and 'id="template-form"' in page.text
        fields = {"name": "greet", "title": "Greet", "prompt": "Hello {{ who }} x{{ times }}", "tags": "demo, hi"}
        made = await http.post("/ui/templates/-new", data=editor_form(csrf_of(page.text), **fields, params=TWO))
        assert made.status_code == 303 and made.headers["location"] == "/ui/templates/greet?saved=1"
        edit = await http.get(made.headers["location"])
        assert 'value="who"' in edit.text and 'value="times"' in edit.text and "Saved (version 1)." in edit.text
        listed = await http.get("/ui/templates", params={"tag": "demo"})
        others = await http.get("/ui/templates", params={"search": "no such words"})
    assert "/ui/templates/greet" in listed.text and "who*, times" in listed.text
    assert "/ui/templates/greet" not in others.text
    saved = await admin_tool(live_hub, "template_get", name="greet")
    assert [p["key"] for p in saved["parameters"]] == ["who", "times"] and saved["tags"] == ["demo", "hi"]
    assert saved["parameters"][1]["default"] == 2  # converted to the parameter's type by template_create


async def test_a_wrong_form_shows_each_error_by_its_field_and_keeps_the_input(live_hub: LiveHub) -> None:
    await set_password(live_hub.context.db, "admin")
    async with live_hub.http() as http:
        await sign_in(http, "admin")
        page = await http.get("/ui/templates/-new")
        bad = {"name": "Bad Name", "title": "", "prompt": "Hi {{ who }}"}
        response = await http.post("/ui/templates/-new", data=editor_form(csrf_of(page.text), **bad))
        assert response.status_code == 422
        assert 'id="err-name"' in response.text and "should match pattern" in response.text
        assert "at least 1 character" in response.text and 'value="Bad Name"' in response.text
        undeclared = {"name": "ok-name", "title": "T", "prompt": "Hi {{ who }} and {{ nobody }}"}
        rules = await http.post(
            "/ui/templates/-new", data=editor_form(csrf_of(response.text), **undeclared, params=TWO[:1])
        )
    assert rules.status_code == 422
    assert "{{ nobody }} is used but not declared" in rules.text  # next to the parameters
    assert "Hi {{ who }} and {{ nobody }}" in rules.text and 'value="who"' in rules.text
    async with live_hub.http(live_hub.admin_token) as api:
        assert (await api.post("/api/tools/template_get", json={"name": "ok-name"})).status_code == 404


async def test_the_draft_check_renders_the_preview_and_names_the_wrong_field(live_hub: LiveHub) -> None:
    await set_password(live_hub.context.db, "admin")
    async with live_hub.http() as http:
        page = await sign_in(http, "admin")
        csrf = csrf_of(page)
        fields = {"name": "", "title": "Greet", "prompt": "Hello {{ who }} x{{ times }}"}
        good = await http.post("/ui/templates/-draft", data=editor_form(csrf, **fields, params=TWO))
        fields["prompt"] = "Read the files in my notes directory and {{ who }} {{ times }} {{ ghost }}"
        wrong = await http.post("/ui/templates/-draft", data=editor_form(csrf, **fields, params=TWO))
        typed = await http.post(
            "/ui/templates/-draft",
            data=editor_form(
                csrf, **{**fields, "prompt": "{{ who }} {{ times }}"}, params=[TWO[0], {**TWO[1], "sample": "many"}]
            ),
        )
    assert good.status_code == 200 and good.headers["content-type"] == "application/json"
    assert good.json()["prompt"] == "Hello Ada x3" and good.json()["errors"] == {}
    answer = wrong.json()
    assert answer["prompt"] is None and "{{ ghost }} is used but not declared" in answer["errors"]["parameters"]
    assert f'value="add:{FILESYSTEM}"' in answer["recommendations"]  # the catalog ranks it for this prompt
    assert set(typed.json()["errors"]) == {"sample:times"}


async def test_accepting_a_recommendation_installs_it_and_attaches_it_to_the_template(live_hub: LiveHub) -> None:
    await set_password(live_hub.context.db, "admin")
    async with live_hub.http() as http:
        await sign_in(http, "admin")
        page = await http.get("/ui/templates/-new")
        fields = {
            "name": "notes",
            "title": "Notes",
            "prompt": "Read the files in my notes directory",
            "then": f"add:{FILESYSTEM}",
        }
        saved = await http.post("/ui/templates/-new", data=editor_form(csrf_of(page.text), **fields))
        assert saved.status_code == 303
        assert (
            saved.headers["location"] == f"/ui/extensions/add?catalog={FILESYSTEM.replace('/', '%2F')}&template=notes"
        )
        form = await http.get(saved.headers["location"])
        assert form.status_code == 200 and 'name="var_directory"' in form.text
        assert (
            "A directory the server may access" in form.text
            and "It will be attached to the template notes" in form.text
        )
        data = {"csrf": csrf_of(form.text), "catalog": FILESYSTEM, "template": "notes", "name": "filesystem"}
        missing = await http.post("/ui/extensions/add", data=data)
        assert missing.status_code == 422 and 'id="err-var-directory"' in missing.text
        done = await http.post("/ui/extensions/add", data={**data, "var_directory": "/srv/notes"})
        assert done.status_code == 303 and done.headers["location"] == "/ui/templates/notes?attached=filesystem"
        back = await http.get(done.headers["location"])
    assert "Attached the extension filesystem" in back.text and 'value="filesystem"' in back.text
    assert (await admin_tool(live_hub, "template_get", name="notes"))["extensions"] == ["filesystem"]
    ext = await admin_tool(live_hub, "extension_get", name="filesystem")
    assert ext["config"]["args"][-1] == "/srv/notes" and ext["source"] == f"catalog:{FILESYSTEM}"


async def test_a_secret_variable_is_picked_from_the_vault(live_hub: LiveHub) -> None:
    await set_password(live_hub.context.db, "admin")
    await admin_tool(live_hub, "secret_set", name="GITHUB_PERSONAL_ACCESS_TOKEN", value="ghp_example_value")
    async with live_hub.http() as http:
        await sign_in(http, "admin")
        form = await http.get("/ui/extensions/add", params={"catalog": "github"})
        assert '<option value="GITHUB_PERSONAL_ACCESS_TOKEN" selected>' in form.text
        assert "ghp_example_value" not in form.text
        data = {
            "csrf": csrf_of(form.text),
            "catalog": "github",
            "name": "github",
            "pick_GITHUB_PERSONAL_ACCESS_TOKEN": "GITHUB_PERSONAL_ACCESS_TOKEN",
        }
        done = await http.post("/ui/extensions/add", data=data)
    assert done.status_code == 303 and done.headers["location"].startswith("/ui/extensions?note=")
    ext = await admin_tool(live_hub, "extension_get", name="github")
    assert ext["config"]["env_keys"] == ["GITHUB_PERSONAL_ACCESS_TOKEN"]


async def test_tools_are_switched_off_and_on_in_bulk(live_hub: LiveHub) -> None:
    await set_password(live_hub.context.db, "admin")
    added = await admin_tool(live_hub, "extension_add", extension=stdio_test_server("toy"))
    assert added["start_error"] is None and "toy__echo" in added["extension"]["tools"]
    async with live_hub.http() as http:
        await sign_in(http, "admin")
        page = await http.get("/ui/extensions", params={"q": "toy__e", "sel": "toy__add"})
        assert 'value="toy__echo"' in page.text and 'value="toy__env"' in page.text
        assert 'name="sel" value="toy__add" class="kept"' in page.text  # picked in an earlier search
        sel = ["toy__add", "toy__echo"]
        off = await http.post(
            "/ui/extensions/tools", data={"csrf": csrf_of(page.text), "action": "disable", "sel": sel}
        )
        assert off.status_code == 303
        after = await admin_tool(live_hub, "extension_get", name="toy")
        assert "toy__echo" not in after["tools"] and "toy__env" in after["tools"]
        assert set(after["left_out"]) == {"add", "echo"}
        listed = await http.get("/ui/extensions", params={"q": "toy__"})
        assert "Turned 2 tools off." in (await http.get(off.headers["location"])).text
        on = await http.post(
            "/ui/extensions/tools", data={"csrf": csrf_of(listed.text), "action": "enable", "sel": sel}
        )
        assert on.status_code == 303
        none = await http.post("/ui/extensions/tools", data={"csrf": csrf_of(listed.text), "action": "disable"})
    assert none.status_code == 422 and "Pick at least one tool" in none.text
    back = await admin_tool(live_hub, "extension_get", name="toy")
    assert "toy__echo" in back["tools"] and back["left_out"] == [] and "available_tools" not in back["config"]


async def test_check_shows_what_the_extension_answers(live_hub: LiveHub) -> None:
    await set_password(live_hub.context.db, "admin")
    await admin_tool(live_hub, "extension_add", extension=stdio_test_server("toy"), start=False)
    async with live_hub.http() as http:
        page = await sign_in(http, "admin")
        checked = await http.post("/ui/extensions/toy/check", data={"csrf": csrf_of(page)})
    assert checked.status_code == 200 and 'id="check-result"' in checked.text and "it answers" in checked.text


async def test_a_viewer_may_read_templates_but_every_edit_post_is_403(live_hub: LiveHub) -> None:
    await admin_tool(live_hub, "template_create", name="shared", title="Shared", prompt="Hi.", visibility="public")
    await add_user(live_hub.context.db, "vic", Role.viewer)
    async with live_hub.http() as http:
        dashboard = await sign_in(http, "vic")
        assert "/ui/templates" in dashboard and "/ui/extensions" not in dashboard  # no extensions.read
        csrf = csrf_of(dashboard)
        assert (await http.get("/ui/templates/shared")).status_code == 200
        builtin = await http.get("/ui/templates/meeting-summary")
        assert builtin.status_code == 200 and 'id="builtin"' in builtin.text
        assert (await http.get("/ui/templates/-new")).status_code == 403
        more = await http.post("/ui/templates/-new", data=editor_form(csrf, name="x", then="add_param"))
        assert more.status_code == 403
        fields = {"name": "mine", "title": "Mine", "prompt": "Hi."}
        assert (await http.post("/ui/templates/-new", data=editor_form(csrf, **fields))).status_code == 403
        edit = await http.post("/ui/templates/shared", data=editor_form(csrf, **{**fields, "name": "shared"}))
        assert edit.status_code == 403 and "templates.manage" in edit.text
        assert (await http.get("/ui/extensions")).status_code == 403
        toggle = await http.post("/ui/extensions/tools", data={"csrf": csrf, "action": "disable", "sel": "a__b"})
        assert toggle.status_code == 403
        add = await http.post("/ui/extensions/add", data={"csrf": csrf, "catalog": FILESYSTEM, "var_directory": "/"})
    assert add.status_code == 403
    assert (await admin_tool(live_hub, "template_get", name="shared"))["version"] == 1


async def test_another_team_s_template_is_404_to_read_and_to_edit(live_hub: LiveHub) -> None:
    db = live_hub.context.db
    await make_team(db, "alpha")
    await make_user(db, "olga", teams={await make_team(db, "beta"): "admin"})  # may manage templates in beta only
    await set_password(db, "olga")
    await admin_tool(live_hub, "template_create", name="secretive", title="Ours", prompt="Hi.", team="alpha")
    async with live_hub.http() as http:
        dashboard = await sign_in(http, "olga")
        page = await http.get("/ui/templates/secretive")
        assert page.status_code == 404 and "Ours" not in page.text
        fields = {"name": "secretive", "title": "Theirs now", "prompt": "Bye."}
        post = await http.post("/ui/templates/secretive", data=editor_form(csrf_of(dashboard), **fields))
        listed = await http.get("/ui/templates")
    assert post.status_code == 404 and "/ui/templates/secretive" not in listed.text
    assert (await admin_tool(live_hub, "template_get", name="secretive"))["title"] == "Ours"


async def test_the_draft_endpoint_answers_json_only_with_a_session(live_hub: LiveHub) -> None:
    async with live_hub.http() as http:
        response = await http.post("/ui/templates/-draft", data={"csrf": "x", "prompt": "Hi"})
    assert response.status_code == 303 and "/ui/signin" in response.headers["location"]


async def test_the_catalog_lists_entries_and_an_extension_s_env_keys_are_picked_from_the_vault(
    live_hub: LiveHub,
) -> None:
    await set_password(live_hub.context.db, "admin")
    await admin_tool(live_hub, "secret_set", name="TOY_TOKEN", value="toy-secret-value")
    await admin_tool(live_hub, "extension_add", extension=stdio_test_server("toy"), start=False)
    async with live_hub.http() as http:
        await sign_in(http, "admin")
        catalog = await http.get("/ui/extensions/add", params={"q": "github"})
        assert (
            catalog.status_code == 200 and "/ui/extensions/add?catalog=io.github.modelcontextprotocol" in catalog.text
        )
        page = await http.get("/ui/extensions/toy/edit")
        assert 'name="env_keys" value="TOY_TOKEN"' in page.text and "toy-secret-value" not in page.text
        data = {"csrf": csrf_of(page.text), "env_keys": "TOY_TOKEN", "timeout": "soon", "enabled": "yes"}
        wrong = await http.post("/ui/extensions/toy/edit", data=data)
        assert wrong.status_code == 422 and 'id="err-timeout"' in wrong.text and 'value="soon"' in wrong.text
        assert 'value="TOY_TOKEN" checked' in wrong.text
        done = await http.post("/ui/extensions/toy/edit", data={**data, "csrf": csrf_of(wrong.text), "timeout": "20"})
    assert done.status_code == 303
    ext = await admin_tool(live_hub, "extension_get", name="toy")
    assert ext["config"]["env_keys"] == ["TOY_TOKEN"] and ext["config"]["timeout"] == 20 and ext["enabled"]


async def test_on_a_sub_path_the_editor_posts_and_redirects_under_it(settings: Settings) -> None:
    proxy_port = free_port()
    public = f"http://127.0.0.1:{proxy_port}/goosuke"
    app = create_app(settings.model_copy(update={"public_url": public}))
    async with serve(app, settings.port) as url:
        await set_password(app.state.goosuke.db, "admin")
        async with (
            serve(PrefixProxy(url, "/goosuke"), proxy_port),
            httpx2.AsyncClient(base_url=public.removesuffix("/goosuke"), timeout=30) as http,
        ):
            await sign_in(http, "admin", base="/goosuke/ui")
            page = await http.get("/goosuke/ui/templates/-new")
            assert 'data-draft="/goosuke/ui/templates/-draft"' in page.text
            assert 'src="/goosuke/ui/static/templates.js"' in page.text
            fields = {"name": "far", "title": "Far", "prompt": "Read my notes directory", "then": f"add:{FILESYSTEM}"}
            form = editor_form(csrf_of(page.text), **fields)
            draft = await http.post("/goosuke/ui/templates/-draft", data=form)
            made = await http.post("/goosuke/ui/templates/-new", data=form)
    assert draft.status_code == 200 and f'value="add:{FILESYSTEM}"' in draft.json()["recommendations"]
    assert made.headers["location"].startswith("/goosuke/ui/extensions/add?catalog=")


async def test_the_editor_lists_the_versions_and_shows_a_diff_of_two(live_hub: LiveHub) -> None:
    await admin_tool(live_hub, "template_create", name="noted", title="Noted", prompt="Line one\nLine two")
    await admin_tool(live_hub, "template_update", name="noted", prompt="Line one\n<b>Line 2</b> & more")
    await admin_tool(live_hub, "template_update", name="noted", title="Noted again")
    await add_user(live_hub.context.db, "vic", Role.viewer)  # templates.read is enough to read the history
    async with live_hub.http() as http:
        await sign_in(http, "vic")
        edit = await http.get("/ui/templates/noted")
        assert edit.status_code == 200 and 'id="history"' in edit.text
        assert [int(v) for v in re.findall(r'<tr class="version" data-version="(\d+)"', edit.text)] == [3, 2, 1]
        assert "changed prompt" in edit.text and "changed title" in edit.text and "created" in edit.text
        assert 'href="/ui/templates/noted/diff?a=2&amp;b=3"' in edit.text and 'id="compare"' in edit.text
        diff = await http.get("/ui/templates/noted/diff", params={"a": "1", "b": "2"})
        latest = await http.get("/ui/templates/noted/diff")  # default: the current version and the one before
        same = await http.get("/ui/templates/noted/diff", params={"a": "3", "b": "3"})
        missing = await http.get("/ui/templates/noted/diff", params={"a": "1", "b": "9"})
        bad = await http.get("/ui/templates/noted/diff", params={"a": "one"})
    assert diff.status_code == 200 and 'id="diff"' in diff.text
    assert '<span class="diff-del">-  Line two</span>' in diff.text
    assert '<span class="diff-add">+  &lt;b&gt;Line 2&lt;/b&gt; &amp; more</span>' in diff.text  # escaped
    assert "<b>Line 2</b>" not in diff.text and 'class="diff-hunk"' in diff.text and "style=" not in diff.text
    assert '<span class="diff-add">+title: Noted again</span>' in latest.text
    assert same.status_code == 200 and 'id="diff-same"' in same.text
    assert missing.status_code == 404 and "no stored version 9" in missing.text
    assert bad.status_code == 422 and "must be a version number" in bad.text


async def test_another_team_s_history_and_diff_are_404(live_hub: LiveHub) -> None:
    db = live_hub.context.db
    await make_team(db, "alpha")
    await make_user(db, "olga", teams={await make_team(db, "beta"): "admin"})
    await set_password(db, "olga")
    await admin_tool(live_hub, "template_create", name="secretive", title="Ours", prompt="Hi.", team="alpha")
    await admin_tool(live_hub, "template_update", name="secretive", prompt="Hi there.")
    async with live_hub.http() as http:
        await sign_in(http, "olga")
        diff = await http.get("/ui/templates/secretive/diff", params={"a": "1", "b": "2"})
    assert (
        diff.status_code == 404 and "Hi there" not in diff.text and "No template named &#39;secretive&#39;" in diff.text
    )


async def test_the_draft_of_a_saved_template_is_checked_by_template_update_s_dry_run(live_hub: LiveHub) -> None:
    await set_password(live_hub.context.db, "admin")
    await admin_tool(
        live_hub, "template_create", name="greet", title="Greet", prompt="Hello {{ who }}", parameters=[{"key": "who"}]
    )
    async with live_hub.http() as http:
        page = await sign_in(http, "admin")
        csrf = csrf_of(page)
        fields = {"name": "greet", "title": "Greet", "prompt": "Hi {{ who }}!", "version": "1"}
        good = await http.post("/ui/templates/-draft", data=editor_form(csrf, **fields, params=TWO[:1]))
        taken = await http.post(  # a new template's name that is taken: the name's error, as a save would say
            "/ui/templates/-draft", data=editor_form(csrf, **{**fields, "version": ""}, params=TWO[:1])
        )
        await admin_tool(live_hub, "template_update", name="greet", title="Changed meanwhile")
        stale = await http.post("/ui/templates/-draft", data=editor_form(csrf, **fields, params=TWO[:1]))
    assert good.status_code == 200 and good.json() == {**good.json(), "errors": {}, "prompt": "Hi Ada!"}
    assert "exists already" in taken.json()["errors"]["name"]
    assert "someone changed it" in stale.json()["errors"]["form"]
    saved = await admin_tool(live_hub, "template_get", name="greet")
    assert (saved["version"], saved["prompt"]) == (2, "Hello {{ who }}")  # the dry runs wrote nothing
    history = await admin_tool(live_hub, "template_history", name="greet")
    assert history["total"] == 2


async def test_a_viewer_s_draft_renders_nothing_as_over_mcp(live_hub: LiveHub) -> None:
    await add_user(live_hub.context.db, "vic", Role.viewer)
    async with live_hub.http() as http:
        page = await sign_in(http, "vic")
        fields = {"name": "meeting-summary", "title": "T", "prompt": "Hello {{ who }}", "version": "1"}
        draft = await http.post("/ui/templates/-draft", data=editor_form(csrf_of(page), **fields, params=TWO[:1]))
    # a viewer may render only a template one may see (template_render), never any text one types
    assert draft.status_code == 200 and draft.json()["errors"] == {} and draft.json()["prompt"] is None


async def test_templates_named_new_and_draft_open_and_save_like_any_other(live_hub: LiveHub) -> None:
    await set_password(live_hub.context.db, "admin")
    async with live_hub.http() as http:
        await sign_in(http, "admin")
        for name in ("new", "draft"):
            page = await http.get("/ui/templates/-new")
            fields = {"name": name, "title": name.title(), "prompt": "Hello {{ who }}"}
            made = await http.post("/ui/templates/-new", data=editor_form(csrf_of(page.text), **fields, params=TWO[:1]))
            assert made.headers["location"] == f"/ui/templates/{name}?saved=1"
            edit = await http.get(f"/ui/templates/{name}")
            assert edit.status_code == 200 and f'value="{name.title()}"' in edit.text
            changed = {**fields, "title": "Changed", "version": "1"}
            saved = await http.post(
                f"/ui/templates/{name}", data=editor_form(csrf_of(edit.text), **changed, params=TWO[:1])
            )
            assert saved.status_code == 303 and saved.headers["location"] == f"/ui/templates/{name}?saved=2"
