"""Masking known secret values: in text, in JSON-like data and in every log record.

The vault tells its :class:`Scrubber` each value it seals or opens; everything the hub shows from a
child process, an upstream server or a log record goes through :meth:`Scrubber.scrub`, which replaces a
known value (and its JSON-escaped form) with ``[secret NAME]``.
"""

from __future__ import annotations

import json
import logging
import re
import weakref
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from hub.settings import Settings

MIN_SCRUB_LENGTH = 4  # shorter values would mask ordinary words; secret_set refuses them
CONFIG_SCOPE = "config"  # values the hub was configured with (settings, key files), not vault rows
# Names of environment entries (GOOSUKE_GOOSE_ENV, the extensions' passthrough environment) whose values are
# keys: OPENAI_API_KEY, GITHUB_TOKEN, AWS_SECRET_ACCESS_KEY, DB_PASSWORD... Other values (hosts, paths,
# model names) stay readable: masking every value of PATH or OPENAI_HOST would garble ordinary output.
SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|COOKIE|SESSION|PRIVATE", re.IGNORECASE)


class Scrubber:
    def __init__(self) -> None:
        self._known: dict[tuple[str, str], str] = {}
        self._pattern: re.Pattern[str] | None = None
        self._pattern_names: dict[str, str] = {}

    def remember(self, scope: str, name: str, value: str) -> None:
        if self._known.get((scope, name)) != value:
            self._known[(scope, name)] = value
            self._pattern = None

    def forget(self, scope: str, name: str) -> None:
        if self._known.pop((scope, name), None) is not None:
            self._pattern = None

    def values(self, *, exclude_scope: str | None = None) -> list[str]:
        """Every known value (but those of ``exclude_scope``), longest first."""
        found = {v for (scope, _), v in self._known.items() if scope != exclude_scope}
        return sorted(found, key=len, reverse=True)

    def _compiled(self) -> re.Pattern[str] | None:
        if self._pattern is None and self._known:
            names: dict[str, str] = {}
            for (scope, name), value in self._known.items():
                if len(value) < MIN_SCRUB_LENGTH:
                    continue
                label = name.partition("#")[0] if scope in ("env", CONFIG_SCOPE) else f"{scope}:{name}"
                names[value] = label
                escaped = json.dumps(value)[1:-1]
                if escaped != value:
                    names[escaped] = label
            self._pattern_names = names
            ordered = sorted(names, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered)) if ordered else None
        return self._pattern

    def scrub(self, text: str) -> str:
        """``text`` with every known secret value replaced by ``[secret NAME]``."""
        pattern = self._compiled()
        if pattern is None or not text:
            return text
        return pattern.sub(lambda m: f"[secret {self._pattern_names.get(m.group(0), '?')}]", text)

    def scrub_data(self, value: Any) -> Any:
        """A copy of a JSON-like value with every string scrubbed."""
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {self.scrub(k) if isinstance(k, str) else k: self.scrub_data(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.scrub_data(v) for v in value]
        return value

    def is_known_value(self, value: str) -> bool:
        return bool(value) and value in self._known.values()

    @property
    def has_values(self) -> bool:
        return bool(self._known)


def configured_secrets(settings: Settings) -> Iterator[tuple[str, str]]:
    """``(name, value)`` of every secret the hub was configured with: each ``SecretStr`` setting
    (``GOOSUKE_OPENAI_API_KEY``, ``GOOSUKE_DISCORD_TOKEN``, ``GOOSUKE_JWT_SECRET``, each key of
    ``GOOSUKE_VAULT_KEY``...), the password in ``GOOSUKE_DATABASE_URL``, the ``jwt.key`` and ``admin.token``
    files, and the key-like entries (:data:`SECRET_NAME`) of ``GOOSUKE_GOOSE_ENV`` and of the extensions'
    environment."""
    for field in type(settings).model_fields:
        value = getattr(settings, field)
        if isinstance(value, SecretStr):
            text = value.get_secret_value().strip()
            parts = re.split(r"[\s,]+", text) if field == "vault_key" else [text]  # several keys, newest first
            for position, part in enumerate(parts, start=1):
                if part:
                    yield f"GOOSUKE_{field.upper()}#{position}", part
    if settings.database_url:
        try:
            password = urlsplit(settings.database_url).password
        except ValueError:
            password = None
        if password:
            yield "GOOSUKE_DATABASE_URL", password
    for key_file in ("jwt.key", "admin.token"):  # the signing key; the first-start admin token (hub.app)
        try:
            value = (settings.data_dir / key_file).read_text().strip()
        except OSError:
            continue
        if value:
            yield key_file, value
    for source, env in (("GOOSUKE_GOOSE_ENV", settings.goose_env), ("", settings.extension_environment)):
        for name, value in env.items():
            if SECRET_NAME.search(name) and value:
                yield (f"{source}.{name}" if source else name), value


class _ScrubFilter(logging.Filter):
    """Masks every value the running scrubbers know in log records (a last line of defence: libraries
    log response bodies at DEBUG, and one of those may be a revealed secret)."""

    def __init__(self) -> None:
        super().__init__("goosuke-vault-scrub")
        self.scrubbers: weakref.WeakSet[Scrubber] = weakref.WeakSet()

    def filter(self, record: logging.LogRecord) -> bool:
        scrubbers = [s for s in self.scrubbers if s.has_values]
        if not scrubbers:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken record is the logging module's business
            return True
        scrubbed = message
        for scrubber in scrubbers:
            scrubbed = scrubber.scrub(scrubbed)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return True


_LOG_SCRUBBER = _ScrubFilter()


def install_log_scrubber(scrubber: Scrubber) -> None:
    """Scrub this scrubber's values from every record the current log handlers emit."""
    _LOG_SCRUBBER.scrubbers.add(scrubber)
    loggers = [
        logging.getLogger(),
        *(lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger)),
    ]
    for lg in loggers:
        for handler in lg.handlers:
            if _LOG_SCRUBBER not in handler.filters:
                handler.addFilter(_LOG_SCRUBBER)
