"""The runtime resources of one hub, opened in one lifespan and handed to every tool call."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from hub.db import Database
from hub.metrics import Metrics
from hub.registry import Registry
from hub.services import Services
from hub.settings import Settings

if TYPE_CHECKING:
    from hub.auth import HubTokenVerifier
    from hub.server import HubServer


@dataclass
class AppContext:
    """Everything a tool may need. Domain services, started from the plugins' declarations, are in
    ``services`` by type: ``app.services.get(Engine)``."""

    settings: Settings
    db: Database
    registry: Registry
    metrics: Metrics = field(default_factory=Metrics)
    transport: str = "http"
    verifier: HubTokenVerifier | None = None
    server: HubServer | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    services: Services = field(default_factory=Services)
