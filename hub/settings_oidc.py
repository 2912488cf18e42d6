"""The settings of sign-in through an identity provider (OpenID Connect); ``Settings`` inherits them.

Each field is the environment variable ``GOOSUKE_<NAME>`` like every other setting.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def split_csv(value: object) -> object:
    """A comma-separated environment value as a list (a list stays as it is)."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class OidcTeamRole(BaseModel):
    """One team role an identity-provider group grants (``GOOSUKE_OIDC_GROUP_MAPPING``)."""

    model_config = ConfigDict(extra="forbid")

    team: str = Field(min_length=1, max_length=64, description="A team name (or id); created when missing.")
    role: str = Field(default="member", min_length=1, max_length=64, description="A built-in or custom role.")

    @field_validator("team")
    @classmethod
    def _shared(cls, value: str) -> str:
        if value.startswith("@"):
            raise ValueError(f"{value!r} is a personal team; map groups to shared teams only")
        return value


class OidcSettings(BaseSettings):
    """Sign-in at ``/auth/oidc/login``; off while ``oidc_issuer`` is unset."""

    model_config = SettingsConfigDict(env_prefix="GOOSUKE_", env_file=None, extra="ignore")

    oidc_issuer: str | None = Field(
        default=None,
        description="OpenID Connect issuer URL (its /.well-known/openid-configuration is read); sign-in at "
        "/auth/oidc/login is off without it.",
    )
    oidc_client_id: str | None = Field(default=None, description="The hub's client id at the identity provider.")
    oidc_client_secret_name: str | None = Field(
        default=None,
        max_length=255,
        description="Name of a vault secret holding the client secret; unset: a public client (PKCE only).",
    )
    oidc_redirect_base_url: str | None = Field(
        default=None,
        description="Base URL the provider sends the browser back to (+ /auth/oidc/callback); default the hub's "
        "public URL.",
    )
    oidc_scopes: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["openid", "email", "profile"],
        description="Scopes asked for, comma separated; must include openid.",
    )
    oidc_groups_claim: str = Field(
        default="groups", min_length=1, description="The id_token (or userinfo) claim listing the user's groups."
    )
    oidc_group_mapping: dict[str, list[OidcTeamRole]] = Field(
        default_factory=dict,
        description='IdP group -> team roles, as JSON: {"eng": [{"team": "engineering", "role": "operator"}]}. '
        "Applied both ways at every sign-in; a missing team is created.",
    )
    oidc_default_role: str = Field(
        default="member",
        min_length=1,
        max_length=64,
        description="Platform role of a user the first sign-in creates (team roles come from the group mapping).",
    )
    oidc_timeout: float = Field(default=10.0, gt=0, le=120, description="Seconds one call to the provider may take.")

    @field_validator("oidc_scopes", mode="before")
    @classmethod
    def _oidc_csv(cls, value: object) -> object:
        return split_csv(value)

    @field_validator("oidc_scopes")
    @classmethod
    def _oidc_openid(cls, value: list[str]) -> list[str]:
        if "openid" not in value:
            raise ValueError("must include openid (OpenID Connect sign-in asks for an id_token)")
        return value

    @field_validator("oidc_issuer", "oidc_redirect_base_url")
    @classmethod
    def _oidc_http_url(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/") if value else value
