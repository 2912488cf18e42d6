"""The secrets vault: values encrypted at rest, keys from a setting or a 0600 key file, rotation, scrubbing.

Each value is sealed with AES-256-GCM under the newest key; the row keeps only the ciphertext and the
id of the key that sealed it (a fingerprint, never the key). The associated data binds a ciphertext to
its scope and name, so a row copied onto another name does not decrypt. Older keys stay usable for
reading until ``rotate`` has re-sealed every row with the newest one (MultiFernet-style), so rotation
needs no downtime.

Keys come from ``GOOSUKE_VAULT_KEY`` (comma separated, newest first) or, when unset, from
``DATA_DIR/vault.key`` (one key per line, newest first), created with mode 0600 on first start. A
key that does not match the stored rows is reported by every vault call and by ``/readyz``; the hub
keeps serving everything else, but ``/readyz`` answers 503 until the key is fixed (a locked vault
locks every extension, webhook and run that needs a secret).
"""

from __future__ import annotations

import base64
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, select, update
from sqlalchemy.exc import SQLAlchemyError

from hub.accounts import audit
from hub.clock import UtcDatetime
from hub.db import Database
from hub.db.models import Secret
from hub.errors import ConfigError, InvalidArguments, NotFound, ToolError
from hub.principal import Principal
from hub.protocols import ReadinessReport
from hub.settings import Settings
from hub.teams.policy import DEFAULT_TEAM_ID, owner_team, require_change, require_see, visible
from hub.vault.keys import GENERATE_HINT, KEY_FILE, encode, key_id, load_keys, new_key, write_key_file
from hub.vault.ownership import may_replace, secret_visibility, team_names, usable_by
from hub.vault.scrubbing import CONFIG_SCOPE, MIN_SCRUB_LENGTH, Scrubber, configured_secrets

logger = logging.getLogger("goosuke.vault")

TOKEN_PREFIX = "v1."
SECRET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
MAX_SECRET_BYTES = 64 * 1024
ROTATE_BATCH = 200


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


@dataclass(frozen=True)
class RotationReport:
    new_key_id: str
    reencrypted: int
    retired_key_ids: list[str]
    key_source: str
    note: str


def _aad(scope: str, name: str) -> bytes:
    return f"goosuke-vault:{scope}:{name}".encode()


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


