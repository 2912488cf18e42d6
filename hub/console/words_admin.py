"""The console's words for the admin pages, added after the first wave (merged by ``i18n``)."""

from __future__ import annotations

EN: dict[str, str] = {}

JA: dict[str, str] = {}
