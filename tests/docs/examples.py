"""The examples of README.md and docs/*.md: collected from their fenced blocks with the marker that
precedes each one (see docs/testing.md, "Docs that run"). Running them is :mod:`tests.docs.hub`."""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from harness import REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]  # docs/reference/ is generated
SHELL = {"sh", "bash", "shell", "console", "curl"}
LANGUAGES = SHELL | {"json", "yaml", "python"}  # the blocks that must carry a marker
# kind -> the languages it marks, and the options it takes (a value option is key="...", a flag is bare)
KINDS: dict[str, frozenset[str]] = {
    "sh": frozenset(SHELL),
    "call": frozenset({"json"}),
    "json": frozenset({"json"}),
    "python": frozenset({"python"}),
    "client": frozenset({"json", "yaml"}),
    "skip": frozenset(LANGUAGES),
}
OPTIONS: dict[str, frozenset[str]] = {
    "sh": frozenset({"expect", "llm", "model", "discord-channel"}),
    "call": frozenset({"error", "expect", "model", "discord-channel"}),
    "json": frozenset({"answer"}),
    "python": frozenset({"expect"}),
    "client": frozenset(),
    "skip": frozenset({"reason"}),
}
FLAGS = frozenset({"model", "answer"})
# Placeholders the docs show, and what the test puts in their place (see Places)
DOC_PORT = "127.0.0.1:8765"  # the address the docs show; the test's hub listens elsewhere
DOC_CHECKOUT = "/path/to/goosuke/"  # the checkout: its `.venv/bin/goosuke` is this venv's command
DOC_DATA_DIR = "/path/to/goosuke-data"  # a data folder of a client's own: a scratch one
# Every block marked `llm` or `model` talks to the test's OpenAI-compatible double; it answers this.
MODEL_ANSWER = "## Summary\nAnswered by the model double."
FAKE_OPENAI_KEY = "sk-docs-example-key-0123456789"  # `$OPENAI_API_KEY` of a document that has a model double

FENCE = re.compile(r"^(?P<indent>\s*)(?P<ticks>```+)(?P<lang>[\w-]*)\s*$")
MARKER = re.compile(r"^\s*<!--\s*example:\s*(?P<kind>[\w-]+)(?P<args>.*?)\s*-->\s*$")
OPTION = re.compile(r'\s*(?P<key>[a-z][a-z-]*)(?:="(?P<value>[^"]*)")?')
TOOL = re.compile(r"\s*(?P<tool>[a-z][a-z0-9_]*)(?=\s|$)")


@dataclass(frozen=True)
class Example:
    """One fenced block: where it is, its language, its marker (kind, tool, options) and its text."""

    doc: Path
    line: int
    lang: str
    kind: str | None
    args: str
    text: str
    tool: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    problem: str | None = None  # a malformed marker

    @property
    def where(self) -> str:
        doc = self.doc.relative_to(REPO) if self.doc.is_relative_to(REPO) else self.doc
        return f"{doc}:{self.line}"


def parse_options(kind: str, args: str) -> tuple[str | None, dict[str, str], str | None]:
    """A marker's tool (for `call`), its options, and what is malformed in them (None when nothing)."""
    tool = None
    rest = args
    if kind == "call":
        match = TOOL.match(rest)
        if not match:
            return None, {}, "`<!-- example: call TOOL -->` needs one tool name"
        tool, rest = match["tool"], rest[match.end() :]
    options: dict[str, str] = {}
    while rest.strip():
        match = OPTION.match(rest)
        if not match or match.end() == 0:
            return tool, options, f"cannot read the marker's options at `{rest.strip()[:40]}`"
        key, value = match["key"], match["value"]
        if key in options:
            return tool, options, f"option `{key}` is given twice"
        if key in FLAGS and value is not None:
            return tool, options, f"`{key}` takes no value"
        if key not in FLAGS and value is None:
            return tool, options, f'`{key}` needs a value: {key}="..."'
        options[key] = value or ""
        rest = rest[match.end() :]
    return tool, options, None


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
            kind = marker["kind"] if marker else None
            args = marker["args"].strip() if marker else ""
            tool, options, problem = (
                parse_options(kind, args) if kind is not None and kind in KINDS else (None, {}, None)
            )
            found.append(Example(doc, i + 1, lang, kind, args, body, tool, options, problem))
        i = end + 1
    return found


