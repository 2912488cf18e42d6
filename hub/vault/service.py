"""The secrets vault: values encrypted at rest, keys from a setting or a 0600 key file, rotation, scrubbing.

Values are sealed with AES-256-GCM (:mod:`hub.vault.sealing`, which also loads and checks the keys);
:mod:`hub.vault.rotation` re-seals them under a new key without downtime; :mod:`hub.vault.ownership`
says which team's extensions and runners may use each. This module is the service itself: storing,
resolving, revealing, listing and deleting values.

Keys come from ``GOOSUKE_VAULT_KEY`` (comma separated, newest first) or, when unset, from
``DATA_DIR/vault.key`` (one key per line, newest first), created with mode 0600 on first start. A
key that does not match the stored rows is reported by every vault call and by ``/readyz``; the hub
keeps serving everything else, but ``/readyz`` answers 503 until the key is fixed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, select

from hub.accounts import audit
from hub.clock import UtcDatetime
from hub.db.models import Secret
from hub.errors import ConfigError, InvalidArguments, NotFound
from hub.principal import Principal
from hub.settings import SECRET_NAME_PATTERN, secret_name_like
from hub.teams.policy import DEFAULT_TEAM_ID, owner_team, require_change, require_see, visible
from hub.vault.ownership import may_replace, secret_visibility, team_names, usable_by
from hub.vault.rotation import ROTATE_BATCH, RotationReport, rotate
from hub.vault.scrubbing import CONFIG_SCOPE, MIN_SCRUB_LENGTH
from hub.vault.sealing import TOKEN_PREFIX, VaultKeys

__all__ = [
    "MAX_SECRET_BYTES",
    "ROTATE_BATCH",
    "SECRET_NAME",
    "TOKEN_PREFIX",
    "RotationReport",
    "SecretInfo",
    "Vault",
    "check_name",
]

logger = logging.getLogger("goosuke.vault")

SECRET_NAME = re.compile(SECRET_NAME_PATTERN)
MAX_SECRET_BYTES = 64 * 1024


class SecretInfo(BaseModel):
    """What may be shown of a secret: everything but its value."""

    model_config = ConfigDict(frozen=True)

    name: str
    scope: str = Field(exclude=True)  # env, setting or webhook: the tools show one scope at a time
    description: str
    team: str | None = Field(default=None, description="The owning team: its extensions and runners may use it.")
    visibility: str = Field(default="team", description="team (its team) or private (only your extensions).")
    key_id: str = Field(description="Fingerprint of the vault key that sealed it (not the key).")
    created_at: UtcDatetime
    created_by: str
    updated_at: UtcDatetime
    updated_by: str


def _info(row: Secret, teams: dict[str, str] | None = None) -> SecretInfo:
    return SecretInfo(
        name=row.name,
        scope=row.scope,
        description=row.description,
        team=(teams or {}).get(row.team_id or "", row.team_id),
        visibility=row.visibility or "team",
        key_id=row.key_id,
        created_at=row.created_at,
        created_by=row.created_by,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def check_name(name: str) -> None:
    if not SECRET_NAME.match(name):
        raise InvalidArguments(
            f"Secret name {name[:64]!r} is not an environment variable name: use letters, digits and _, "
            "not starting with a digit (e.g. GITHUB_TOKEN).",
            errors=[{"field": "name", "message": "must match [A-Za-z_][A-Za-z0-9_]*", "type": "pattern"}],
        )


def store_advice(names: Iterable[str]) -> str:
    """``secret_set (name=...)`` for each name, with a name it accepts: one that is not a secret name (a
    setting's or an extension's typo) becomes the closest valid one, and the message says to rename the
    reference as well."""
    parts, renamed = [], []
    for name in names:
        fixed = name if SECRET_NAME.match(name) else secret_name_like(name)
        parts.append(f"secret_set (name={fixed!r})")
        if fixed != name:
            renamed.append(f"{name[:64]!r} to {fixed!r}")
    advice = " and ".join(parts)
    if renamed:
        advice += (
            f", then rename {', '.join(renamed)} where it is named (a secret name has letters, digits and _, "
            "does not start with a digit and has at most 128 characters)"
        )
    return advice


def _missing(name: str, scope: str) -> NotFound:
    if scope != "env":  # the hub's own (a webhook's signing secret): not one a user stores
        return NotFound(
            f"No {scope} secret named {name[:64]!r}: the hub stores it itself when the {scope} is made. Give the "
            f"{scope} a new one ({scope}_rotate_secret) or make it again."
        )
    return NotFound(f"No secret named {name[:64]!r}. Store it with {store_advice([name])}.")


class Vault(VaultKeys):
    """The vault service (``app.services.get(Vault)``). Every method that reads a value may raise
    ``ConfigError`` when the configured key cannot open the stored rows."""

    async def start(self) -> None:
        """Load the keys (creating the key file on a fresh hub), check them against the stored rows and
        learn every stored value for scrubbing."""
        if await self.open_keys():
            await self.known_values()

    # -- values -------------------------------------------------------------------------

    async def put(
        self,
        name: str,
        value: str,
        *,
        actor: str,
        description: str | None = None,
        scope: str = "env",
        principal: Principal | None = None,
        team_id: str | None = None,
        visibility: str | None = None,
    ) -> tuple[SecretInfo, bool]:
        """Store (or replace) a value; returns its info and whether it was new. Audited, value never logged.

        A new secret goes to team ``team_id`` (None: the principal's own team, or ``default`` for the hub
        itself) with ``visibility`` (None: team); ``principal`` needs ``secrets.manage`` there. Replacing
        one needs ``secrets.manage`` where it lives; its team stays (``team_transfer`` moves it).
        """
        if scope == "env":
            check_name(name)
        visibility = secret_visibility(visibility)
        if len(value) < MIN_SCRUB_LENGTH:
            raise InvalidArguments(
                f"A secret value must have at least {MIN_SCRUB_LENGTH} characters, so it can be recognised and "
                "hidden in outputs.",
                errors=[{"field": "value", "message": "too short", "type": "too_short"}],
            )
        if len(value.encode()) > MAX_SECRET_BYTES:
            raise InvalidArguments(f"A secret value may have at most {MAX_SECRET_BYTES} bytes.")
        ciphertext, kid = self.seal(scope, name, value)
        now = datetime.now(UTC)
        async with self.db.session() as session:
            row = await session.scalar(select(Secret).where(Secret.scope == scope, Secret.name == name))
            created = row is None
            if row is None:
                owner = owner_team(principal, "secrets.manage", team_id) if principal else team_id
                row = Secret(
                    scope=scope,
                    name=name,
                    description=description or "",
                    ciphertext=ciphertext,
                    key_id=kid,
                    created_by=actor,
                    updated_by=actor,
                    created_at=now,
                    updated_at=now,
                    team_id=owner or DEFAULT_TEAM_ID,
                    visibility=visibility or "team",
                )
                session.add(row)
            else:
                may_replace(row, principal, team_id)
                row.ciphertext, row.key_id, row.updated_at, row.updated_by = ciphertext, kid, now, actor
                if description is not None:
                    row.description = description
                if visibility is not None:
                    row.visibility = visibility
            await session.flush()
            action = "secret.set" if scope == "env" else f"{scope}.secret.set"
            await audit(session, actor, action, name, key_id=kid, team=row.team_id, visibility=row.visibility)
            info = _info(row, await team_names(session, [row.team_id]))
        self._remember(scope, name, value)
        return info, created

    async def get(self, name: str, scope: str = "env", *, team: str | None = None, creator: str | None = None) -> str:
        """The plaintext value, for the hub's own use (launching extensions, a runner's API key). Not
        audited; never returned to a caller (``reveal`` is). With ``team``, only a secret that team's
        extension or runner (made by ``creator``) may use resolves (``hub.vault.ownership``)."""
        if team is not None:
            return (await self.resolve([name], scope, team=team, creator=creator, what="this runner"))[name]
        self.require_keys()
        async with self.db.session() as session:
            row = await session.scalar(select(Secret).where(Secret.scope == scope, Secret.name == name))
        if row is None:
            raise _missing(name, scope)
        value = self.unseal(row)
        self._remember(scope, name, value)
        return value

    async def resolve(
        self,
        names: Iterable[str],
        scope: str = "env",
        *,
        team: str | None = None,
        creator: str | None = None,
        what: str = "this extension",
    ) -> dict[str, str]:
        """Values of several secrets at once (an extension's ``env_keys``). With ``team`` (the team that owns
        the extension or runner naming them, made by ``creator``) a secret of another team does not resolve.

        Raises:
            NotFound: some are missing or another team's; the message names each and the team.
        """
        wanted = list(dict.fromkeys(names))
        if not wanted:
            return {}
        self.require_keys()
        async with self.db.session() as session:
            rows = list(await session.scalars(select(Secret).where(Secret.scope == scope, Secret.name.in_(wanted))))
            foreign = [r.name for r in rows if team is not None and not usable_by(r, team, creator)]
            label = (await team_names(session, [team])).get(team or "", team) if foreign else ""
        found = {row.name: self.unseal(row) for row in rows if row.name not in foreign}
        missing = [n for n in wanted if n not in found and n not in foreign]
        problems = [f"Secret(s) {', '.join(missing)} are not in the vault"] if missing else []
        if foreign:
            problems.append(
                f"secret(s) {', '.join(foreign)} are not usable by team {label!r}, which owns {what} (they belong "
                "to another team, or are private to another user)"
            )
        if problems:
            advice = []
            if missing:
                where = f" in team {label!r}" if foreign else ""
                advice.append(f"Store {'it' if len(missing) == 1 else 'them'} with {store_advice(missing)}{where}")
            if foreign:
                advice.append(
                    f"Move {', '.join(foreign)} to team {label!r} (team_transfer), or store a value of that team's "
                    "own under another name and name that one instead"
                )
            raise NotFound(f"{'; '.join(problems)}. {'; '.join(advice)} before starting {what}.")
        for name, value in found.items():
            self._remember(scope, name, value)
        return found

    async def _row(self, name: str, scope: str, principal: Principal | None, permission: str) -> Secret | None:
        async with self.db.session() as session:
            row = await session.scalar(select(Secret).where(Secret.scope == scope, Secret.name == name))
        if row is not None and principal is not None:
            if permission == "secrets.manage":
                require_change(principal, permission, row, f"secret named {name!r}")
            else:
                require_see(principal, permission, row, f"secret named {name!r}")
        return row

    async def reveal(self, name: str, *, actor: str, principal: Principal | None = None) -> str:
        row = await self._row(name, "env", principal, "secrets.reveal")
        if row is None:
            raise NotFound(f"No secret named {name!r}. List them with secret_list.")
        self.require_keys()
        value = self.unseal(row)
        self._remember("env", name, value)
        async with self.db.session() as session:
            await audit(session, actor, "secret.reveal", name)
        return value

    async def delete(self, name: str, *, actor: str, scope: str = "env", principal: Principal | None = None) -> bool:
        await self._row(name, scope, principal, "secrets.manage")
        async with self.db.session() as session:
            result = await session.execute(delete(Secret).where(Secret.scope == scope, Secret.name == name))
            deleted = bool(getattr(result, "rowcount", 0))
            if deleted:
                await audit(session, actor, "secret.delete" if scope == "env" else f"{scope}.secret.delete", name)
        # The value stays known for scrubbing until restart: outputs produced while it was in use stay masked.
        return deleted

    async def exists(self, name: str, scope: str = "env") -> bool:
        async with self.db.session() as session:
            return (
                await session.scalar(select(Secret.id).where(Secret.scope == scope, Secret.name == name))
            ) is not None

    async def secrets(self, scope: str = "env", principal: Principal | None = None) -> list[SecretInfo]:
        """The secrets of ``scope`` (with ``principal``: those it may see with ``secrets.use``)."""
        query = select(Secret).where(Secret.scope == scope).order_by(Secret.name)
        if principal is not None:
            query = query.where(visible(principal, "secrets.use", Secret))
        async with self.db.session() as session:
            rows = list(await session.scalars(query))
            teams = await team_names(session, [row.team_id for row in rows])
            return [_info(row, teams) for row in rows]

    async def usable(self, team: str, creator: str | None, scope: str = "env") -> set[str]:
        """The names of the secrets an extension or runner of ``team`` made by ``creator`` would get."""
        async with self.db.session() as session:
            rows = await session.scalars(select(Secret).where(Secret.scope == scope, Secret.team_id == team))
            return {row.name for row in rows if usable_by(row, team, creator)}

    async def known_values(self) -> list[str]:
        """Every value in the vault (all scopes), re-read from the database: for scrubbing outputs.

        Values of deleted secrets that this process has seen stay in the list until it restarts.
        The configured secrets (settings, key files) are masked too, but are not in this list.
        """
        if self._problem or not self._keys:
            return self.scrubber.values(exclude_scope=CONFIG_SCOPE)
        async with self.db.session() as session:
            rows = list(await session.scalars(select(Secret)))
        for row in rows:
            try:
                self._remember(row.scope, row.name, self.unseal(row))
            except ConfigError:
                logger.warning("Secret %r cannot be opened with the loaded keys; it cannot be scrubbed", row.name)
        return self.scrubber.values(exclude_scope=CONFIG_SCOPE)

    async def rotate(self, *, actor: str, retire_old: bool = True) -> RotationReport:
        """Re-seal every row with a new primary key; reads keep working throughout (:mod:`hub.vault.rotation`).

        Raises:
            ConfigError: the current key cannot open every row (nothing is changed then).
            ToolError: the setting holds a single key, already the one every row uses.
        """
        return await rotate(self, actor=actor, retire_old=retire_old)
