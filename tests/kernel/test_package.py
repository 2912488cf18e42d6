"""The distribution as a user gets it: `python -m build` makes the sdist and, from it, the wheel; the wheel goes
into a fresh venv outside the checkout, and the installed `goosuke serve` and `goosuke stdio` answer the real
SDK client with every data file the wheel must carry (static pages, template library, catalog, migrations).

Offline and fast: the build runs without isolation (build and hatchling are in the `test` extra), and the wheel
is installed with ``--no-deps``; its dependencies come from this venv's site-packages through a ``.pth`` line,
which puts that folder on ``sys.path`` without running its own ``.pth`` files, so the editable install that
points at the checkout stays out. The test asserts that the hub is imported from the new venv and that the
checkout is nowhere on its path, and `pip check` that the wheel's declared dependencies are met."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from harness import REPO, processes
from harness.processes import hub_env, serving
from hub.db.database import MIGRATIONS, Database

pytestmark = pytest.mark.anyio

STEP_TIMEOUT = 300  # one build or install step; together they take about 10 s
PACKAGES = {"hub", "tools", "resources", "agents"}


@dataclass(frozen=True)
class Installed:
    wheel: Path
    sdist: Path
    venv: Path
    outside: Path  # an empty working directory outside the checkout

    @property
    def goosuke(self) -> str:
        return str(self.venv / "bin" / "goosuke")

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")


def outside_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` without what could lead a child to the checkout (PYTHONPATH) or into coverage of this run."""
    return {k: v for k, v in env.items() if not k.startswith(("COVERAGE_", "PYTHON"))}


def run(*args: str, cwd: Path) -> str:
    env = outside_env(dict(os.environ))
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=STEP_TIMEOUT)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("package")
    assert not root.resolve().is_relative_to(REPO)
    dist, venv, outside = root / "dist", root / "venv", root / "outside"
    outside.mkdir()
    run(sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(REPO), cwd=outside)
    [wheel], [sdist] = dist.glob("*.whl"), dist.glob("*.tar.gz")
    run(sys.executable, "-m", "venv", "--without-pip", str(venv), cwd=outside)
    python = str(venv / "bin" / "python")
    pip = [sys.executable, "-m", "pip", "--python", python]
    run(*pip, "install", "--quiet", "--no-deps", "--no-index", "--no-compile", str(wheel), cwd=outside)
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=outside).strip())
    ours = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (site / "goosuke-test-dependencies.pth").write_text("".join(f"{path}\n" for path in ours))
    run(*pip, "check", cwd=outside)
    return Installed(wheel=wheel, sdist=sdist, venv=venv, outside=outside)


def test_the_wheel_carries_the_four_packages_and_their_data_files(installed: Installed) -> None:
    # `python -m build` made the wheel from the sdist: whatever the wheel holds, the sdist held too
    assert installed.sdist.name == installed.wheel.name.split("-py3")[0] + ".tar.gz"
    wheel = zipfile.ZipFile(installed.wheel)
    names = wheel.namelist()
    dist_info = installed.wheel.name.split("-py3")[0] + ".dist-info"
    assert len(names) == len(set(names))
    assert {name.split("/")[0] for name in names} == PACKAGES | {dist_info}
    for data in (
        "hub/static/docs.html",
        "hub/static/docs.js",
        "hub/static/docs.css",
        "hub/templates/library/meeting-summary.yaml",
        "hub/catalog/data/github.json",
        "hub/db/migrations/env.py",
        "hub/db/migrations/script.py.mako",
    ):
        assert data in names
    versions = {path.name for path in (MIGRATIONS / "versions").glob("*.py")}
    assert versions <= {Path(name).name for name in names if name.startswith("hub/db/migrations/versions/")}
    assert "goosuke = hub.cli:main" in wheel.read(f"{dist_info}/entry_points.txt").decode()


def test_the_installed_hub_is_imported_from_its_venv_not_the_checkout(installed: Installed) -> None:
    code = "import hub, sys; print(hub.__file__); print(*sys.path, sep='\\n')"
    hub_file, *path = run(installed.python, "-c", code, cwd=installed.outside).splitlines()
    assert Path(hub_file).is_relative_to(installed.venv)
    # this venv's site-packages lies in the checkout (.venv/): what counts is that no source folder is reachable
    entries = [installed.outside / entry for entry in path]  # "" is the working directory
    assert REPO not in entries
    for package in (*PACKAGES, "harness", "tests"):
        assert not any(
            (entry / package / "__init__.py").exists() for entry in entries if not entry.is_relative_to(installed.venv)
        )


async def test_installed_goosuke_serve_answers_with_its_data_files(
    installed: Installed, tmp_path: Path, port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(processes, "GOOSUKE", [installed.goosuke])
    monkeypatch.setattr(processes, "REPO", installed.outside)
    data = tmp_path / "data"
    url = f"http://127.0.0.1:{port}"
    with serving(outside_env(hub_env(data)), port, log=tmp_path / "serve.log"):
        token = (data / "admin.token").read_text().strip()
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http,
            Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client,
        ):
            names = {tool.name for tool in (await client.list_tools()).tools}
            me = await client.call_tool("whoami", {})
            templates = await client.call_tool("template_list", {})
            catalog = await client.call_tool("catalog_search", {"query": "github"})
            page = await http.get(f"{url}/api/docs")
            script = await http.get(f"{url}/api/docs/docs.js")
    assert {"whoami", "hub_info", "template_list", "catalog_search"} <= names
    assert me.structured_content["role"] == "admin"
    assert "meeting-summary" in {t["name"] for t in templates.structured_content["templates"]}
    assert "io.github.modelcontextprotocol/server-github" in {e["name"] for e in catalog.structured_content["entries"]}
    assert page.status_code == 200 and "<title>Goosuke API</title>" in page.text
    assert script.status_code == 200 and script.text
    with sqlite3.connect(data / "goosuke.db") as db:  # migrated from empty to the heads the checkout has
        applied = {row[0] for row in db.execute("SELECT version_num FROM alembic_version")}
    assert applied == Database.head_revisions()


async def test_installed_goosuke_stdio_serves_the_local_owner(installed: Installed, tmp_path: Path) -> None:
    params = StdioServerParameters(
        command=installed.goosuke,
        args=["stdio"],
        env=outside_env(hub_env(tmp_path / "data")),
        cwd=str(installed.outside),
    )
    async with Client(params) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        info = await client.call_tool("hub_info", {})
    assert {"whoami", "hub_info", "user_create"} <= names
    assert info.structured_content["transports"] == ["stdio"]


def test_the_dockerfile_builds_the_way_this_module_proves_works() -> None:
    """No Docker engine runs here: the build stage must copy what the build reads and run the same build."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    build, runtime = (REPO / "Dockerfile").read_text().split("\nFROM ")[1:3]
    copied = {src.rstrip("/") for line in re.findall(r"^COPY (.+)$", build, re.M) for src in line.split()[:-1]}
    assert {
        "pyproject.toml",
        project["project"]["readme"],
        *project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"],
    } <= copied
    assert Path(project["tool"]["hatch"]["version"]["path"]).parts[0] in copied
    assert re.search(r"^RUN python -m build --outdir /dist$", build, re.M)
    assert re.search(r"^COPY --from=build /dist/\*\.whl ", runtime, re.M)
