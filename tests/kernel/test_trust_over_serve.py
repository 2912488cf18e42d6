"""Issue 11's findings reproduced through the real `goosuke serve`, where they were made over HTTP: an
operator cannot send a secret or the hub's key to its own URL (2) nor hand a Goose run extensions it may
not have (3); a run's structured_output and the environment's keys are masked in what the hub stores
and returns (5); password checks back off per address, queue for the same threads for unknown users
and leave /healthz answering (7); unsigned requests and replays do not use up a hook's limit (8); hostile
recipe YAML is a 4xx naming the field (9); /readyz shows no vault key id (10)."""

from __future__ import annotations

import base64
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from sqlalchemy import select

from harness.doubles.llm import LLMDouble, Say, Step
from harness.processes import hub_env, serving
from hub.db import Database
from hub.db.models import Execution, ExecutionLogLine
from hub.principal import Role
from hub.settings import Settings
from hub.templates.recipes import MAX_RECIPE_DEPTH
from hub.triggers.webhooks import sign_hmac
from hub.vault.keys import generate_key, key_id
from tests.kernel.test_visibility import _client, _tool
from tests.runners import test_runners as runner_tests
from tests.templates.test_rendering import ALIAS_BOMB
from tests.triggers.test_webhooks_trust import _hook
from tests.vault.test_masking import rows_text

pytestmark = pytest.mark.anyio

listener = runner_tests.listener  # the fixture: a local TCP listener that records whatever reaches it

PASSWORD = "a-long-password"


@dataclass
class Served:
    url: str
    data: Path
    admin: str
    log: Path


@contextmanager
def served(tmp_path: Path, database_url: str, port: int, **env: str) -> Iterator[Served]:
    """`goosuke serve` on its first start: the admin token from DATA_DIR, stderr in serve.log."""
    data, log = tmp_path / "data", tmp_path / "serve.log"
    with serving(hub_env(data, database_url, **env), port, log=log):
        yield Served(f"http://127.0.0.1:{port}", data, (data / "admin.token").read_text().strip(), log)


async def token_for(hub: Served, role: Role) -> str:
    """An API token of a new user with ``role``, made over HTTP by the admin."""
    username = f"{role.value}-user"
    async with _client(hub.url, hub.admin) as admin:
        made = await _tool(admin, "user_create", username=username, password=PASSWORD, role=role.value)
        assert made.status_code == 200, made.text
        token = await _tool(admin, "token_create", name=username, role=role.value, username=username)
        assert token.status_code == 200, token.text
    return str(token.json()["token"])


async def until_final(http: httpx2.AsyncClient, execution_id: str) -> dict[str, Any]:
    with anyio.fail_after(60):
        while True:
            got = await _tool(http, "execution_get", id=execution_id)
            assert got.status_code == 200, got.text
            if got.json()["status"] not in ("queued", "running"):
                return dict(got.json())
            await anyio.sleep(0.1)


async def stored_rows(database_url: str) -> str:
    """Every execution and log line row of the served hub's database, as text."""
    db = Database(Settings(database_url=database_url).resolved_database_url)
    try:
        async with db.session() as session:
            return rows_text(list(await session.scalars(select(Execution)))) + rows_text(
                list(await session.scalars(select(ExecutionLogLine)))
            )
    finally:
        await db.dispose()


async def test_an_operator_cannot_send_a_vault_secret_or_the_hub_key_to_its_own_url(
    tmp_path: Path, database_url: str, port: int, listener: list[bytes]
) -> None:
    evil = f"http://127.0.0.1:{int(listener[0])}/v1"
    hub_key, vault_key = "sk-hub-key-canary-5a1c", "sk-vault-key-canary-7e2d"
    async with LLMDouble([Say("from the admin's runner"), Say("from the hub's openai")]) as llm:
        env = {"GOOSUKE_OPENAI_API_KEY": hub_key, "GOOSUKE_OPENAI_BASE_URL": llm.base_url}
        with served(tmp_path, database_url, port, **env) as hub:
            async with _client(hub.url, hub.admin) as admin:
                assert (await _tool(admin, "secret_set", name="LLM_KEY", value=vault_key)).status_code == 200
                runner = {"name": "local", "agent": "openai", "base_url": llm.base_url, "api_key_secret": "LLM_KEY"}
                assert (await _tool(admin, "runner_create", **runner)).status_code == 200
            note = {"title": "T", "prompt": "Say hi.", "agent": "openai"}
            async with _client(hub.url, await token_for(hub, Role.operator)) as op:
                for fields in ({"base_url": evil}, {"api_key_secret": "LLM_KEY", "base_url": evil}):
                    refused = await _tool(op, "template_create", name="mine", **note, agent_settings=fields)
                    assert refused.status_code == 403, refused.text
                    assert "agent_settings.base_url" in refused.json()["detail"] and "runner_create" in refused.text
                assert (await _tool(op, "template_create", name="mine", **note)).status_code == 200
                retarget = await _tool(op, "template_update", name="mine", agent_settings={"base_url": evil})
                assert retarget.status_code == 403, retarget.text
                for tool in ("runner_create", "runner_update"):  # nor make or repoint the runner with the key
                    refused = await _tool(op, tool, name="local", agent="openai", base_url=evil)
                    assert refused.status_code == 403, refused.text
                assert (await _tool(op, "template_create", name="ask", **note, runner="local")).status_code == 200
                for name in ("ask", "mine"):
                    ran = await _tool(op, "template_run", name=name, wait=30)
                    assert ran.status_code == 200 and ran.json()["status"] == "succeeded", ran.text
        assert "Traceback" not in hub.log.read_text()
    assert listener[1:] == []  # nothing reached the operator's URL
    assert llm.authorizations == [f"Bearer {vault_key}", f"Bearer {hub_key}"]  # each key went where the admin said