class Vault:
    """The vault service (``app.services.get(Vault)``). Every method that reads a value may raise
    ``ConfigError`` when the configured key cannot open the stored rows."""

    readiness_name = "vault"

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self._keys: list[tuple[str, AESGCM, bytes]] = []
        self._problem: str | None = None
        self._public_problem: str | None = None  # the same, for /readyz: no key id, no path
        self.scrubber = Scrubber()
        self.key_source = ""

    # -- keys ---------------------------------------------------------------------------

    @property
    def key_file(self) -> Any:
        return self.settings.data_dir / KEY_FILE

    def _load_keys(self, *, create: bool) -> None:
        keys, self.key_source = load_keys(self.settings, self.key_file, create=create)
        self._keys = [(key_id(k), AESGCM(k), k) for k in keys]
        self.remember_configured()

    async def start(self) -> None:
        """Load the keys (creating the key file on a fresh hub), check them against the stored rows."""
        try:
            async with self.db.session() as session:
                stored = set(await session.scalars(select(Secret.key_id).distinct()))
        except SQLAlchemyError:
            self._problem = "The vault's table is missing: run `goosuke migrate` (or start with migrate_on_start)."
            self._public_problem = self._problem
            logger.error("Vault unavailable: %s", self._problem)
            return
        try:
            self._load_keys(create=not stored)
        except ConfigError as exc:
            self._problem = exc.message
            self._public_problem = (
                "The vault key setting is invalid (GOOSUKE_VAULT_KEY or vault.key in the data folder): fix it "
                "(the hub's log says what is wrong) and restart the hub."
            )
            logger.error("Vault unavailable: %s", exc.message)
            return
        missing = stored - {kid for kid, _, _ in self._keys}
        if not self._keys:
            self._problem = (
                f"The vault has {len(stored)} sealed value(s) but no key: restore {self.key_file} from your backup "
                "or set GOOSUKE_VAULT_KEY to the key(s) used before."
            )
        elif missing:
            self._problem = (
                f"The vault key does not match the stored secrets (they were sealed with key id(s) "
                f"{', '.join(sorted(missing))}; loaded: {', '.join(kid for kid, _, _ in self._keys)}). Restore "
                f"{self.key_file} from your backup or put the old key after the new one in GOOSUKE_VAULT_KEY. "
                "Nothing was changed."
            )
        else:
            self._problem = None
        self._public_problem = self._problem and (
            "The vault is locked: its key is "
            + ("missing" if not self._keys else "not the one that sealed the stored secrets")
            + ", so no secret can be read. Restore vault.key into the data folder from your backup "
            "(`goosuke restore`) or set GOOSUKE_VAULT_KEY to the key(s) used before, then restart the hub."
        )
        if self._problem:
            logger.error("Vault unavailable: %s", self._problem)
            return
        await self.known_values()

    def readiness(self) -> ReadinessReport:
        """For ``/readyz`` (public) and ``hub_info``: locked means not ready; never a key id."""
        if self._problem:
            return ReadinessReport(ready=False, detail=self.status(), reason=self._public_problem)
        return ReadinessReport(ready=True, detail=f"ok ({len(self._keys)} key(s) from {self.key_source})")

    def status(self) -> str:
        if self._problem:
            return "unavailable: wrong or missing key"
        return f"ok ({len(self._keys)} key(s) from {self.key_source}, primary {self.primary_key_id})"

    @property
    def primary_key_id(self) -> str:
        return self._keys[0][0] if self._keys else ""

    def _require(self) -> None:
        if self._problem:
            raise ConfigError(self._problem)
        if not self._keys:
            raise ConfigError(f"The vault has no key. Set GOOSUKE_VAULT_KEY or let the hub create {self.key_file}.")

    # -- sealing ------------------------------------------------------------------------

    def seal(self, scope: str, name: str, value: str) -> tuple[str, str]:
        self._require()
        kid, aead, _ = self._keys[0]
        nonce = os.urandom(12)
        sealed = aead.encrypt(nonce, value.encode(), _aad(scope, name))
        return TOKEN_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode(), kid

    def unseal(self, row: Secret) -> str:
        self._require()
        for kid, aead, _ in self._keys:  # noqa: B007 - the loop finds the key that sealed the row
            if kid == row.key_id:
                break
        else:
            raise ConfigError(
                f"Secret {row.name!r} was sealed with key id {row.key_id}, which is not loaded. Restore the old "
                "vault key (see docs/extensions.md, 'Vault keys')."
            )
        try:
            raw = base64.urlsafe_b64decode(row.ciphertext.removeprefix(TOKEN_PREFIX))
            return aead.decrypt(raw[:12], raw[12:], _aad(row.scope, row.name)).decode()
        except (InvalidTag, ValueError):
            raise ConfigError(
                f"Secret {row.name!r} cannot be decrypted: its row was altered or sealed by another key. "
                "Set it again with secret_set."
            ) from None

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
        self._require()
        async with self.db.session() as session:
            row = await session.scalar(select(Secret).where(Secret.scope == scope, Secret.name == name))
        if row is None:
            raise NotFound(f"No secret named {name!r}. Store it with secret_set (name={name!r}).")
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
        self._require()
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
            where = f" in team {label!r}" if foreign else ""
            raise NotFound(f"{'; '.join(problems)}. Store each with secret_set{where} before starting {what}.")
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
        self._require()
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

    # -- rotation -----------------------------------------------------------------------

    async def rotate(self, *, actor: str, retire_old: bool = True) -> RotationReport:
        """Re-seal every row with a new primary key; reads keep working throughout.

        With a key file the hub makes the new key itself. With ``GOOSUKE_VAULT_KEY`` the operator puts
        a new key first in the setting and restarts; this then re-seals everything with it.

        Raises:
            ConfigError: the current key cannot open every row (nothing is changed then).
            ToolError: the setting holds a single key, already the one every row uses.
        """
        self._require()
        async with self.db.session() as session:
            rows = list(await session.scalars(select(Secret)))
        for row in rows:  # prove every row opens before anything changes
            self.unseal(row)
        old_ids = [kid for kid, _, _ in self._keys]
        if self.key_source == "file":
            write_key_file(self.key_file, [new_key(), *(k for _, _, k in self._keys)])
            self._load_keys(create=False)
        elif (
            self.key_source == "setting"
            and len(self._keys) == 1
            and all(r.key_id == kid for r in rows for kid in old_ids)
        ):
            raise ToolError(
                "GOOSUKE_VAULT_KEY holds one key and every secret already uses it. Put a new key first "
                f"(GOOSUKE_VAULT_KEY=NEW,OLD; generate one with {GENERATE_HINT}), restart the hub, then call "
                "secret_rotate_key again."
            )
        primary = self.primary_key_id
        count = 0
        for start in range(0, len(rows), ROTATE_BATCH):
            async with self.db.session() as session:
                for row in rows[start : start + ROTATE_BATCH]:
                    if row.key_id == primary:
                        continue
                    ciphertext, kid = self.seal(row.scope, row.name, self.unseal(row))
                    result = await session.execute(
                        update(Secret)
                        .where(Secret.id == row.id, Secret.ciphertext == row.ciphertext)
                        .values(ciphertext=ciphertext, key_id=kid)
                    )
                    count += int(getattr(result, "rowcount", 0) or 0)
        async with self.db.session() as session:
            leftover = set(await session.scalars(select(Secret.key_id).where(Secret.key_id != primary).distinct()))
        retired = [kid for kid in old_ids if kid != primary and kid not in leftover]
        note = "Every secret now uses the new key."
        if self.key_source == "file" and retire_old and not leftover:
            write_key_file(self.key_file, [self._keys[0][2]])
            self._load_keys(create=False)
            note += f" Old keys were removed from {self.key_file}: back up the new key file now."
        elif self.key_source == "setting":
            note += " Remove the retired key(s) from GOOSUKE_VAULT_KEY at the next restart."
        if leftover:
            note = f"Some rows changed during rotation and still use {', '.join(sorted(leftover))}; run it again."
        async with self.db.session() as session:
            await audit(session, actor, "vault.rotate", primary, reencrypted=count, retired=retired)
        return RotationReport(primary, count, retired, self.key_source, note)

    # -- scrubbing (hub/scrubbing.py) -----------------------------------------------------

    def remember_configured(self) -> None:
        """Mask what the hub was configured with (settings, key files) as well as the vault's values."""
        for name, value in configured_secrets(self.settings):
            self._remember(CONFIG_SCOPE, name, value)
        for position, (_, _, key) in enumerate(self._keys, start=1):
            self._remember(CONFIG_SCOPE, f"vault.key#{position}", encode(key))

    def _remember(self, scope: str, name: str, value: str) -> None:
        self.scrubber.remember(scope, name, value)

    def scrub(self, text: str) -> str:
        """``text`` with every known secret value replaced by ``[secret NAME]``."""
        return self.scrubber.scrub(text)

    def scrub_data(self, value: Any) -> Any:
        """A copy of a JSON-like value with every string scrubbed."""
        return self.scrubber.scrub_data(value)

    def is_known_value(self, value: str) -> bool:
        return self.scrubber.is_known_value(value)

    @property
    def has_values(self) -> bool:
        """Whether any value is known for scrubbing (outputs need no copy when not)."""
        return self.scrubber.has_values
