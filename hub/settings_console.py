"""The settings of the web console at ``/ui`` (``hub/console/``); ``Settings`` inherits them.

Each field is the environment variable ``GOOSUKE_<NAME>`` like every other setting.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConsoleSettings(BaseSettings):
    """How long a console sign-in lasts and how often its live pages refresh."""

    model_config = SettingsConfigDict(env_prefix="GOOSUKE_", env_file=None, extra="ignore")

    console_session_ttl: float = Field(
        default=12 * 3600,
        gt=0,
        le=30 * 24 * 3600,
        description="Seconds a console sign-in lasts at most, however busy; then the browser signs in again.",
    )
    console_session_idle: float = Field(
        default=3600,
        gt=0,
        le=30 * 24 * 3600,
        description="Seconds a console sign-in lasts without a request; then the browser signs in again.",
    )
    console_refresh_interval: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="Seconds between two reads behind the console's live pages (dashboard, execution detail); "
        "a change is pushed to the browser by server-sent events.",
    )
    console_stream_seconds: float = Field(
        default=300,
        gt=0,
        le=3600,
        description="Seconds one console event stream stays open; the browser then reconnects by itself.",
    )
