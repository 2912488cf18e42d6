"""Settings enter once, from the environment or arguments, and refuse unsafe combinations."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from hub import ConfigError
from hub.settings import Settings


def test_environment_is_read_with_the_goosuke_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GOOSUKE_PLUGINS", "a.b, c.d")
    monkeypatch.setenv("GOOSUKE_ALLOWED_HOSTS", "hub.example.com")
    monkeypatch.setenv("GOOSUKE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GOOSUKE_PORT", "9999")
    settings = Settings()
    assert settings.plugins == ["a.b", "c.d"]
    assert settings.allowed_hosts == ["hub.example.com"]
    assert settings.port == 9999
    assert settings.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path / 'goosuke.db'}"


def test_postgres_urls_get_the_async_driver() -> None:
    settings = Settings(database_url="postgresql://u@h/db")
    assert settings.resolved_database_url == "postgresql+asyncpg://u@h/db"
    assert settings.database_kind == "postgresql"


def test_auth_none_is_refused_off_loopback() -> None:
    Settings(auth="none", host="127.0.0.1").check_serving()
    Settings(auth="none", host="localhost").check_serving()
    with pytest.raises(ConfigError, match="only allowed on a loopback address"):
        Settings(auth="none", host="0.0.0.0").check_serving()


def test_a_short_signing_key_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings(jwt_secret="short")


def test_public_url_drives_the_advertised_base_url() -> None:
    assert Settings(public_url="https://hub.example.com/").base_url == "https://hub.example.com"
    assert Settings(host="0.0.0.0", port=80).base_url == "http://127.0.0.1:80"
