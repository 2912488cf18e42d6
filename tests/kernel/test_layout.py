"""The repository's own boundaries: bench/ runs on the shared harness (harness/), never on the test suite."""

from __future__ import annotations

import ast
from pathlib import Path


def test_bench_never_imports_tests(repo: Path) -> None:
    """bench/ (and harness/, which bench imports) reach the doubles and process helpers through harness/."""
    for path in sorted([*(repo / "bench").rglob("*.py"), *(repo / "harness").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                assert module.split(".")[0] != "tests", (
                    f"{path.relative_to(repo)}:{node.lineno} imports {module}: "
                    "move what bench needs into harness/ and import it from there"
                )
