"""The HTTP facade at /api: the registry's tools and resources for clients that do not speak MCP.

Every handler goes through ``Registry.call_tool``/``read_resource``, exactly as MCP does; the
OpenAPI document is generated from the same pydantic models.
"""

from __future__ import annotations

import logging
from importlib import resources as package_files
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from pydantic.json_schema import models_json_schema
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from hub import jsonlimits
from hub._version import __version__
from hub.auth import PRINCIPAL_SCOPE_KEY
from hub.context import AppContext
from hub.errors import BadRequest, GoosukeError, describe_validation_errors
from hub.plugin import Call
from hub.principal import Principal
from hub.problems import error_response, problem

logger = logging.getLogger("goosuke.facade")


class TokenRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class UnsupportedMediaType(BadRequest):
    status = 415
    title = "Unsupported media type"


async def read_json(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return {}
    return jsonlimits.loads(raw)


async def json_body(request: Request) -> Any:
    """A tool call's arguments. The body must be ``application/json`` (a browser form cannot send that
    cross-site without a CORS preflight, which the hub never grants); only an empty body may omit it.

    Raises:
        UnsupportedMediaType: another ``Content-Type``, or a body without one.
    """
    content_type = request.headers.get("content-type")
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        raw = await request.body()
        if content_type is not None or raw.strip():
            shown = f"Content-Type {content_type[:100]!r}" if content_type is not None else "no Content-Type"
            raise UnsupportedMediaType(
                f"Tool calls take a JSON body: send the header Content-Type: application/json (got {shown}).",
                errors=[{"field": "Content-Type", "message": "must be application/json", "type": "media_type"}],
            )
    return await read_json(request)


class Facade:
    def __init__(self, app: AppContext) -> None:
        self.app = app

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/api/auth/token", self.token, methods=["POST"]),
            Route("/api/tools", self.list_tools, methods=["GET"]),
            Route("/api/tools/{name}", self.call_tool, methods=["POST"]),
            Route("/api/resources", self.resources, methods=["GET"]),
            Route("/api/openapi.json", self.openapi, methods=["GET"]),
            Route("/api/docs", self.docs_page, methods=["GET"]),
            Route("/api/docs/{asset}", self.docs_asset, methods=["GET"]),
        ]

    def _call(self, request: Request) -> Call:
        principal: Principal = request.scope[PRINCIPAL_SCOPE_KEY]
        return Call(principal=principal, app=self.app, via="api")

    async def token(self, request: Request) -> Response:
        if self.app.verifier is None:
            return problem(400, "Authentication is off", "GOOSUKE_AUTH=none: no token is needed.")
        try:
            if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
                data: Any = dict(await request.form())
            else:
                data = await read_json(request)
            creds = TokenRequest.model_validate(data)
            access, ttl = await self.app.verifier.password_login(creds.username, creds.password)
        except ValidationError as exc:
            errors = describe_validation_errors(exc.errors())
            return problem(422, "Invalid arguments", 'Send {"username": ..., "password": ...}.', errors)
        except GoosukeError as exc:
            return error_response(exc)
        return JSONResponse(TokenResponse(access_token=access, expires_in=ttl).model_dump())

    async def list_tools(self, request: Request) -> Response:
        tools = [
            {
                "name": s.name,
                "title": s.title,
                "description": s.description,
                "role": s.role.value,
                "permission": s.permission,
                "input_schema": s.input_schema,
                "output_schema": s.output_schema,
            }
            for s in self.app.registry.callable_tools(self._call(request).principal)
        ]
        return JSONResponse({"tools": tools})

    async def call_tool(self, request: Request) -> Response:
        name = request.path_params["name"]
        try:
            self.app.registry.tool(name)
            arguments = await json_body(request)
            result = await self.app.registry.call_tool(name, arguments, self._call(request))
        except GoosukeError as exc:
            return error_response(exc)
        except ClientDisconnect:  # the caller left before its arguments arrived: nobody to answer
            return Response(status_code=400)
        except Exception:
            logger.exception("Tool %r crashed (facade)", name)
            return problem(500, "Internal error", f"Tool {name!r} failed unexpectedly; the hub log has details.")
        return JSONResponse(result.model_dump(mode="json"))

    async def resources(self, request: Request) -> Response:
        uri = request.query_params.get("uri")
        registry = self.app.registry
        if not uri:
            return JSONResponse(
                {
                    "resources": [
                        {
                            "uri": s.uri,
                            "name": s.name,
                            "description": s.description,
                            "mime_type": s.mime_type,
                            "template": s.is_template,
                        }
                        for s in registry.resources
                    ]
                }
            )
        try:
            spec, content = await registry.read_resource(uri, self._call(request))
        except GoosukeError as exc:
            return error_response(exc)
        if isinstance(content, bytes):
            return Response(content, media_type=spec.mime_type)
        if spec.mime_type == "application/json":
            return Response(content, media_type="application/json")
        return Response(content, media_type=spec.mime_type)

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(build_openapi(self.app))

    async def docs_page(self, request: Request) -> Response:
        return Response(_asset("docs.html"), media_type="text/html; charset=utf-8")

    async def docs_asset(self, request: Request) -> Response:
        asset = request.path_params["asset"]
        types = {"docs.js": "text/javascript", "docs.css": "text/css"}
        if asset not in types:
            return problem(404, "Not found", f"No asset {asset!r}.")
        return Response(_asset(asset), media_type=types[asset])


