"""The examples of README.md and docs/*.md: collected from their fenced blocks with the marker that
precedes each one, and run against a real `goosuke serve` (see docs/testing.md, "Docs that run")."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx2

from harness import REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]  # docs/reference/ is generated
LANGUAGES = {"json", "sh", "bash", "shell", "console", "curl"}  # the blocks that must carry a marker
KINDS = {"sh", "call", "json", "skip"}
DOC_PORT = "127.0.0.1:8765"  # the address the docs show; the test's hub listens elsewhere
SH_TIMEOUT = 120.0  # one block: a CLI start, a few HTTP calls, a template_run that waits
CALL_TIMEOUT = 90.0

FENCE = re.compile(r"^(?P<indent>\s*)(?P<ticks>```+)(?P<lang>[\w-]*)\s*$")
MARKER = re.compile(r"^\s*<!--\s*example:\s*(?P<kind>[\w-]+)(?P<args>.*?)\s*-->\s*$")
# The plain variables a block leaves (exported or not), as `declare` lines the next block sources;
# bash's own, read-only, integer and array variables stay out.
KEEP_VARIABLES = (
    "for __v in $(compgen -v); do"
    ' case "$__v" in BASH*|FUNC*|_|__*|PWD|OLDPWD|SHLVL|PPID|SHELLOPTS|EPOCH*|SRANDOM) continue;; esac;'
    ' __d=$(declare -p "$__v" 2>/dev/null) || continue;'
    ' __f=${__d#declare -}; __f=${__f%% *}; case "$__f" in *[aAirn]*) continue;; esac;'
    ' printf "%s\\n" "$__d"; done'
)
REASON = re.compile(r'reason="(?P<reason>[^"]+)"')


@dataclass(frozen=True)
class Example:
    """One fenced block: where it is, its language, its marker (kind and arguments) and its text."""

    doc: Path
    line: int
    lang: str
    kind: str | None
    args: str
    text: str

    @property
    def where(self) -> str:
        doc = self.doc.relative_to(REPO) if self.doc.is_relative_to(REPO) else self.doc
        return f"{doc}:{self.line}"


def collect(doc: Path) -> list[Example]:
    """Every fenced block of ``doc`` in a marked language, with the marker on the line before it (if any)."""
    lines = doc.read_text(encoding="utf-8").splitlines()
    found: list[Example] = []
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        end = i + 1
        while end < len(lines) and not lines[end].strip().startswith(fence["ticks"]):
            end += 1
        lang = fence["lang"].lower()
        if lang in LANGUAGES:
            prev = next((line for line in reversed(lines[:i]) if line.strip()), "")
            marker = MARKER.match(prev)
            indent = len(fence["indent"])
            body = "\n".join(line[indent:] if line[:indent].isspace() else line for line in lines[i + 1 : end])
            found.append(
                Example(
                    doc=doc,
                    line=i + 1,
                    lang=lang,
                    kind=marker["kind"] if marker else None,
                    args=marker["args"].strip() if marker else "",
                    text=body,
                )
            )
        i = end + 1
    return found


def marking_problems(example: Example) -> list[str]:
    """Why an example's marker is missing or malformed (an empty list when it is fine)."""
    if example.kind is None:
        return [
            f"{example.where}: a ```{example.lang} block with no marker: add `<!-- example: sh -->`, "
            "`<!-- example: call TOOL -->`, `<!-- example: json -->` or "
            '`<!-- example: skip reason="..." -->` on the line before it'
        ]
    if example.kind not in KINDS:
        return [f"{example.where}: unknown example kind `{example.kind}`; use one of {sorted(KINDS)}"]
    if example.kind == "skip" and not REASON.search(example.args):
        return [f'{example.where}: a skipped example needs a reason: `<!-- example: skip reason="..." -->`']
    if example.kind == "call" and not re.fullmatch(r"[a-z][a-z0-9_]*", example.args):
        return [f"{example.where}: `<!-- example: call TOOL -->` needs one tool name"]
    if example.kind in {"call", "json"} and example.lang != "json":
        return [f"{example.where}: `{example.kind}` marks a ```json block"]
    if example.kind == "sh" and example.lang == "json":
        return [f"{example.where}: a ```json block is `call TOOL` or `json`, not `sh`"]
    return []


@dataclass
class Hub:
    """A running `goosuke serve` the examples of one document share, and the shell state they build."""

    url: str
    token: str
    env: dict[str, str]
    cwd: Path
    state: Path

    def run(self, example: Example) -> str | None:
        """Run one example; the failure's description, or None when it passed."""
        if example.kind == "json":
            return parse(example)
        if example.kind == "call":
            return self._call(example)
        if example.kind == "sh":
            return self._sh(example)
        return None

    def _call(self, example: Example) -> str | None:
        problem = parse(example)
        if problem:
            return problem
        answer = httpx2.post(
            f"{self.url}/api/tools/{example.args}",
            content=example.text.encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
            timeout=CALL_TIMEOUT,
        )
        if answer.status_code != 200:
            return f"{example.where}: {example.args} answered {answer.status_code}: {answer.text[:2000]}"
        return None

    def _sh(self, example: Example) -> str | None:
        text = example.text.replace(DOC_PORT, self.url.removeprefix("http://"))
        dump = self.cwd / ".example-state.new"
        script = "\n".join(
            [
                "set -euo pipefail",
                # curl -s prints an error body and exits 0; here an HTTP error fails the example
                'curl() { command curl --fail-with-body --show-error "$@"; }',
                f"source {shlex.quote(str(self.state))}",
                text,
                f"{KEEP_VARIABLES} > {shlex.quote(str(dump))}",
            ]
        )
        try:
            done = subprocess.run(
                ["bash", "-c", script],
                env=self.env,
                cwd=self.cwd,
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # no terminal: a command that prompts fails instead of waiting
                timeout=SH_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            return f"{example.where}: still running after {SH_TIMEOUT:.0f} s (does it wait for input or serve?)"
        if done.returncode != 0:
            return (
                f"{example.where}: exited with {done.returncode}\n--- stdout\n{done.stdout[-3000:]}"
                f"\n--- stderr\n{done.stderr[-3000:]}"
            )
        self.state.write_text(dump.read_text())
        return None


def parse(example: Example) -> str | None:
    try:
        json.loads(example.text)
    except json.JSONDecodeError as exc:
        return f"{example.where}: not strict JSON ({exc}); JSON has no comments: say in the text which tool it is for"
    return None


def shell_env(home: Path) -> dict[str, str]:
    """The environment the examples' shell and hub share: a fresh HOME (so `~/.local/share/goosuke` is
    the hub's data folder and SQLite file, as the docs say), no GOOSUKE_ or XDG_ variable of the caller,
    this venv's commands first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOOSUKE_", "XDG_"))}
    env["HOME"] = str(home)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env