async def test_a_goose_run_started_by_an_operator_gets_no_admin_only_disabled_or_builtin_extension(
    tmp_path: Path, database_url: str, port: int
) -> None:
    env = {"GOOSUKE_GOOSE_BIN": sys.executable, "GOOSUKE_GOOSE_PROVIDER": "openai", "GOOSUKE_GOOSE_MODEL": "m"}
    with served(tmp_path, database_url, port, **env) as hub:
        stdio = {"type": "stdio", "cmd": sys.executable, "args": ["-c", "pass"]}
        async with _client(hub.url, hub.admin) as admin:
            for name, extra in (("root-tools", {"role": "admin"}), ("off-tools", {"enabled": False})):
                added = await _tool(admin, "extension_add", extension={**stdio, "name": name}, start=False, **extra)
                assert added.status_code == 200, added.text
            shell = await _tool(admin, "runner_create", name="shell", agent="goose", builtins=["developer"])
            assert shell.status_code == 200, shell.text
        async with _client(hub.url, await token_for(hub, Role.operator)) as op:
            for name in ("root-tools", "off-tools", "developer"):
                made = await _tool(op, "template_create", name=f"g-{name}", title="G", prompt="hi", extensions=[name])
                assert made.status_code == 200, made.text
                refused = await _tool(op, "template_run", name=f"g-{name}", wait=5)
                assert refused.status_code == 403, refused.text
                assert name in refused.json()["detail"] and "may not have" in refused.json()["detail"]
            # the runner an admin granted `developer` on does pass it (the run then fails: python is no goose)
            granted = {
                "name": "g-granted",
                "title": "G",
                "prompt": "hi",
                "runner": "shell",
                "extensions": ["developer"],
            }
            assert (await _tool(op, "template_create", **granted)).status_code == 200
            ran = await _tool(op, "template_run", name="g-granted", wait=30)
            assert ran.status_code == 200, ran.text
            assert "may not have" not in (ran.json()["error"] or "")
        async with _client(hub.url, hub.admin) as admin:
            hook = await _tool(admin, "webhook_create", name="w", template="g-root-tools", auth="token")
            assert hook.status_code == 200, hook.text
            fired = await admin.post("/hooks/w", json={}, headers={"Authorization": f"Bearer {hook.json()['secret']}"})
            assert fired.status_code == 202, fired.text
            run = await until_final(admin, fired.json()["execution_id"])  # a trigger runs with the operator role
            assert run["status"] == "failed" and "root-tools" in run["error"] and "admin role" in run["error"]
            listed = (await _tool(admin, "execution_list")).json()
            assert listed["total"] == 2  # the refused runs were never written
    assert "Traceback" not in hub.log.read_text()


