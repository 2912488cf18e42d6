"""The webhook replay cache: a signature a hook accepted starts one run, whatever the idempotency header says.

A captured signed delivery can be sent again, with its idempotency header left out or changed; the
header is not signed, so it cannot tell a replay from a new event. The signature can: each accepted
signature is claimed in ``webhook_signatures`` (primary key: SHA-256 of the hook id and the signature),
so two hub processes on one database collide on the insert and one run starts. A row lives as long as
the signature could still be accepted: the timestamp tolerance in ``hmac`` mode, ``webhook_replay_window``
in ``github`` mode (whose signature has no time in it). ``token`` mode has no signature to remember.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from hub.db import Database
from hub.db.models import Action, WebhookSignature, utcnow
from hub.settings import Settings

SIGNATURE_HEADER = {"github": "x-hub-signature-256", "hmac": "x-goosuke-signature"}


@dataclass(frozen=True)
class Claim:
    """A signature claimed for one delivery; ``first`` is the earlier execution when it was a replay."""

    digest: str
    replay: bool
    first: str | None = None


class ReplayCache:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    def _lifetime(self, mode: str) -> float:
        if mode == "hmac":  # a timestamp up to the tolerance ahead or behind, seen at either end
            return 2 * self.settings.webhook_signature_tolerance
        return self.settings.webhook_replay_window

    async def claim(self, action: Action, mode: str, headers: Any) -> Claim | None:
        """Claim the delivery's signature (None in ``token`` mode); a replay returns ``replay=True``."""
        header = SIGNATURE_HEADER.get(mode)
        if header is None:
            return None
        signature = str(headers.get(header, ""))
        digest = hashlib.sha256(f"{action.id}:{signature}".encode()).hexdigest()
        now = utcnow()
        try:
            async with self.db.session() as session:
                await session.execute(delete(WebhookSignature).where(WebhookSignature.expires_at < now))
                session.add(
                    WebhookSignature(
                        digest=digest,
                        action_id=action.id,
                        expires_at=now + timedelta(seconds=self._lifetime(mode)),
                    )
                )
        except IntegrityError:
            async with self.db.session() as session:
                first = await session.scalar(
                    select(WebhookSignature.execution_id).where(WebhookSignature.digest == digest)
                )
            return Claim(digest, replay=True, first=first)
        return Claim(digest, replay=False)

    async def settle(self, claim: Claim | None, execution_id: str | None) -> None:
        """Note the run the claimed signature started; without one, release it so a retry can fire."""
        if claim is None or claim.replay:
            return
        async with self.db.session() as session:
            if execution_id is None:
                await session.execute(delete(WebhookSignature).where(WebhookSignature.digest == claim.digest))
            else:
                await session.execute(
                    update(WebhookSignature)
                    .where(WebhookSignature.digest == claim.digest)
                    .values(execution_id=execution_id)
                )
