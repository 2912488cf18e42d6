"""A path-prefixing reverse proxy: the hub at ``http://proxy/goosuke/...`` as ``https://example.org/goosuke/`` would
serve it. It strips the prefix, forwards the rest to the hub (keeping Host, Origin and cookies), streams both ways
(server-sent events included) and rewrites nothing in the answer: every link, asset, redirect and event stream URL
must already carry the prefix. A path outside the prefix is a 404, so a link that forgets it fails visibly."""

from __future__ import annotations

from starlette.types import Scope

from harness.proxy import ForwardingProxy


class PrefixProxy(ForwardingProxy):
    def __init__(self, upstream: str, prefix: str) -> None:
        super().__init__(upstream, follow_redirects=False)
        self.prefix = prefix.rstrip("/")
        self.outside: list[str] = []  # paths asked for without the prefix (a page that forgot it)

    def target(self, scope: Scope) -> tuple[str, list[tuple[bytes, bytes]]] | None:
        path: str = scope["path"]
        if not (path == self.prefix or path.startswith(self.prefix + "/")):
            self.outside.append(path)
            return None
        return super().target({**scope, "path": path[len(self.prefix) :] or "/"})
