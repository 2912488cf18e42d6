"""The secrets vault: values encrypted at rest, given to extensions and agents by name (env_keys).

Each secret belongs to a team and is ``team`` (its team's extensions and runners may use it) or
``private`` (only the extensions and runners of the user who set it); never public. Values are never
returned, except by secret_reveal (admin only, audited).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from hub import Call, Plugin
from hub.errors import NotFound, PermissionDenied
from hub.plugin import Arguments, NoArguments
from hub.teams.service import team_id_of
from hub.vault.service import SecretInfo, Vault

plugin = Plugin("secrets")

SECRET_NAME = Field(
    min_length=1,
    max_length=128,
    pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
    description="An environment variable name, e.g. GITHUB_TOKEN: extensions list it in env_keys.",
)


def vault_of(call: Call) -> Vault:
    return call.app.services.get(Vault)


class SecretSet(Arguments):
    name: str = SECRET_NAME
    value: str = Field(min_length=1, max_length=65536, description="The value; stored encrypted, never shown.")
    description: str | None = Field(default=None, max_length=1000, description="What it is for (kept if omitted).")
    team: str | None = Field(
        default=None,
        max_length=64,
        description="The team it belongs to (a new secret; default: your own team). Only that team's extensions "
        "and runners get it.",
    )
    visibility: str | None = Field(
        default=None,
        max_length=16,
        description="team (default for a new secret: its team's extensions and runners use it) or private (only "
        "your own extensions and runners). Secrets are never public. Omitted: kept.",
    )


class SecretStored(BaseModel):
    secret: SecretInfo
    created: bool = Field(description="False when an existing value was replaced.")


class SecretName(Arguments):
    name: str = SECRET_NAME


class Secrets(BaseModel):
    secrets: list[SecretInfo]
    vault: str = Field(description="The vault's state: its keys' source and primary key id, or what is wrong.")


class SecretDeleted(BaseModel):
    name: str
    deleted: bool


class SecretRevealed(BaseModel):
    name: str
    value: str = Field(description="The plaintext value. This read is recorded in the audit log.")


class RotateArgs(Arguments):
    retire_old: bool = Field(
        default=True,
        description="With a key file: drop the old key from it once every secret uses the new one. Back up the "
        "new key file afterwards; older database backups need the old key.",
    )


class Rotated(BaseModel):
    new_key_id: str
    reencrypted: int = Field(description="Values re-sealed with the new key.")
    retired_key_ids: list[str]
    key_source: str = Field(description="file (DATA_DIR/vault.key) or setting (GOOSUKE_VAULT_KEY).")
    note: str


@plugin.tool(permission="secrets.manage")
async def secret_set(call: Call, args: SecretSet) -> SecretStored:
    """Store a secret in the vault (encrypted at rest), or replace its value. Extensions and agents get it
    as an environment variable when they list its name in env_keys. The value is never shown again."""
    async with call.app.db.session() as session:
        team_id = await team_id_of(session, call.principal, args.team)
    info, created = await vault_of(call).put(
        args.name,
        args.value,
        actor=call.principal.name,
        description=args.description,
        principal=call.principal,
        team_id=team_id,
        visibility=args.visibility,
    )
    return SecretStored(secret=info, created=created)


@plugin.tool(permission="secrets.use", read_only=True)
async def secret_list(call: Call, args: NoArguments) -> Secrets:
    """List the vault's secrets you may use: names, teams, descriptions, who set them and when. Never their
    values."""
    vault = vault_of(call)
    return Secrets(secrets=await vault.secrets(principal=call.principal), vault=vault.status())


@plugin.tool(permission="secrets.manage", destructive=True)
async def secret_delete(call: Call, args: SecretName) -> SecretDeleted:
    """Delete a secret. Extensions that list it in env_keys cannot start until it is set again."""
    deleted = await vault_of(call).delete(args.name, actor=call.principal.name, principal=call.principal)
    if not deleted:
        raise NotFound(f"No secret named {args.name!r}. List them with secret_list.")
    return SecretDeleted(name=args.name, deleted=True)


@plugin.tool(permission="secrets.reveal", read_only=True)
async def secret_reveal(call: Call, args: SecretName) -> SecretRevealed:
    """Show a secret's value (admin only). Every reveal is recorded in the audit log."""
    value = await vault_of(call).reveal(args.name, actor=call.principal.name, principal=call.principal)
    return SecretRevealed(name=args.name, value=value)


@plugin.tool(permission="secrets.manage")
async def secret_rotate_key(call: Call, args: RotateArgs) -> Rotated:
    """Re-encrypt every secret with a new vault key, without downtime (old keys keep decrypting until the
    end). With the key file the hub makes the key; with GOOSUKE_VAULT_KEY put the new key first and
    restart before calling this. It re-seals every team's secrets, so it needs secrets.manage hub-wide."""
    if call.principal.grants.teams_with("secrets.manage") is not None:
        raise PermissionDenied(
            "Rotating the vault key re-seals every team's secrets: it needs the secrets.manage permission hub-wide "
            f"(a platform role), which you ({call.principal.name}) hold only in some teams. Ask an admin."
        )
    report = await vault_of(call).rotate(actor=call.principal.name, retire_old=args.retire_old)
    return Rotated(**report.__dict__)