async def test_structured_output_and_environment_keys_are_masked_in_what_serve_stores_and_returns(
    tmp_path: Path, database_url: str, port: int
) -> None:
    vault_value, env_key = "vault-canary-0b7e41d2", "sk-env-canary-93c6f0a1"
    answer = {"token": vault_value, "nested": [{"key": env_key}], env_key: "as a key"}
    script: list[Step] = [Say(json.dumps(answer)), Say(f"plain {env_key} and {vault_value}")]
    async with LLMDouble(script, api_key=env_key) as llm:  # a model that echoes what it saw
        env = {"GOOSUKE_OPENAI_API_KEY": env_key, "GOOSUKE_OPENAI_BASE_URL": llm.base_url}
        with served(tmp_path, database_url, port, **env) as hub:
            async with _client(hub.url, hub.admin) as admin:
                assert (await _tool(admin, "secret_set", name="PRINTED_TOKEN", value=vault_value)).status_code == 200
            operator = await token_for(hub, Role.operator)
            shown: list[str] = []
            async with _client(hub.url, operator) as op:
                schema = {"response_schema": {"type": "object"}}
                for name, settings in (("answer", schema), ("plain", {})):
                    note = {"name": name, "title": "T", "prompt": "Say it.", "agent": "openai"}
                    assert (await _tool(op, "template_create", **note, agent_settings=settings)).status_code == 200
                    ran = await _tool(op, "template_run", name=name, wait=30)
                    assert ran.status_code == 200 and ran.json()["status"] == "succeeded", ran.text
                    for token in (operator, hub.admin):
                        async with _client(hub.url, token) as reader:
                            for tool in ("execution_get", "execution_logs"):
                                got = await _tool(reader, tool, id=ran.json()["id"])
                                assert got.status_code == 200, got.text
                                shown.append(got.text)
                            shown.append((await _tool(reader, "execution_list")).text)
                structured = json.loads(shown[0])["structured_output"]
        stored = await stored_rows(database_url)
    assert llm.authorizations == [f"Bearer {env_key}"] * 2  # the key really was the hub's, and used
    assert structured == {
        "token": "[secret PRINTED_TOKEN]",
        "nested": [{"key": "[secret GOOSUKE_OPENAI_API_KEY]"}],
        "[secret GOOSUKE_OPENAI_API_KEY]": "as a key",
    }
    log = hub.log.read_text()
    for secret in (vault_value, env_key):
        for where, text in (
            ("execution_get/logs/list", "".join(shown)),
            ("the database", stored),
            ("serve's log", log),
        ):
            assert secret not in text, f"{secret} in {where}"
    assert "plain [secret GOOSUKE_OPENAI_API_KEY] and [secret PRINTED_TOKEN]" in stored


async def _login(http: httpx2.AsyncClient, username: str, password: str = PASSWORD) -> httpx2.Response:
    return await http.post("/api/auth/token", json={"username": username, "password": password})


def _from(hub: Served, address: str, **kwargs: Any) -> httpx2.AsyncClient:
    """A client whose connections come from ``address`` (another 127.x address: another client for the hub)."""
    transport = httpx2.AsyncHTTPTransport(local_address=address, limits=httpx2.Limits(max_connections=200))
    return httpx2.AsyncClient(base_url=hub.url, transport=transport, timeout=120, **kwargs)


async def test_logins_back_off_per_address_and_check_unknown_users_off_the_loop_like_known_ones(
    tmp_path: Path, database_url: str, port: int
) -> None:
    env = {"GOOSUKE_LOGIN_BACKOFF": "600", "GOOSUKE_LOGIN_CONCURRENCY": "1"}
    with served(tmp_path, database_url, port, **env) as hub:
        async with _client(hub.url, hub.admin) as admin:
            made = await _tool(admin, "user_create", username="frank", password=PASSWORD, role="operator")
            assert made.status_code == 200, made.text
        # the per-address count: twenty wrong passwords, each for another (unknown) username
        async with _from(hub, "127.0.0.1") as guesser:
            guesses = [(await _login(guesser, f"nobody-{i}", "wrong-password")).status_code for i in range(20)]
            blocked = await _login(guesser, "frank")
        assert guesses == [401] * 20  # no username is locked by one failure
        assert blocked.status_code == 429 and "this address" in blocked.json()["detail"], blocked.text
        async with _from(hub, "127.0.0.2") as other:
            assert (await _login(other, "frank")).status_code == 200  # another address is not locked
        # a burst of unknown users: each waits for one of the password-check threads (one here), as a real
        # user's check does, so the queue fills; the event loop stays free and /healthz keeps answering
        statuses: list[tuple[int, str]] = []
        health: list[int] = []  # checked logins at each /healthz answer during the burst
        count = 100

        async def one(http: httpx2.AsyncClient, i: int) -> None:
            response = await _login(http, f"burst-{i}", "wrong-password")
            statuses.append((response.status_code, response.text))

        async with (
            _from(hub, "127.0.0.3") as burst,
            _from(hub, "127.0.0.4") as probe,
            anyio.create_task_group() as group,
        ):
            for i in range(count):
                group.start_soon(one, burst, i)
            while len(statuses) < count:
                answered = await probe.get("/healthz")
                assert answered.status_code == 200
                health.append(sum(1 for code, _ in statuses if code == 401))
        checked = sum(1 for code, _ in statuses if code == 401)
        queue_full = [text for code, text in statuses if code == 429 and "Too many logins at once" in text]
        assert {code for code, _ in statuses} <= {401, 429}
        assert queue_full, statuses[:3]  # unknown users queued for the threads: they get a real check
        assert checked >= 20
        assert sum(1 for done in health if done <= checked - 10) >= 5  # answered with ten checks still to run
    assert "Traceback" not in hub.log.read_text()


