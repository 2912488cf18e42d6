"""The app factory: one Starlette app, one lifespan, every transport; and the stdio runner."""

from __future__ import annotations

import contextlib
import inspect
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from mcp.server.auth.routes import build_resource_metadata_url, create_protected_resource_routes
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import AnyHttpUrl
from sse_starlette import EventSourceResponse
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from hub import accounts
from hub._version import __version__
from hub.auth import AuthMiddleware, HubTokenVerifier, signing_key
from hub.backup import hold_data_folder
from hub.context import AppContext
from hub.db import Database
from hub.event_store import MemoryEventStore
from hub.facade import Facade
from hub.files import write_private
from hub.metrics import Metrics
from hub.middleware import BodyLimitMiddleware, HostOriginMiddleware, MetricsMiddleware, SessionCapMiddleware
from hub.plugin import RouteSpec
from hub.principal import ANONYMOUS_ADMIN, LOCAL_OWNER, Role
from hub.problems import problem
from hub.registry import Registry
from hub.server import HubServer
from hub.services import start_services
from hub.settings import Settings

logger = logging.getLogger("goosuke")

ADMIN_TOKEN_FILE = "admin.token"
BOOTSTRAP_USER = "admin"  # the first-start user: the first-start admin token belongs to it


def build_context(settings: Settings, *, transport: str, registry: Registry | None = None) -> AppContext:
    """Load the registry, open the database object and build the MCP server (nothing runs yet)."""
    registry = registry or Registry.discover(settings.plugins)
    app = AppContext(
        settings=settings,
        db=Database(settings.resolved_database_url),
        registry=registry,
        metrics=Metrics(),
        transport=transport,
    )
    if transport == "http" and settings.auth == "token":
        app.verifier = HubTokenVerifier(app.db, settings, signing_key(settings))
    default = LOCAL_OWNER if transport == "stdio" else ANONYMOUS_ADMIN
    app.server = HubServer(app, default_principal=default)
    return app


@asynccontextmanager
async def running(app: AppContext) -> AsyncIterator[AppContext]:
    """Migrate, bootstrap, start the services and run the plugins' start-up hooks; undo it all on exit."""
    async with AsyncExitStack() as stack:
        stack.enter_context(hold_data_folder(app.settings.data_dir))  # `goosuke restore` refuses while held
        stack.push_async_callback(app.db.dispose)
        async with app.db.exclusive("startup"):  # replicas starting together: one migrates and bootstraps
            if app.settings.migrate_on_start:
                await app.db.migrate()
            if app.verifier is not None:
                await bootstrap_admin(app)
        await start_services(app.registry.services, app, stack)  # in the order of their needs
        for hook in app.registry.startup_hooks:
            result: Any = hook(app)
            if hasattr(result, "__aenter__"):
                await stack.enter_async_context(result)
            elif inspect.isawaitable(result):
                await result
        yield app


async def bootstrap_admin(app: AppContext) -> str | None:
    """On first start (no users, no tokens) create the user ``admin`` (role admin, no password yet) and an
    admin API token that belongs to it (every token belongs to a user), print the token once, keep it 0600."""
    async with app.db.session() as session:
        if await accounts.count_users(session) or await accounts.count_tokens(session):
            return None
        admin = await accounts.create_user(session, BOOTSTRAP_USER, None, Role.admin, actor="bootstrap")
        _, value = await accounts.create_token(
            session, "bootstrap-admin", Role.admin, user_id=admin.id, actor="bootstrap"
        )
    path = app.settings.data_dir / ADMIN_TOKEN_FILE
    write_private(path, value + "\n")
    print(
        f"\nGoosuke first start: created the user {BOOTSTRAP_USER!r} and an admin API token of theirs (also saved, "
        f"mode 0600, in {path}):\n\n"
        f"    {value}\n\nUse it as 'Authorization: Bearer <token>'. It is shown only this once. The user has no "
        f"password yet: set one with `goosuke user passwd {BOOTSTRAP_USER}` to log in with it.\n",
        file=sys.stderr,
        flush=True,
    )
    return value


def transport_security(settings: Settings) -> TransportSecuritySettings:
    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost", "[::1]"]
    origins = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
    if settings.host not in ("0.0.0.0", "::", "127.0.0.1", "localhost", "::1"):
        hosts += [settings.host, f"{settings.host}:*"]
    if settings.public_url:
        from urllib.parse import urlsplit

        public = urlsplit(settings.public_url)
        hosts.append(public.netloc)
        origins.append(f"{public.scheme}://{public.netloc}")
    hosts += settings.allowed_hosts
    origins += settings.allowed_origins
    enabled = "*" not in settings.allowed_hosts
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=enabled, allowed_hosts=hosts, allowed_origins=origins
    )


