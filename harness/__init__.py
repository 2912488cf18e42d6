"""The shared harness of tests/ and bench/: wire-protocol doubles of outside services (``harness.doubles``)
and helpers that run real hub processes (``harness.processes``, ``harness.tools``). Never shipped in the
wheel: pyproject.toml packages hub, tools, resources and agents only."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent  # the repository root: hub processes and test servers run from it