def _asset(name: str) -> bytes:
    return package_files.files("hub").joinpath("static", name).read_bytes()


def build_openapi(app: AppContext) -> dict[str, Any]:
    """An OpenAPI 3.1 document generated from the registry's models."""
    specs = list(app.registry.tools.values())
    pairs: list[tuple[type[BaseModel], Any]] = []
    for spec in specs:
        pairs.append((spec.input_model, "validation"))
        pairs.append((spec.output_model, "serialization"))
    pairs.append((TokenRequest, "validation"))
    pairs.append((TokenResponse, "serialization"))
    refs, defs = models_json_schema(pairs, ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    schemas["Problem"] = {
        "type": "object",
        "required": ["title", "status", "detail"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "field": {"type": "string"},
                        "message": {"type": "string"},
                        "type": {"type": "string"},
                    },
                },
            },
        },
    }
    problem_ref = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    errors = {
        str(code): {"description": text, "content": problem_ref}
        for code, text in (
            (400, "Malformed request"),
            (401, "Missing or bad token"),
            (403, "Role too low"),
            (404, "Not found"),
            (409, "Conflict"),
            (413, "Body too large"),
            (415, "Body is not application/json"),
            (422, "Invalid arguments"),
        )
    }
    paths: dict[str, Any] = {
        "/api/auth/token": {
            "post": {
                "operationId": "auth_token",
                "summary": "Exchange a username and password for an access token.",
                "security": [],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": refs[(TokenRequest, "validation")]}},
                },
                "responses": {
                    "200": {
                        "description": "Access token",
                        "content": {"application/json": {"schema": refs[(TokenResponse, "serialization")]}},
                    },
                    **errors,
                },
            }
        },
    }
    for spec in specs:
        paths[f"/api/tools/{spec.name}"] = {
            "post": {
                "operationId": spec.name,
                "summary": spec.description.splitlines()[0],
                "description": f"{spec.description}\n\nRequired role: `{spec.role.value}`.",
                "tags": [spec.plugin],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": refs[(spec.input_model, "validation")]}},
                },
                "responses": {
                    "200": {
                        "description": "Result",
                        "content": {"application/json": {"schema": refs[(spec.output_model, "serialization")]}},
                    },
                    **errors,
                },
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Goosuke HTTP facade",
            "version": __version__,
            "description": "Every tool of the hub's MCP server, as JSON over HTTP. Same tools, same models.",
        },
        "servers": [{"url": app.settings.base_url}],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
    }
