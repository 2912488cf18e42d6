"""Where the Node-based tools installed by `.ci/tools.sh` live. A missing tool fails the test or benchmark that
needs it: run the script."""

from __future__ import annotations

import os
from pathlib import Path

from harness import REPO

TOOLS = Path(os.environ.get("GOOSUKE_TOOLS_DIR", REPO / ".tools"))

DEFAULTS = {
    "GOOSUKE_NODE22_BIN": TOOLS / "node22/node_modules/node/bin",
    "GOOSUKE_CONFORMANCE_BIN": TOOLS / "conformance/node_modules/@modelcontextprotocol/conformance/dist/index.js",
    "GOOSUKE_INSPECTOR_CLI": TOOLS
    / "inspector/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js",
    "GOOSUKE_GOOSE_BIN": TOOLS / "goose/node_modules/@aaif/goose-binary-linux-x64/bin/goose",
    "GOOSUKE_SERVERS_DIR": TOOLS / "servers",
    "GOOSUKE_AXE_JS": TOOLS / "axe/node_modules/axe-core/axe.min.js",
}


def tool_path(name: str) -> Path:
    """The path of a tool from its environment variable or the default install folder.

    Raises:
        AssertionError: the tool is not installed (the suite needs it: run `bash .ci/tools.sh`).
    """
    path = Path(os.environ.get(name) or DEFAULTS[name])
    assert path.exists(), f"{name} not found at {path}: run `bash .ci/tools.sh` to install the test tools"
    return path


def node22() -> str:
    return str(tool_path("GOOSUKE_NODE22_BIN") / "node")
