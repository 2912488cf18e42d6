"""The public surface for tool authors is deliberate: this test pins it."""

from __future__ import annotations

import hub
from hub.registry import Registry


def test_hub_exports_exactly_what_tool_authors_need() -> None:
    assert sorted(hub.__all__) == [
        "AgentRunError",
        "AppContext",
        "Arguments",
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


KERNEL_PACKAGES = {"db"}  # the kernel's only subpackage; every other folder under hub/ is a domain
# The policy is the kernel's (one decision for every surface), though it lives beside the teams domain:
POLICY_MODULES = {
    f"hub.teams.{name}" for name in ("permissions", "roles", "grants", "policy", "audit", "lookup", "tokens")
}


def test_the_kernel_never_imports_a_domain_package(repo) -> None:  # type: ignore[no-untyped-def]
    import ast

    hub_dir = repo / "hub"
    domains = {p.name for p in hub_dir.iterdir() if (p / "__init__.py").exists()} - KERNEL_PACKAGES
    assert {"engine", "templates", "triggers", "vault", "extensions", "federation", "catalog", "discord"} <= domains
    policy = [hub_dir / "teams" / f"{name.rsplit('.', 1)[1]}.py" for name in sorted(POLICY_MODULES)]
    kernel = [*hub_dir.glob("*.py"), *(hub_dir / "db").rglob("*.py"), *policy]
    for path in kernel:
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            for name in names:
                parts = name.split(".")
                if ".".join(parts[:3]) in POLICY_MODULES:
                    continue
                assert not (parts[0] == "hub" and len(parts) > 1 and parts[1] in domains), (
                    f"{path.relative_to(repo)} imports {name}: the kernel reaches domains through "
                    "hub/protocols.py and app.services, never by import"
                )


def test_every_domain_package_says_what_service_it_offers_and_needs(repo) -> None:  # type: ignore[no-untyped-def]
    import importlib

    for package in sorted(p for p in (repo / "hub").iterdir() if (p / "__init__.py").exists()):
        if package.name in KERNEL_PACKAGES:
            continue
        doc = importlib.import_module(f"hub.{package.name}").__doc__ or ""
        assert len(doc) > 80, f"hub/{package.name}/__init__.py needs a docstring naming its service and needs"
        if package.name == "teams":  # rows the services read through the policy: no running service
            assert "no running" in doc.lower() and "plugin.py" in doc, "hub/teams: say why there is no Service"
        elif package.name != "catalog":  # the catalog is functions over shipped data: no service of its own
            assert "Service" in doc and "plugin.py" in doc, f"hub/{package.name}: name the service and plugin.py"
