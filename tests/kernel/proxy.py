"""A reverse proxy that adds `Authorization: Bearer <token>` to every request, for clients that cannot send
one (the conformance suite). It streams both ways and keeps the client's Host and Origin headers, so the
hub's DNS-rebinding checks still see what the client sent."""

from __future__ import annotations

from starlette.types import Scope

from harness.proxy import ForwardingProxy


class TokenProxy(ForwardingProxy):
    def __init__(self, upstream: str, token: str) -> None:
        super().__init__(upstream)
        self.token = token

    def target(self, scope: Scope) -> tuple[str, list[tuple[bytes, bytes]]] | None:
        found = super().target(scope)
        assert found is not None
        url, headers = found
        headers = [(k, v) for k, v in headers if k != b"authorization"]
        return url, [*headers, (b"authorization", f"Bearer {self.token}".encode())]
