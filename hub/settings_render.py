"""The settings of template rendering in worker processes (``hub/templates/workers.py``); ``Settings``
inherits them.

Each field is the environment variable ``GOOSUKE_<NAME>`` like every other setting.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RenderSettings(BaseSettings):
    """How long one rendering may take, and how many render at once."""

    model_config = SettingsConfigDict(env_prefix="GOOSUKE_", env_file=None, extra="ignore")

    render_timeout: float = Field(
        default=5.0,  # hub.templates.sandbox.RENDER_TIMEOUT, what a render outside a hub gets
        gt=0,
        le=300,
        description="Seconds one rendering of a prompt or instructions may take; past it (plus half a second) "
        "its worker process is killed and the caller gets a 422 naming the field.",
    )
    render_workers: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Worker processes that render templates at once (started when first needed); more "
        "renders wait for a free one.",
    )
