"""The deploy files are consistent with the code (no Docker engine runs here, so they are checked as text)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from hub.cli import parser


def test_compose_file_parses_and_runs_the_hub_with_an_optional_postgres(repo: Path) -> None:
    compose = yaml.safe_load((repo / "docker-compose.yml").read_text())
    hub = compose["services"]["goosuke"]
    assert hub["build"] == "."
    assert "goosuke-data:/data" in hub["volumes"]
    assert compose["services"]["postgres"]["profiles"] == ["postgres"]
    assert set(compose["volumes"]) == {"goosuke-data", "goosuke-pg"}


def test_dockerfile_runs_a_real_subcommand_as_a_non_root_user_with_a_healthcheck(repo: Path) -> None:
    text = (repo / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2  # multi-stage
    assert re.search(r"^USER goosuke$", text, re.M)
    assert "HEALTHCHECK" in text and "/healthz" in text
    assert re.search(r'^VOLUME \["/data"\]$', text, re.M)
    entrypoint = json.loads(re.search(r"^ENTRYPOINT (.+)$", text, re.M).group(1))  # type: ignore[union-attr]
    command = json.loads(re.search(r"^CMD (.+)$", text, re.M).group(1))  # type: ignore[union-attr]
    assert entrypoint == ["goosuke"]
    args = parser().parse_args(command)
    assert args.command == "serve"