def create_app(settings: Settings, *, registry: Registry | None = None) -> Starlette:
    """The HTTP hub: /mcp, /sse + /messages/, /api, /healthz, /readyz, /metrics, OAuth metadata."""
    settings.check_serving()
    app = build_context(settings, transport="http", registry=registry)
    server = app.server
    assert server is not None
    # sse-starlette reads its keep-alive interval from this class attribute; it covers /sse and the
    # Streamable HTTP GET stream alike. Its type is inferred from the default 15 (int); a float works.
    EventSourceResponse.DEFAULT_PING_INTERVAL = settings.sse_ping_interval  # type: ignore[assignment]  # typed int
    security = transport_security(settings)
    streamable = server.streamable_http_app(
        streamable_http_path="/mcp",
        event_store=MemoryEventStore(settings.event_store_size),
        retry_interval=settings.sse_retry_interval_ms,
        max_request_body_size=settings.max_body_bytes,
        session_idle_timeout=settings.session_idle_timeout,
        transport_security=security,
        host=settings.host,
    )
    sse = server.sse_app(
        sse_path="/sse",
        message_path="/messages/",
        transport_security=security,
        max_request_body_size=settings.max_body_bytes,
        host=settings.host,
    )
    resource_url = AnyHttpUrl(f"{settings.base_url}/mcp")
    manager = server.session_manager
    app.metrics.track_mcp_sessions(lambda: len(getattr(manager, "_server_instances", {})))

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "version": __version__})

    async def readyz(request: Request) -> Response:
        try:
            await app.db.ping()
            current = await app.db.current_revision()
        except Exception as exc:  # the database is down: not ready, say why without a traceback
            logger.warning("readyz: database unreachable: %s", type(exc).__name__)
            return problem(503, "Not ready", f"The database is unreachable ({type(exc).__name__}).")
        head = app.db.head_revision()
        if current != head:
            return problem(
                503, "Not ready", f"Migrations are not current ({current} != {head}); run `goosuke migrate`."
            )
        facts = {"database": app.db.kind, "migration": current, "checks": app.services.readiness()}
        blocked = app.services.not_ready()  # a service that cannot work until an operator acts (a locked vault)
        if blocked:
            extra = {**facts, "not_ready": blocked}  # "status" is the problem's: 503
            return problem(503, "Not ready", " ".join(blocked.values()), extra=extra)
        return JSONResponse({"status": "ready", **facts})

    console = any(spec.path == "/ui" for spec in app.registry.routes)

    async def home(request: Request) -> Response:
        # A browser opening the hub's address lands on the console; other clients on the API page.
        if console and "text/html" in request.headers.get("accept", ""):
            return RedirectResponse(f"{urlsplit(settings.base_url).path.rstrip('/')}/ui", status_code=307)
        return RedirectResponse("/api/docs", status_code=307)

    async def authorization_server(request: Request) -> Response:
        # The hub issues its own tokens: API tokens out of band, access tokens by the password grant.
        base = settings.base_url
        return JSONResponse(
            {
                "issuer": f"{base}/",
                "token_endpoint": f"{base}/api/auth/token",
                "grant_types_supported": ["password"],
                "token_endpoint_auth_methods_supported": ["none"],
                "response_types_supported": [],
                "scopes_supported": [r.value for r in Role],
                "service_documentation": f"{base}/api/docs",
            }
        )

    async def metrics(request: Request) -> Response:
        return Response(app.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/readyz", readyz, methods=["GET", "HEAD"]),
        Route("/", home, methods=["GET", "HEAD"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/.well-known/oauth-authorization-server", authorization_server, methods=["GET"]),
        *create_protected_resource_routes(
            resource_url=resource_url,
            authorization_servers=[AnyHttpUrl(settings.base_url)],
            scopes_supported=[r.value for r in Role],
            resource_name="Goosuke",
        ),
        *streamable.routes,
        *sse.routes,
        *Facade(app).routes(),
        *(_plugin_route(spec, app) for spec in app.registry.routes),
    ]

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[dict[str, Any]]:
        async with running(app), manager.run():
            yield {"goosuke": app}

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        if status == 405:
            return problem(405, "Method not allowed", f"{request.method} is not allowed on {request.url.path}.")
        if status == 404:
            return problem(404, "Not found", f"No route {request.url.path}. The API is described at /api/docs.")
        return problem(status, "Error", str(getattr(exc, "detail", "")) or "Request failed.")

    async def server_error(request: Request, exc: Exception) -> Response:
        logger.exception("Unhandled error on %s", request.url.path, exc_info=exc)
        return problem(500, "Internal error", "The hub hit an unexpected error; its log has details.")

    metadata_url = str(build_resource_metadata_url(resource_url))
    public_routes = [Route(spec.path, _noop) for spec in app.registry.routes if spec.public]
    foreign_routes = [Route(spec.path, _noop) for spec in app.registry.routes if spec.public and not spec.browser]
    starlette = Starlette(
        routes=routes,
        middleware=[
            Middleware(MetricsMiddleware, metrics=app.metrics),
            Middleware(HostOriginMiddleware, security=security, exempt=foreign_routes),
            Middleware(BodyLimitMiddleware, limit=settings.max_body_bytes),
            Middleware(
                AuthMiddleware,
                verifier=app.verifier,
                resource_metadata_url=metadata_url,
                enabled=settings.auth == "token",
                public_routes=public_routes,
            ),
            Middleware(
                SessionCapMiddleware,
                limit=settings.max_sessions_per_principal,
                live_ids=lambda: getattr(manager, "_server_instances", {}).keys(),
            ),
        ],
        exception_handlers={404: not_found, 405: not_found, HTTPException: not_found, 500: server_error},
        lifespan=lifespan,
    )
    starlette.state.goosuke = app
    return starlette


def _plugin_route(spec: RouteSpec, app: AppContext) -> Route:
    async def endpoint(request: Request) -> Response:
        return await spec.fn(request, app)

    return Route(spec.path, endpoint, methods=list(spec.methods))


async def _noop(request: Request) -> Response:  # pragma: no cover - only used for path matching
    return Response()


async def run_stdio(settings: Settings) -> None:
    """Serve MCP over stdin/stdout as the local owner (admin): whoever can start the process owns it."""
    app = build_context(settings, transport="stdio")
    assert app.server is not None
    async with running(app):
        with contextlib.suppress(KeyboardInterrupt):
            await app.server.run_stdio_async()
