"""Deterministic ranking of catalog entries for a task: words of the task against each entry's keywords,
names and description. ``extension_recommend`` and ``catalog_search`` use it offline."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hub.catalog.entries import ServerJson

STOPWORDS = frozenset(
    [
        "the",
        "a",
        "an",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "for",
        "with",
        "from",
        "into",
        "onto",
        "by",
        "at",
        "as",
        "is",
        "are",
        "be",
        "it",
        "this",
        "that",
        "these",
        "those",
        "my",
        "our",
        "your",
        "me",
        "we",
        "you",
        "i",
        "them",
        "their",
        "its",
        "all",
        "any",
        "some",
        "each",
        "every",
        "please",
        "can",
        "could",
        "would",
        "should",
        "will",
        "shall",
        "do",
        "does",
        "did",
        "then",
        "than",
        "so",
        "if",
        "when",
        "what",
        "which",
        "who",
        "how",
        "use",
        "using",
        "make",
        "get",
        "give",
        "let",
        "new",
        "also",
        "about",
    ]
)


def tokens(text: str) -> list[str]:
    words = re.findall(r"[a-z0-9]+", text.lower())
    out = []
    for word in words:
        if len(word) < 2 or word in STOPWORDS:
            continue
        out.append(word)
        for suffix in ("ies", "es", "s", "ing", "ed"):
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                out.append(word[: -len(suffix)] + ("y" if suffix == "ies" else ""))
                break
    return out


@dataclass(frozen=True)
class Match:
    entry: ServerJson
    score: int
    matched: list[str]


def rank(entries: list[ServerJson], text: str) -> list[Match]:
    """Score = 3 per keyword hit, 2 per name or title hit, 1 per description hit; ties by name."""
    wanted = set(tokens(text))
    matches = []
    for entry in entries:
        keywords = set(entry.keywords) | {t for k in entry.keywords for t in tokens(k)}
        names = set(tokens(f"{entry.short_name} {entry.title or ''} {entry.name.split('/')[-1]}"))
        words = set(tokens(entry.description))
        hits = {w: 3 for w in wanted & keywords}
        for w in wanted & names:
            hits[w] = max(hits.get(w, 0), 2)
        for w in wanted & words:
            hits.setdefault(w, 1)
        if hits:
            matches.append(Match(entry, sum(hits.values()), sorted(hits)))
    return sorted(matches, key=lambda m: (-m.score, m.entry.name))
