"""The public surface for tool authors is deliberate: this test pins it."""

from __future__ import annotations

import hub
from hub.registry import Registry


def test_hub_exports_exactly_what_tool_authors_need() -> None:
    assert sorted(hub.__all__) == [
        "AgentRunError",
        "AppContext",
        "AuthError",
        "Call",
        "ConfigError",
        "Conflict",
        "GoosukeError",
        "InvalidArguments",
        "NotFound",
        "PermissionDenied",
        "Plugin",
        "Principal",
        "Role",
        "ToolError",
        "__version__",
    ]


def test_every_tool_has_a_description_and_a_reference_entry(repo) -> None:  # type: ignore[no-untyped-def]
    reference = (repo / "docs/reference/tools.md").read_text()
    for name, spec in Registry.discover().tools.items():
        assert len(spec.description) > 20, name
        assert f"### `{name}`" in reference, f"{name} is missing from docs/reference/tools.md: run `goosuke docs`"


def test_hub_never_imports_the_domains(repo) -> None:  # type: ignore[no-untyped-def]
    import ast

    for path in (repo / "hub").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in {"tools", "resources", "agents"}, f"{path} imports {name}"
