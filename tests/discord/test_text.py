"""Discord's text rules: splitting at 2,000 characters on lines, emoji forms, transcript lines and chunks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.discord.text import (
    Emoji,
    chunk_lines,
    message_text,
    normalize_emoji,
    snowflake_time,
    split_message,
    time_snowflake,
    transcript_line,
)

lines = st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=2600), max_size=12)


@settings(max_examples=150, deadline=None)
@given(lines)
def test_every_piece_fits_and_nothing_is_lost(parts: list[str]) -> None:
    text = "\n".join(parts)
    pieces = split_message(text)
    assert all(0 < len(p) <= 2000 for p in pieces)
    if "```" not in text:  # without fences, the pieces are the text, cut only at newlines and long-line breaks
        squashed = "".join("".join(p.split()) for p in pieces)
        assert squashed == "".join(text.split())


def test_short_text_is_one_message_and_long_text_splits_on_line_boundaries() -> None:
    assert split_message("hello\nworld") == ["hello\nworld"]
    text = "\n".join(f"line {i:03d} " + "x" * 90 for i in range(60))  # 60 lines of 99 characters
    pieces = split_message(text)
    assert len(pieces) == 4 and "\n".join(pieces) == text
    assert all(piece.split("\n")[0].startswith("line ") for piece in pieces)


def test_a_line_longer_than_a_message_is_cut_at_a_space_first() -> None:
    line = ("word " * 1000).strip()  # 4,999 characters, no newline (Paginator would raise)
    pieces = split_message(line)
    assert len(pieces) == 3 and all(len(p) <= 2000 for p in pieces)
    assert " ".join(pieces).split() == line.split()
    assert all(not p.startswith(" ") and not p.endswith(" ") for p in pieces)
    assert [len(p) for p in split_message("x" * 4500)] == [1968, 1968, 564]


def test_a_code_fence_cut_in_two_is_closed_and_reopened() -> None:
    code = "```python\n" + "\n".join(f"print({i})  # " + "c" * 40 for i in range(80)) + "\n```"
    pieces = split_message("Here is the code:\n" + code)
    assert len(pieces) >= 2
    assert pieces[0].endswith("\n```") and pieces[1].startswith("```python\n")
    assert all(p.count("```") % 2 == 0 for p in pieces)


def test_blank_text_makes_no_message() -> None:
    assert split_message("\n\n  \n") == []


@pytest.mark.parametrize(
    ("text", "name", "emoji_id"),
    [("✏️", "✏", None), ("✏", "✏", None), ("📝", "📝", None), ("<:ship:123>", "ship", 123), ("ship:123", "ship", 123)],
)
def test_emoji_forms(text: str, name: str, emoji_id: int | None) -> None:
    emoji = Emoji.parse(text)
    assert (emoji.name, emoji.id) == (name, emoji_id)


def test_the_pencil_matches_with_and_without_its_variation_selector() -> None:
    pencil = Emoji.parse("✏️")
    assert pencil.matches("✏️", None) and pencil.matches("✏", None)
    assert not pencil.matches("📝", None) and not pencil.matches("✏", 5)
    custom = Emoji.parse("<a:party:77>")
    assert custom.animated and custom.matches("renamed", 77) and not custom.matches("party", None)
    assert str(custom) == "<a:party:77>" and custom.api_form == "party:77"
    assert normalize_emoji("\u270f\ufe0f") == "\u270f"
    for bad in ("", "ok", "two words", "x" * 40):
        with pytest.raises(ValueError, match="not an emoji"):
            Emoji.parse(bad)


def test_a_message_reads_with_author_time_embeds_and_attachments() -> None:
    message = {
        "id": "1",
        "timestamp": "2026-05-04T12:01:30+00:00",
        "author": {"id": "9", "username": "ana_k", "global_name": "Ana"},
        "content": "Plan:\nship Friday",
        "embeds": [{"title": "CI", "description": "green", "fields": [{"name": "tests", "value": "812"}]}],
        "attachments": [{"filename": "plan.pdf"}],
    }
    assert message_text(message) == "Plan:\nship Friday [embed: CI — green — tests: 812] [attachment: plan.pdf]"
    assert transcript_line(message) == (
        "2026-05-04 12:01 Ana: Plan:\n  ship Friday [embed: CI — green — tests: 812] [attachment: plan.pdf]"
    )
    assert transcript_line({"id": "1", "author": {}, "content": ""}) is None


def test_snowflakes_and_times_round_trip() -> None:
    flake = 1575239815056588806
    moment = snowflake_time(flake)
    assert time_snowflake(moment) <= flake < time_snowflake(moment) + (1 << 22) * 1000


def test_chunks_respect_the_budget() -> None:
    lines = [f"line {i} " + "y" * 50 for i in range(100)]
    chunks = chunk_lines([*lines, "z" * 500], 400)
    assert all(len(c) <= 400 for c in chunks)
    assert "\n".join(chunks[:-1]).split("\n") == lines  # in order, none lost, none cut
    assert chunks[-1] == "z" * 399 + "…"  # a single line over the budget is cut
