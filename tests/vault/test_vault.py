"""The secrets vault: sealed at rest, keys from a 0600 file or the setting, rotation without downtime, a
wrong key reported clearly while the hub keeps serving, hub settings with a secret flag."""

from __future__ import annotations

import base64
import os
import stat

import anyio
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from hub.db.models import AuditEvent, Secret
from hub.settings import Settings
from hub.vault.keys import generate_key, key_id, parse_keys
from hub.vault.service import Vault
from tests.extension_support import call, call_error, local_hub

pytestmark = pytest.mark.anyio

VALUE = "s3cr3t-value-for-the-vault-test"


async def rows(app: object, model: type) -> list:
    async with app.db.session() as session:  # type: ignore[attr-defined]
        return list(await session.scalars(select(model)))


async def test_a_secret_is_sealed_at_rest_listed_without_value_and_revealed_only_with_an_audit(
    settings: Settings,
) -> None:
    async with local_hub(settings) as (app, mcp):
        stored = await call(mcp, "secret_set", {"name": "API_TOKEN", "value": VALUE, "description": "for tests"})
        assert stored["created"] is True
        assert VALUE not in str(stored)
        listing = await call(mcp, "secret_list")
        assert [s["name"] for s in listing["secrets"]] == ["API_TOKEN"]
        assert VALUE not in str(listing)
        assert "ok (1 key(s) from file" in listing["vault"]
        (row,) = await rows(app, Secret)
        assert VALUE not in row.ciphertext and row.ciphertext.startswith("v1.")
        assert row.key_id == app.services.get(Vault).primary_key_id
        revealed = await call(mcp, "secret_reveal", {"name": "API_TOKEN"})
        assert revealed == {"name": "API_TOKEN", "value": VALUE}
        replaced = await call(mcp, "secret_set", {"name": "API_TOKEN", "value": VALUE + "-2"})
        assert replaced["created"] is False and replaced["secret"]["description"] == "for tests"
        assert (await call(mcp, "secret_delete", {"name": "API_TOKEN"}))["deleted"] is True
        assert "No secret named 'API_TOKEN'" in await call_error(mcp, "secret_delete", {"name": "API_TOKEN"})
        actions = [(e.action, e.target) for e in await rows(app, AuditEvent) if e.action.startswith("secret")]
        assert actions == [
            ("secret.set", "API_TOKEN"),
            ("secret.reveal", "API_TOKEN"),
            ("secret.set", "API_TOKEN"),
            ("secret.delete", "API_TOKEN"),
        ]
        assert all(VALUE not in str(e.detail) for e in await rows(app, AuditEvent))
    key_file = settings.data_dir / "vault.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


async def test_bad_names_and_short_values_are_refused_with_the_rule(settings: Settings) -> None:
    async with local_hub(settings) as (_, mcp):
        assert "String should match pattern" in await call_error(mcp, "secret_set", {"name": "1BAD", "value": VALUE})
        assert "at least 4 characters" in await call_error(mcp, "secret_set", {"name": "SHORT", "value": "abc"})


async def test_a_row_moved_to_another_name_does_not_decrypt(settings: Settings) -> None:
    async with local_hub(settings) as (app, mcp):
        await call(mcp, "secret_set", {"name": "FIRST", "value": VALUE})
        await call(mcp, "secret_set", {"name": "SECOND", "value": "another-value"})
        async with app.db.session() as session:
            first = await session.scalar(select(Secret).where(Secret.name == "FIRST"))
            second = await session.scalar(select(Secret).where(Secret.name == "SECOND"))
            assert first is not None and second is not None
            second.ciphertext = first.ciphertext
        error = await call_error(mcp, "secret_reveal", {"name": "SECOND"})
        assert "cannot be decrypted" in error and VALUE not in error


async def test_rotation_with_the_key_file_reseals_everything_while_reads_go_on(settings: Settings) -> None:
    async with local_hub(settings) as (app, mcp):
        vault: Vault = app.services.get(Vault)
        for i in range(30):
            await call(mcp, "secret_set", {"name": f"S{i}", "value": f"{VALUE}-{i}"})
        old = vault.primary_key_id
        failures: list[str] = []

        async def read_during_rotation() -> None:
            for _ in range(50):
                for i in (0, 15, 29):
                    if await vault.get(f"S{i}") != f"{VALUE}-{i}":
                        failures.append(f"S{i}")
                await anyio.lowlevel.checkpoint()

        async with anyio.create_task_group() as tg:
            tg.start_soon(read_during_rotation)
            report = await call(mcp, "secret_rotate_key", {})
        assert failures == []
        assert report["reencrypted"] == 30 and report["retired_key_ids"] == [old]
        assert report["new_key_id"] != old and report["key_source"] == "file"
        assert {r.key_id for r in await rows(app, Secret)} == {report["new_key_id"]}
        assert len(parse_keys((settings.data_dir / "vault.key").read_text(), "file")) == 1
        assert stat.S_IMODE((settings.data_dir / "vault.key").stat().st_mode) == 0o600
        assert (await call(mcp, "secret_reveal", {"name": "S7"}))["value"] == f"{VALUE}-7"
        assert any(e.action == "vault.rotate" for e in await rows(app, AuditEvent))
    # a restart reads the rotated key file
    async with local_hub(settings) as (_, mcp):
        assert (await call(mcp, "secret_reveal", {"name": "S29"}))["value"] == f"{VALUE}-29"