async def test_unsigned_requests_and_replays_do_not_use_up_a_hooks_rate_limit(
    tmp_path: Path, database_url: str, port: int
) -> None:
    with served(tmp_path, database_url, port) as hub:
        secret = _hook(hub.url, hub.admin)  # an hmac hook `h`
        async with _client(hub.url, hub.admin) as admin:
            assert (await _tool(admin, "webhook_update", name="h", rate_limit="3/minute")).status_code == 200

        def signed(text: str) -> tuple[bytes, dict[str, str]]:
            body, stamp = json.dumps({"text": text}).encode(), int(time.time())
            return body, {"X-Goosuke-Timestamp": str(stamp), "X-Goosuke-Signature": sign_hmac(secret, stamp, body)}

        async with httpx2.AsyncClient(base_url=hub.url, timeout=30) as http:
            unsigned = [(await http.post("/hooks/h", content=b'{"text": "x"}')).status_code for _ in range(40)]
            body, headers = signed("first")
            first = await http.post("/hooks/h", content=body, headers=headers)
            replays = [
                await http.post("/hooks/h", content=body, headers={**headers, "Idempotency-Key": f"k-{i}"})
                for i in range(5)
            ]
            later = [
                await http.post("/hooks/h", content=b, headers=h) for b, h in map(signed, ("two", "three", "four"))
            ]
    assert unsigned == [401] * 30 + [429] * 10  # the refusals have their own limit, per address
    assert first.status_code == 202, first.text
    assert [r.status_code for r in replays] == [200] * 5
    assert {r.json()["execution_id"] for r in replays} == {first.json()["execution_id"]}
    assert [r.status_code for r in later] == [202, 202, 429]  # 3/minute: the first and two more
    assert "Traceback" not in hub.log.read_text()


@pytest.mark.parametrize(
    ("recipe", "expected"),
    [
        (ALIAS_BOMB, "aliases (*name) expand it beyond"),
        ("[" * 100_000, f"nested more than {MAX_RECIPE_DEPTH} levels"),
        ("title: x\nprompt: " + "{a: " * 5_000 + "b" + "}" * 5_000, f"nested more than {MAX_RECIPE_DEPTH} levels"),
    ],
    ids=["alias-bomb", "deep-list", "deep-mapping"],
)
async def test_hostile_recipe_yaml_is_a_4xx_naming_the_recipe_over_serve(
    tmp_path: Path, database_url: str, port: int, recipe: str, expected: str
) -> None:
    with served(tmp_path, database_url, port) as hub:
        async with _client(hub.url, await token_for(hub, Role.operator)) as op:
            refused = await _tool(op, "template_import_recipe", recipe=recipe)
            assert refused.status_code == 422, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["errors"][0]["field"] == "recipe" and expected in refused.json()["detail"]
            assert (await op.get("/healthz")).status_code == 200
            assert (await _tool(op, "template_list")).status_code == 200
    assert "Traceback" not in hub.log.read_text()


async def test_readyz_shows_no_vault_key_id_without_a_token_over_serve(
    tmp_path: Path, database_url: str, port: int
) -> None:
    with served(tmp_path, database_url, port) as hub:
        key_file = hub.data / "vault.key"
        good = key_file.read_text().split()[0]
        async with _client(hub.url, hub.admin) as admin:
            assert (await _tool(admin, "secret_set", name="SEALED", value="sealed-by-the-good-key")).status_code == 200
        async with httpx2.AsyncClient(base_url=hub.url, timeout=30) as http:
            ready = await http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["vault"].startswith("ok"), ready.text
    other = generate_key()
    key_file.write_text(other + "\n")  # a wrong key: the vault is locked, the hub not ready
    with served(tmp_path, database_url, port) as hub:
        async with httpx2.AsyncClient(base_url=hub.url, timeout=30) as http:
            locked = await http.get("/readyz")
    assert locked.status_code == 503 and "vault is locked" in locked.json()["detail"], locked.text
    for kid in (key_id(base64.urlsafe_b64decode(k)) for k in (good, other)):
        assert kid not in ready.text and kid not in locked.text
