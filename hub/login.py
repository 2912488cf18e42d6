"""Password login's defences: scrypt off the event loop, the same work for unknown users, and back-off.

``LoginGuard.check`` runs the password check in a worker thread (at most ``login_concurrency`` at once,
so logins cannot take every thread), against a dummy hash when the user does not exist, is disabled
or has no password, so the answer takes as long either way. Failures are counted per username and per
client address within ``login_failure_window``; past ``login_max_failures`` (per username) or
``login_max_failures_per_address`` the key is locked for ``login_backoff`` seconds, doubling with every
further failure up to ``login_max_backoff``. A locked key gets 429 with ``Retry-After`` without a
password check, even for the right password. The counts live in this process: hubs behind one load
balancer each count their own.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from contextvars import ContextVar
from dataclasses import dataclass

import anyio
import anyio.to_thread

from hub.accounts import hash_password, verify_password
from hub.errors import RateLimited
from hub.settings import Settings

CLIENT_ADDRESS: ContextVar[str | None] = ContextVar("goosuke_client_address", default=None)
"""The HTTP client's address, set by the auth middleware for the request being served."""

MAX_KEYS = 10_000  # remembered usernames and addresses; the oldest go first
MAX_WAITING = 64  # logins queued for a thread beyond this are refused at once


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0
    locked_until: float = 0.0


class LoginGuard:
    """Checks passwords for ``HubTokenVerifier.password_login`` and keeps the failure counts."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._failures: OrderedDict[str, _Failures] = OrderedDict()
        self._limiter: anyio.CapacityLimiter | None = None
        self._dummy: str | None = None

    async def check(self, username: str, password: str, stored: str | None) -> bool:
        """Whether ``password`` matches ``stored`` (None: no such user, or no password; still hashed).

        Raises:
            RateLimited: the username or the client address is backed off; no password is checked.
        """
        keys = self.gate(username)
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.settings.login_concurrency)
        if self._limiter.statistics().tasks_waiting >= MAX_WAITING:
            raise RateLimited("Too many logins at once; retry in a moment.", retry_after=1)
        if stored is None:
            stored = await self._dummy_hash()
        ok = await anyio.to_thread.run_sync(verify_password, password, stored, limiter=self._limiter)
        if ok:
            self._failures.pop(keys[0], None)  # the address keeps its count: one good account resets nothing
        else:
            for key in keys:
                self._failed(key, time.monotonic())
        return ok

    def gate(self, username: str) -> list[str]:
        """The failure-count keys of this attempt (username, client address).

        Raises:
            RateLimited: one of them is backed off.
        """
        keys = self._keys(username)
        now = time.monotonic()
        for key in keys:
            self._refuse_if_locked(key, now)
        return keys

    def _keys(self, username: str) -> list[str]:
        keys = [f"user:{username.casefold()[:200]}"]
        address = CLIENT_ADDRESS.get()
        if address:
            keys.append(f"addr:{address}")
        return keys

    def _limit(self, key: str) -> int:
        s = self.settings
        return s.login_max_failures if key.startswith("user:") else s.login_max_failures_per_address

    def _refuse_if_locked(self, key: str, now: float) -> None:
        entry = self._failures.get(key)
        if entry is None or entry.locked_until <= now:
            return
        wait = math.ceil(entry.locked_until - now)
        what = "this username" if key.startswith("user:") else "this address"
        raise RateLimited(
            f"Too many failed logins for {what}: wait {wait} s before the next try "
            "(the wait doubles with each further failure).",
            retry_after=wait,
        )

    def _failed(self, key: str, now: float) -> None:
        s = self.settings
        entry = self._failures.pop(key, None) or _Failures()
        if now - entry.last > s.login_failure_window:
            entry = _Failures()
        entry.count += 1
        entry.last = now
        over = entry.count - self._limit(key)
        if over >= 0:
            entry.locked_until = now + min(s.login_max_backoff, s.login_backoff * 2 ** min(over, 32))
        self._failures[key] = entry  # most recent last
        while len(self._failures) > MAX_KEYS:
            self._failures.popitem(last=False)

    async def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = await anyio.to_thread.run_sync(hash_password, "not-a-password-anyone-has")
        return self._dummy