async def test_rotation_with_setting_keys_uses_the_first_key_and_names_the_retired_one(settings: Settings) -> None:
    old, new = generate_key(), generate_key()
    settings.vault_key = SecretStr(old)
    async with local_hub(settings) as (_, mcp):
        await call(mcp, "secret_set", {"name": "TOKEN", "value": VALUE})
        error = await call_error(mcp, "secret_rotate_key", {})
        assert "Put a new key first" in error
    assert not (settings.data_dir / "vault.key").exists()
    settings.vault_key = SecretStr(f"{new},{old}")
    async with local_hub(settings) as (_, mcp):
        assert (await call(mcp, "secret_reveal", {"name": "TOKEN"}))["value"] == VALUE
        report = await call(mcp, "secret_rotate_key", {})
        assert report["key_source"] == "setting" and report["reencrypted"] == 1
        assert report["retired_key_ids"] == [key_id(base64.urlsafe_b64decode(old))]
        assert "GOOSUKE_VAULT_KEY" in report["note"]
    settings.vault_key = SecretStr(new)
    async with local_hub(settings) as (_, mcp):
        assert (await call(mcp, "secret_reveal", {"name": "TOKEN"}))["value"] == VALUE


async def test_a_wrong_key_is_reported_clearly_and_the_hub_keeps_serving(settings: Settings) -> None:
    async with local_hub(settings) as (_, mcp):
        await call(mcp, "secret_set", {"name": "TOKEN", "value": VALUE})
    key_file = settings.data_dir / "vault.key"
    original = key_file.read_text()
    key_file.write_text(generate_key() + "\n")
    async with local_hub(settings) as (app, mcp):
        error = await call_error(mcp, "secret_reveal", {"name": "TOKEN"})
        assert "does not match the stored secrets" in error and "Restore" in error
        assert "does not match" in await call_error(mcp, "secret_set", {"name": "OTHER", "value": VALUE})
        assert "wrong or missing key" in (await call(mcp, "secret_list"))["vault"]
        assert (await call(mcp, "whoami"))["role"] == "admin"  # everything else still works
        assert app.services.readiness()["vault"].startswith("unavailable")
        assert len(await rows(app, Secret)) == 1  # nothing was written
    key_file.write_text("not a key\n")
    async with local_hub(settings) as (_, mcp):
        assert "is not base64url of 32 bytes" in await call_error(mcp, "secret_reveal", {"name": "TOKEN"})
    key_file.write_text(original)
    async with local_hub(settings) as (_, mcp):
        assert (await call(mcp, "secret_reveal", {"name": "TOKEN"}))["value"] == VALUE


async def test_a_lost_key_file_is_not_silently_replaced(settings: Settings) -> None:
    async with local_hub(settings) as (_, mcp):
        await call(mcp, "secret_set", {"name": "TOKEN", "value": VALUE})
    os.remove(settings.data_dir / "vault.key")
    async with local_hub(settings) as (_, mcp):
        assert "no key" in await call_error(mcp, "secret_reveal", {"name": "TOKEN"})
    assert not (settings.data_dir / "vault.key").exists()


async def test_scrub_masks_every_known_value_even_json_escaped(settings: Settings) -> None:
    async with local_hub(settings) as (app, mcp):
        vault: Vault = app.services.get(Vault)
        await call(mcp, "secret_set", {"name": "QUOTED", "value": 'pa"ss\\word'})
        await call(mcp, "secret_set", {"name": "PLAIN", "value": VALUE})
        assert sorted(await vault.known_values()) == sorted([VALUE, 'pa"ss\\word'])
        text = f'env: {VALUE} and {{"p": "pa\\"ss\\\\word"}} and pa"ss\\word'
        scrubbed = vault.scrub(text)
        assert VALUE not in scrubbed and 'pa"ss\\word' not in scrubbed and 'pa\\"ss\\\\word' not in scrubbed
        assert "[secret PLAIN]" in scrubbed and "[secret QUOTED]" in scrubbed
        assert vault.scrub_data({"a": [VALUE, 1]}) == {"a": ["[secret PLAIN]", 1]}