def marking_problems(example: Example) -> list[str]:
    """Why an example's marker is missing or malformed (an empty list when it is fine)."""
    if example.kind is None:
        return [
            f"{example.where}: a ```{example.lang} block with no marker: add `<!-- example: KIND -->` on the line "
            f"before it, KIND one of {', '.join(sorted(KINDS))} (docs/testing.md, Docs that run)"
        ]
    if example.kind not in KINDS:
        return [f"{example.where}: unknown example kind `{example.kind}`; use one of {sorted(KINDS)}"]
    if example.problem:
        return [f"{example.where}: {example.problem}"]
    if example.lang not in KINDS[example.kind]:
        langs = ", ".join(f"```{lang}" for lang in sorted(KINDS[example.kind]))
        return [f"{example.where}: `{example.kind}` marks a {langs} block, not a ```{example.lang} one"]
    unknown = sorted(set(example.options) - OPTIONS[example.kind])
    if unknown:
        allowed = ", ".join(sorted(OPTIONS[example.kind])) or "none"
        return [f"{example.where}: `{example.kind}` takes no option {', '.join(unknown)} (it takes: {allowed})"]
    if example.kind == "skip" and not example.options.get("reason"):
        return [f'{example.where}: a skipped example needs a reason: `<!-- example: skip reason="..." -->`']
    if "llm" in example.options and example.options["llm"] not in example.text:
        return [f"{example.where}: llm={example.options['llm']!r} is not in the block"]
    if "discord-channel" in example.options and example.options["discord-channel"] not in example.text:
        return [f"{example.where}: discord-channel={example.options['discord-channel']!r} is not in the block"]
    return []


def document_problems(examples: list[Example]) -> list[str]:
    """Problems of a document's markers taken together: a `json answer` needs a `call` just before it."""
    problems = []
    for before, example in zip([None, *examples], examples, strict=False):
        if example.kind == "json" and "answer" in example.options and (before is None or before.kind != "call"):
            problems.append(f"{example.where}: `json answer` compares with the call just before it; there is none")
    return problems


def needs(examples: list[Example], *options: str) -> bool:
    """Whether any example of a document carries one of ``options``."""
    return any(option in example.options for example in examples for option in options)


def parse(example: Example) -> str | None:
    try:
        json.loads(example.text)
    except json.JSONDecodeError as exc:
        return f"{example.where}: not strict JSON ({exc}); JSON has no comments: say in the text which tool it is for"
    return None


def section(doc: Path, first: str, last: str) -> list[Example]:
    """The examples of ``doc`` from the heading ``first`` up to the end of the section ``last``."""
    lines = doc.read_text(encoding="utf-8").splitlines()
    heads = [n + 1 for n, line in enumerate(lines) if line.startswith("## ")]
    start = next(n + 1 for n, line in enumerate(lines) if line == f"## {first}")
    begin_last = next(n + 1 for n, line in enumerate(lines) if line == f"## {last}")
    end = next((h for h in heads if h > begin_last), len(lines) + 1)
    return [example for example in collect(doc) if start < example.line < end]


@dataclass(frozen=True)
class Places:
    """What stands in for the docs' placeholders: the hub's address, the checkout, a client's data folder,
    and (when the document has them) the model double's URL and the Discord double's channel."""

    hub: str  # host:port
    checkout: Path  # holds `.venv`, a link to this venv
    data_dir: Path
    llm: str | None = None  # the model double's /v1 URL
    channel: str | None = None  # a channel id on the Discord double

    def apply(self, example: Example) -> str:
        text = example.text.replace(DOC_PORT, self.hub)
        text = text.replace(DOC_CHECKOUT, f"{self.checkout}/").replace(DOC_DATA_DIR, str(self.data_dir))
        if "llm" in example.options:
            assert self.llm, f"{example.where}: no model double runs for this document"
            text = text.replace(example.options["llm"], self.llm)
        if "discord-channel" in example.options:
            assert self.channel, f"{example.where}: no Discord double runs for this document"
            text = text.replace(example.options["discord-channel"], self.channel)
        return text


def shell_env(home: Path) -> dict[str, str]:
    """The environment the examples' shell and hub share: a fresh HOME (so `~/.local/share/goosuke` is
    the hub's data folder and SQLite file, as the docs say), no GOOSUKE_ or XDG_ variable of the caller,
    this venv's commands first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOOSUKE_", "XDG_"))}
    env["HOME"] = str(home)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env
